"""Finer signals in a trainee's turn than the five techniques of `conversation/tagging.py`: what a
rubric criterion needs to see (exploring a concern, confirming it is resolved, summarising what
the customer said, presenting F&I products as optional, disclosing a payment).

Plain patterns, deterministic, read per sentence so a criterion can quote the sentence that
shows it. The techniques themselves stay in `tagging.py` (the scorecard and the model's tagging
schema share them); these extend them for scenario rubrics only.
"""

from __future__ import annotations

import re
from enum import StrEnum

from server.conversation import tagging
from server.conversation.taxonomy import Technique


def _rx(*alternatives: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b", re.IGNORECASE)


class Signal(StrEnum):
    explore = "explore"  # a question clarifying the customer's concern (LAER's E)
    confirm = "confirm"  # asks whether the concern is settled (LAER's second check)
    summarise = "summarise"  # plays back what the customer said
    optional = "optional"  # presents products as the customer's choice
    payment_figure = "payment_figure"  # states a monthly payment figure
    pressure = "pressure"  # pushes: "today only", "you have to", "everyone buys it"
    dismiss = "dismiss"  # brushes the concern off: "don't worry about that", "that's just how it is"


_PATTERNS: dict[Signal, re.Pattern[str]] = {
    Signal.explore: _rx(
        r"what(?:'s| is) (?:behind|driving|making you|holding you|your (?:main |biggest |real )?(?:concern|worry|"
        r"hesitation))", r"what (?:concerns|worries|bothers) you", r"what (?:specifically|exactly|part|about)",
        r"what (?:are|were) you (?:comparing|expecting|hoping|thinking)", r"what did you have in mind",
        r"what (?:number|payment|price|figure|amount) (?:did|do|were|are|would) you", r"compared (?:to|with) what",
        r"(?:can|could) you tell me (?:more|what|why|a bit)", r"tell me more", r"help me understand",
        r"walk me through", r"(?:say|tell me) more about", r"what (?:would|do) you need to (?:see|feel|know)",
        r"is it the (?:price|payment|car|vehicle|trade|number|monthly|rate|term)",
        r"is (?:that|it) (?:the only|your only|the main|your main)", r"other than (?:that|the)",
        r"where (?:did|does) (?:that|the|this) (?:number|figure|quote|price|offer) come from",
        r"may i ask (?:what|why|where|which|how)", r"mind if i ask",
        r"what (?:would|will) (?:they|he|she) (?:want|need|care|ask|look)",
        r"what (?:does|did|do) (?:the|their|that) (?:offer|quote|other)",
        r"how (?:long|did) you (?:plan|come|get|arrive)", r"which (?:part|bit|products?|one)",
        r"what(?:'s| is) the (?:main|biggest|real) (?:thing|concern|worry|issue)",
        r"what(?:'s| is) important to you", r"why (?:is|does) that", r"how (?:so|come)",
        r"(?:do|did) you have (?:the|their|that) (?:quote|offer|number)", r"(?:can|could|may) i see (?:the|their|that)",
        r"is (?:it|that) (?:more|mostly) (?:the|about)"),
    Signal.confirm: _rx(
        r"does (?:that|this) (?:help|address|answer|solve|resolve|settle|ease|take care of|put your mind|clear)",
        r"(?:have|did) i (?:answered|addressed|covered|resolved|cleared)", r"is (?:that|it|the \w+) still (?:a|an) ",
        r"(?:is|are) (?:that|those|the \w+) (?:concern|worry|worries|issue)s? (?:settled|resolved|gone|answered)",
        r"how do you feel (?:about (?:it|that|the \w+) )?now", r"are you (?:more )?comfortable (?:with|now)",
        r"does that (?:make|sound) (?:more )?(?:sense|fair|better|right)", r"anything else (?:holding|stopping|"
        r"worrying|on your mind|you(?:'d| would) like)", r"did that (?:help|answer)", r"feel better about",
        r"put your mind at ease", r"any other (?:questions|concerns)", r"is that fair", r"does that work for you",
        r"are we (?:good|okay|ok) (?:on|with) (?:that|the)"),
    Signal.summarise: _rx(
        r"so (?:if i(?:'m| am)? (?:understand|hearing)|what i(?:'m| am) hearing|you(?:'re| are) (?:looking|saying|"
        r"after|hoping)|you need|it sounds like|to recap|to sum up|let me make sure)",
        r"(?:if i (?:understand|heard) (?:you|that|correctly|right))", r"let me (?:make sure|recap|sum up|play "
        r"(?:that|it) back|summari[sz]e)", r"to (?:recap|sum up|summari[sz]e)", r"just to (?:confirm|check|make sure)",
        r"what i(?:'m| am) hearing", r"sounds like you(?:'re| are| need| want)", r"you mentioned",
        r"you said", r"so (?:you(?:'d| would) like|you (?:want|need)|the (?:main|key) things? (?:is|are))",
        r"in summary"),
    Signal.optional: _rx(
        r"optional", r"your (?:choice|call|decision)", r"(?:entirely |completely |totally )?up to you",
        r"(?:you can|feel free to|free to) (?:decline|say no|pass|skip|choose|pick)", r"not (?:required|mandatory)",
        r"(?:no|isn't|is not|not a) (?:requirement|obligation)", r"which (?:ones?|of these|if any)",
        r"if any", r"pick (?:and choose|what|which)", r"(?:accept|decline) (?:each|any|or decline)",
        r"none of (?:them|these) (?:are|is) required", r"you decide"),
    Signal.payment_figure: re.compile(
        r"(?:\$\s?\d[\d,]*(?:\.\d+)?|\b\d[\d,]*(?:\.\d+)? dollars)\s*(?:(?:a|per|/|each)\s*(?:month|mo)\b|monthly)|"
        r"\b(?:payment|payments)\b[^.?!]{0,40}?(?:\$\s?\d|\b\d{3,4}\b)|\bmonthly\b[^.?!]{0,30}?\$\s?\d|"
        r"\b(?:an? |about |around )?(?:extra |additional )?\$\s?\d[\d,]*(?:\.\d+)? (?:a|per) (?:day|week)\b",
        re.IGNORECASE),
    Signal.pressure: _rx(
        r"today only", r"(?:you )?(?:have|need|got) to (?:buy|sign|take|decide|get) (?:it|this|today|now)",
        r"everyone (?:buys|gets|takes)", r"won't last", r"last chance", r"(?:sign|decide) (?:right )?now",
        r"you(?:'d| would) be (?:crazy|foolish|silly)", r"(?:it's|it is) (?:required|mandatory)",
        r"you can't (?:leave|go|walk) without", r"take it or leave it", r"trust me"),
    Signal.dismiss: _rx(
        r"don't worry about (?:that|it|the)", r"that's (?:just )?how it (?:is|works)", r"(?:you're|you are) wrong",
        r"that doesn't matter", r"forget (?:about )?(?:that|the other)",
        r"no(?:body|one) (?:pays|gets) that", r"that(?:'s| is) (?:not|n't) (?:true|right|possible)", r"calm down",
        r"(?:it's|that's) not a big deal"),
}

_SENTENCE = re.compile(r"(?<=[.!?])\s+")

# F&I products by kind, so "every product" can count which were presented.
PRODUCTS: dict[str, re.Pattern[str]] = {
    "service_contract": _rx(r"(?:extended )?(?:service contract|warranty|warranties|vehicle service)"),
    "gap": _rx(r"gap"),
    "tire_wheel": _rx(r"tire (?:and|&) wheel", r"tire protection", r"wheel protection"),
    "maintenance": _rx(r"(?:pre-?paid )?maintenance (?:plan|package|program)", r"prepaid maintenance"),
    "appearance": _rx(r"(?:paint|appearance|interior|exterior|fabric) protection", r"key (?:replacement|protection)",
                      r"theft (?:protection|deterrent)", r"etch(?:ing)?", r"dent (?:repair|protection)",
                      r"windshield (?:protection|repair)"),
}


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.split(text.strip()) if s]


def signals(text: str) -> set[Signal]:
    found = {signal for signal, pattern in _PATTERNS.items() if pattern.search(text)}
    # Exploring is asking: a statement with "tell me more" in it is not a question to the customer
    # unless it asks ("Tell me more about that." counts; spoken questions lose their "?").
    return found


def showing(text: str, signal: Signal) -> str | None:
    """The first sentence of `text` showing `signal`, verbatim, or None."""
    pattern = _PATTERNS[signal]
    return next((s for s in sentences(text) if pattern.search(s)), None)


def showing_technique(text: str, technique: Technique) -> str | None:
    """The first sentence of `text` showing `technique` (as the offline tagger reads it), or None."""
    for sentence in sentences(text):
        if technique in tagging.techniques(sentence):
            return sentence
    # A discovery question split across sentences ("What brings you in. Today?") still shows in the turn.
    return text.strip() if technique in tagging.techniques(text) else None


def products(text: str) -> set[str]:
    return {kind for kind, pattern in PRODUCTS.items() if pattern.search(text)}
