"""Hidden facts: when a trainee's question asks for one, and when a customer's reply states it.

A fact counts as uncovered only when the customer's reply states it after a trainee turn that
asked for it (or asked an open question it naturally answers), the way a lead-capture agent
marks a field captured only when the customer gives it. Matching is by keyword and by meaning:
words are stemmed and mapped onto a small car-sales vocabulary of concepts, so "what are you
paying now" asks about a fact labelled "current payment", and "who else is involved" about
"decision maker". Used by the offline customer (which facts to answer with) and by both judges
(which facts a reply revealed), so every path counts a fact the same way.
"""

from __future__ import annotations

import re
from functools import lru_cache

from server.conversation.offline import words
from server.training.spec import HiddenFact

# Concepts a discovery question can be about, each with the words (stemmed on use) that name it.
# A word may name several concepts ("month" is payment and timeline): a question matches a fact
# when they share a concept.
CONCEPTS: dict[str, tuple[str, ...]] = {
    "payment": ("payment", "payments", "pay", "paying", "paid", "monthly", "month", "installment", "note",
                "afford", "affordable", "comfortable"),
    "budget": ("budget", "spend", "spending", "afford", "range", "price", "cost", "money", "max", "maximum",
               "limit", "ceiling", "comfortable", "number", "target", "cap"),
    "trade": ("trade", "trading", "trade-in", "tradein", "current", "currently", "now", "moment", "driving", "drive",
              "own", "owe", "payoff", "paid", "equity", "old", "existing", "appraisal", "mileage", "miles"),
    "timeline": ("timeline", "timeframe", "when", "soon", "sooner", "date", "deadline", "urgent", "hurry", "lease",
                 "ends", "expire", "expires", "by"),
    "decision": ("decision", "decide", "decides", "deciding", "decision-maker", "maker", "else", "involved",
                 "wife", "husband", "spouse", "partner", "family", "parents", "approve", "approval", "sign",
                 "co-sign", "cosigner", "together", "opinion", "say"),
    "usage": ("use", "using", "usage", "drive", "driving", "commute", "commuting", "work", "kids", "family",
              "tow", "towing", "haul", "hauling", "trips", "road", "miles", "mileage", "daily", "weekend",
              "purpose", "used", "mostly"),
    "finance": ("finance", "financing", "financed", "loan", "credit", "score", "bank", "lender", "rate", "apr",
                "interest", "cash", "pre-approved", "preapproved", "approved", "union"),
    "down": ("down", "deposit", "upfront", "cash", "put"),
    "features": ("feature", "features", "must-have", "important", "matters", "priority", "priorities",
                 "looking", "want", "wants", "space", "seats", "seating", "room", "safety",
                 "tech", "awd", "4wd", "color", "colour", "trim"),
    "competitor": ("other", "another", "dealer", "dealership", "store", "shopping", "shopped", "quote",
                   "quotes", "offer", "offers", "elsewhere", "compare", "comparing", "competitor"),
    "concern": ("concern", "concerns", "concerned", "worry", "worried", "worries", "behind", "real", "reason",
                "reasons", "hesitation", "hesitant", "holding", "bothering", "bothers", "nervous", "specifically",
                "unsure", "doubt", "doubts", "really"),
    "ownership": ("keep", "keeping", "long", "years", "own", "ownership", "plan", "planning", "sell"),
    "warranty": ("warranty", "warranties", "coverage", "repair", "repairs", "breakdown", "protection",
                 "service", "maintenance"),
    "insurance": ("insurance", "insured", "gap", "total", "loss", "accident", "deductible"),
    "family": ("kids", "children", "child", "family", "baby", "seat", "seats", "dog", "dogs", "pets"),
}

# Words that make a turn a question even without a question mark (speech is transcribed without one).
_ASKING = re.compile(
    r"^\s*(?:so[, ]+|and[, ]+|now[, ]+|okay[, ]+|ok[, ]+)?(?:what|what's|whats|how|when|who|whose|which|where|"
    r"why|do|does|did|are|is|was|were|have|has|can|could|would|will|tell me|walk me through|help me understand|"
    r"talk me through|mind if i ask|may i ask|can i ask)\b",
    re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_OPEN = re.compile(r"^\s*(?:so[, ]+|and[, ]+|now[, ]+|okay[, ]+)?(?!why (?:don't|not|wouldn't)\b)(?:what|what's|whats|"
                   r"how|why|when|who|whose|where|which|tell me|walk me through|help me understand|talk me through|"
                   r"describe)\b", re.IGNORECASE)
_NUMBER = re.compile(r"\$?\d[\d,]*(?:\.\d+)?k?")


def concepts_of(stems: set[str] | frozenset[str]) -> frozenset[str]:
    """The concepts these stems name."""
    return _concepts(frozenset(stems))


@lru_cache(maxsize=4096)
def _concepts(stems: frozenset[str]) -> frozenset[str]:
    return frozenset(name for name, names in _CONCEPT_STEMS.items() if stems & names)


def _stems(items: tuple[str, ...]) -> frozenset[str]:
    found: set[str] = set()
    for item in items:
        found |= words(item.replace("-", " ")) | words(item)
    return frozenset(found)


# Words the content-word reader drops (short ones like "pay", stop words like "when", "who") still
# name concepts, so each concept also holds its words as written.
_VOCAB = frozenset(w for names in CONCEPTS.values() for w in names)
_CONCEPT_STEMS: dict[str, frozenset[str]] = {name: _stems(names) | frozenset(names) for name, names in CONCEPTS.items()}
# Words in almost every label and question about a car: sharing them says nothing.
_GENERIC = words("car cars vehicle vehicles new one customer customers thing things get buy buying")


def content(text: str) -> frozenset[str]:
    lowered = text.lower()
    raw = {w for w in re.findall(r"[a-z0-9&'-]+", lowered) if w in _VOCAB}
    return frozenset((words(lowered.replace("-", " ")) | words(lowered) | raw) - _GENERIC)


def questions(text: str) -> list[str]:
    """The sentences of `text` that ask something (a question mark, or a question's first words)."""
    found = [s for s in _SENTENCE.split(text.strip()) if s and (s.rstrip().endswith("?") or _ASKING.match(s))]
    return found


def is_question(text: str) -> bool:
    return bool(questions(text))


def is_open_question(text: str) -> bool:
    """An open question (what, how, why, tell me ...), which a customer answers with more than yes or no."""
    return any(_OPEN.match(q) for q in questions(text))


def fact_words(fact: HiddenFact) -> frozenset[str]:
    """What a fact is about, as stems: its label and key (its value only names the answer)."""
    return content(f"{fact.label} {fact.key.replace('_', ' ').replace('-', ' ')}")


def fact_concepts(fact: HiddenFact) -> frozenset[str]:
    return concepts_of(fact_words(fact))


def relevance(fact: HiddenFact, text: str) -> int:
    """How squarely the questions in `text` ask about `fact`: 2 per word shared with its label, 1
    per other word naming one of its concepts ("driving now" is more the trade-in than the usage);
    0 when `text` asks nothing or nothing about it."""
    asked = [content(q) for q in questions(text)]
    if not asked:
        return 0
    mine = fact_words(fact)
    names = frozenset().union(*(_CONCEPT_STEMS[c] for c in concepts_of(mine))) if mine else frozenset()
    return max(2 * len(stems & mine) + len((stems - mine) & names) for stems in asked)


def relevance_any(text: str) -> bool:
    """Whether the questions in `text` are about any concept of the car-sales vocabulary (a
    question on colour or music is not)."""
    return any(concepts_of(content(q)) for q in questions(text))


def asked_about(fact: HiddenFact, text: str) -> bool:
    """Whether a trainee's turn asks for this fact: a question sharing a word or a meaning with it."""
    return relevance(fact, text) > 0


def states(fact: HiddenFact, customer_text: str) -> bool:
    """Whether a customer's reply states the fact: its figures, and most of its words."""
    value = fact.value.lower()
    said = customer_text.lower()
    if not value.strip():
        return False
    if " ".join(value.split()) in " ".join(said.split()):
        return True
    numbers = {n.rstrip(".,").replace(",", "").lstrip("$") for n in _NUMBER.findall(value)}
    said_numbers = {n.rstrip(".,").replace(",", "").lstrip("$") for n in _NUMBER.findall(said)}
    if numbers and not numbers <= said_numbers:
        return False
    wanted = content(value)
    if not wanted:
        return bool(numbers)
    share = len(wanted & content(said)) / len(wanted)
    return share >= (0.5 if numbers else 0.6)


def revealed(facts: list[HiddenFact], trainee_text: str, customer_text: str, already: set[str]) -> list[str]:
    """The keys of the facts (not in `already`) that `customer_text` states in answer to
    `trainee_text`: the trainee asked about the fact, or asked an open question it naturally answers.
    A pitch, a statement or a closed question about something else uncovers nothing."""
    if not is_question(trainee_text):
        return []
    found = []
    for fact in facts:
        if fact.key in already or not states(fact, customer_text):
            continue
        if asked_about(fact, trainee_text) or is_open_question(trainee_text):
            found.append(fact.key)
    return found


def best_asked(facts: list[HiddenFact], text: str, already: set[str], *, limit: int = 2) -> list[HiddenFact]:
    """The facts (not yet revealed) the trainee's turn asks for, most squarely asked first; ties
    in the scenario's order. What the offline customer answers with."""
    scored = [(relevance(fact, text), index, fact) for index, fact in enumerate(facts) if fact.key not in already]
    scored = [item for item in scored if item[0] > 0]
    if not scored:
        return []
    scored.sort(key=lambda item: (-item[0], item[1]))
    # A question answers the fact it is most squarely about; a second only when the turn asks
    # two things ("what are you driving, and do you still owe on it?") and names it by a word.
    two = len(questions(text)) > 1 or bool(re.search(r"\band\b.*\?|\?.*\band\b", text))
    chosen = [scored[0]] + [item for item in scored[1:2] if two and item[0] >= 2]
    return [fact for _, _, fact in chosen[:limit]]
