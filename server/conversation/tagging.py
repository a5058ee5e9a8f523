"""The offline classifier: which techniques a salesperson's turn shows, which objection a
customer's turn raises.

Plain patterns, deterministic and fast enough to run inline on every turn; when a model is
configured, the scorecard's structured call re-tags the whole transcript (`scorecard.py`).
"""

from __future__ import annotations

import re

from server.conversation.taxonomy import Objection, Technique


def _rx(*alternatives: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b", re.IGNORECASE)


_TECHNIQUES: dict[Technique, re.Pattern[str]] = {
    Technique.greeting_rapport: _rx(
        r"hi", r"hello", r"hey", r"good (?:morning|afternoon|evening)", r"welcome", r"nice to meet",
        r"thanks? (?:you )?for (?:coming|stopping|visiting)", r"my name(?:'s| is)", r"how are you",
        r"great to (?:see|meet)", r"glad you"),
    Technique.discovery_question: _rx(
        r"what (?:are|is|do|would|matters|brings|kind|type)", r"what's", r"how (?:will|do|would|often|many|much)",
        r"which", r"tell me (?:about|more)", r"walk me through", r"do you (?:have|need|use|drive|plan)",
        r"are you (?:looking|planning|hoping)", r"who (?:will|else)", r"when do you"),
    Technique.acknowledge_objection: _rx(
        r"i (?:completely |totally |really )?(?:understand|hear you|get (?:it|that))", r"that makes sense",
        r"fair (?:point|enough|question)", r"i appreciate", r"you're right", r"good (?:point|question)",
        r"(?:many|a lot of|other) (?:of our )?(?:customers|people|buyers)", r"felt the same",
        r"i can see why", r"that's a (?:valid|real|reasonable) concern", r"understandable"),
    Technique.value_statement: _rx(
        r"value", r"warrant(?:y|ies)", r"safety", r"reliab\w*", r"resale", r"fuel (?:economy|efficien\w*)",
        r"mpg", r"sav(?:e|es|ing|ings)", r"includ(?:e|es|ed|ing)", r"features?", r"protect\w*",
        r"peace of mind", r"cost of ownership", r"quality", r"certified", r"coverage", r"worth it",
        r"rebates?", r"incentives?", r"lower (?:rate|apr)", r"longer term"),
    # Testing the waters: would they buy if ...?
    Technique.trial_close: _rx(
        r"if (?:we|i) (?:could|can|were able to)", r"would (?:that|this|it) work", r"how does that sound",
        r"does (?:that|this) (?:help|make sense|work)", r"are you comfortable", r"would you be (?:open|willing)",
        r"does that (?:sound|seem) fair", r"would that make",
        r"if (?:the|your) (?:numbers?|price|payment|figures?|terms?) (?:work|worked|made sense|makes? sense|fits?)",
        r"is (?:this|that|it) the one", r"the (?:one|car|truck|suv|vehicle) for you",
        r"(?:want|like) to (?:drive|take) (?:it|this one|her) home",
        r"would you (?:take|buy|go ahead|want to go ahead|be ready|move forward)", r"are we close",
        r"what would it take", r"anything (?:else )?(?:stopping|holding) you", r"on a scale of",
        r"how do you feel about (?:it|this|that|the (?:car|truck|suv|vehicle|numbers?|price|payment))",
        r"can you see yourself"),
    # Asking for the sale, or for a committed next step: a booked follow-up, test drive, deposit.
    Technique.closing_attempt: _rx(
        r"shall we", r"let's (?:get|go|do|write|start|sign|finali[sz]e|wrap|move|book|set|schedule)",
        r"ready to (?:sign|buy|move|go|take)", r"paperwork", r"sign (?:today|here|the)",
        r"(?:take|drive) it home", r"do we have a deal", r"can we (?:move forward|finali[sz]e)",
        r"get you (?:started|signed|into|booked|scheduled)", r"book (?:a|an|you|your|in|the)",
        r"schedul(?:e|ing) (?:a|an|you|your|the)",
        r"set up (?:a|an) (?:time|appointment|call|visit|meeting|test drive|follow[- ]?up)",
        r"(?:make|set|put) (?:an|the) appointment", r"pencil you in", r"put down a deposit",
        r"hold (?:it|the car|the vehicle) for you", r"(?:can|could|shall) (?:i|we) (?:book|schedule|reserve|set up)",
        r"come (?:back|in) (?:on|at|this|next|tomorrow)"),
}

# Most specific first: "my payment with the warranty" is about the F&I products.
_OBJECTIONS: list[tuple[Objection, re.Pattern[str]]] = [
    (Objection.fi_products, _rx(
        r"warrant(?:y|ies)", r"gap", r"extended", r"service contract", r"add[- ]?ons?", r"protection (?:plan|package)",
        r"f&i", r"tire and wheel", r"maintenance plan", r"extras?")),
    (Objection.trade_in, _rx(r"trade[- ]?in", r"trade value", r"my (?:truck|car|vehicle|suv)(?:'s| is) worth",
                             r"for my (?:truck|car|vehicle|suv)", r"appraisal")),
    (Objection.competitor, _rx(r"(?:other|another) (?:dealer\w*|store|place|lot)", r"across town", r"competitor\w*",
                               r"better (?:deal|offer|quote|price) (?:at|from|elsewhere)", r"quote from",
                               r"their (?:offer|quote|price)", r"somewhere else", r"online price")),
    (Objection.spouse, _rx(r"spouse", r"wife", r"husband", r"partner", r"without (?:him|her)",
                           r"talk (?:it over )?(?:to|with) my")),
    (Objection.think_about_it, _rx(r"think (?:about|it over|on it)", r"sleep on it", r"not (?:ready|today|sure yet)",
                                   r"take (?:some|a few|a little) (?:time|days)", r"need (?:some |more )?time",
                                   r"rush\w*", r"not signing")),
    (Objection.monthly_payment, _rx(r"monthly", r"payments?", r"per month", r"a month", r"stretch")),
    (Objection.price, _rx(r"price", r"too (?:expensive|much|high)", r"costs? (?:too|more)", r"overpay\w*",
                          r"sticker", r"cheaper", r"discount", r"out the door", r"that number", r"money")),
]


def techniques(text: str) -> list[Technique]:
    found = [technique for technique, pattern in _TECHNIQUES.items() if pattern.search(text)]
    if Technique.discovery_question in found and "?" not in text:
        found.remove(Technique.discovery_question)
    return found


def objection(text: str) -> Objection | None:
    for kind, pattern in _OBJECTIONS:
        if pattern.search(text):
            return kind
    return None


def user_tags(text: str) -> dict[str, object]:
    return {"techniques": [t.value for t in techniques(text)], "by": "offline"}


def customer_tags(text: str) -> dict[str, object]:
    found = objection(text)
    return {"objection": found.value if found else None, "by": "offline"}
