"""A real customer conversation, pasted by an admin, read into a first draft without a model.

Lines are "Speaker: words" (a line without a speaker continues the previous turn). The customer
is the speaker called customer/client/buyer, or else the one who is not called
salesperson/sales/rep/me..., or else the one raising more objections. From the customer's turns
come the objections raised (in order, by the taxonomy's words), the facts they stated (first
person, with a number, a family member, a vehicle, a need: the hidden facts a trainee has to
draw out), the vehicle, the trade-in and the budget.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from server.errors import ValidationFailed
from server.training.builder.collected import FactIn
from server.training.builder.extract_offline import FIRST_TIME_YES, age_of, named_objections
from server.training.builder.facts import label_of
from server.training.builder.vehicles import money, vehicles

_SPEAKER = re.compile(r"^\s*\[?(?:\d{1,2}:\d{2}(?::\d{2})?\]?\s*)?([A-Za-z][A-Za-z .'&-]{0,40}?)\s*[:>]\s+(.*)$")
_SALES = {"salesperson", "sales", "salesman", "saleswoman", "rep", "sales rep", "agent", "me", "associate",
          "advisor", "consultant", "dealer", "seller", "staff", "sp", "s", "employee", "manager", "f&i manager",
          "finance manager", "trainee"}
_CUSTOMER = {"customer", "client", "buyer", "prospect", "guest", "c", "cust", "caller", "shopper"}
_FACT_CUE = re.compile(r"\b(?:i|i'm|i've|i'd|my|we|we're|we've|our)\b", re.IGNORECASE)
# A salesperson's question that makes the vehicle in the answer the customer's current one.
_ASKS_CURRENT = re.compile(r"driving (?:now|today|currently)|what do you drive|trad(?:e|ing)|current (?:car|vehicle)|"
                           r"currently (?:drive|own|have)", re.IGNORECASE)
_SPECIFIC = re.compile(r"\d|\$|\b(?:wife|husband|kids?|children|son|daughter|job|work|commute|credit|lease|loan|"
                       r"owe|quote|offer|budget|payment|miles|moving|baby|family|retired|school)\b", re.IGNORECASE)
_NAME_SAID = re.compile(r"\b(?i:i'm|i am|my name is|this is|name's)\s+([A-Z][a-z'-]+)\b")
_BUDGET_WORDS = re.compile(r"\b(?:budget|afford|spend|under|max|keep|payment)\b", re.IGNORECASE)
_NOT_A_NAME = {"just", "looking", "here", "not", "sure", "interested", "thinking", "trying", "going", "so", "a",
               "the", "only", "still", "really", "ready", "fine", "good", "okay", "on", "in", "paying"}


@dataclass(frozen=True)
class Turn:
    speaker: str
    text: str


def turns(transcript: str) -> list[Turn]:
    found: list[Turn] = []
    for line in transcript.splitlines():
        if not line.strip():
            continue
        match = _SPEAKER.match(line)
        if match is not None:
            found.append(Turn(match.group(1).strip(), match.group(2).strip()))
        elif found:
            found[-1] = Turn(found[-1].speaker, f"{found[-1].text} {line.strip()}")
    return found


def customer_of(found: list[Turn]) -> str:
    speakers = list(dict.fromkeys(t.speaker for t in found))
    if len(speakers) < 2:
        raise _unreadable()
    for speaker in speakers:
        if speaker.lower() in _CUSTOMER:
            return speaker
    others = [s for s in speakers if s.lower() not in _SALES]
    if len(others) == 1:
        return others[0]
    # Two named people: the customer is the one who objects more; on a tie, the one who did not
    # open (the salesperson usually greets first).
    raised = {s: sum(len(named_objections(t.text)) for t in found if t.speaker == s) for s in speakers}
    return max(speakers, key=lambda s: (raised[s], s != found[0].speaker))


def read(transcript: str) -> dict[str, Any]:
    """The fields a transcript gives (as `Collected` takes them)."""
    found = turns(transcript)
    customer = customer_of(found)
    theirs = [t.text for t in found if t.speaker == customer]
    if not theirs:
        raise _unreadable()
    fields: dict[str, Any] = {}
    name = customer if customer.lower() not in _CUSTOMER and customer.lower() not in _SALES else None
    for text in theirs:
        if name is None and (said := _NAME_SAID.search(text)) is not None and said.group(1).lower() not in _NOT_A_NAME:
            name = said.group(1)
    if name is not None:
        fields["name"] = name.split()[0] if len(name) > 40 else name
    objections = []
    for text in theirs:
        objections += [o for o in named_objections(text) if o not in objections]
    fields["objections"] = objections[:7]
    vehicle, trade_in = _vehicles(found, customer)
    if vehicle is not None:
        fields["vehicle"] = vehicle
    if trade_in is not None:
        fields["trade_in"] = trade_in
    mine = " ".join(theirs)
    if (budget := _budget(theirs)) is not None:
        fields["budget"] = budget
    if (years := age_of(mine)) is not None:
        fields["age"] = years
    if FIRST_TIME_YES.search(mine) or re.search(r"\bfirst (?:car|time buying)\b", mine, re.IGNORECASE):
        fields["first_time_buyer"] = True
    fields["hidden_facts"] = facts(theirs, vehicle)
    fields["difficulty"] = "hard" if len(objections) >= 3 else "medium" if len(objections) == 2 else "easy"
    return fields


def _vehicles(found: list[Turn], customer: str) -> tuple[str | None, str | None]:
    """The vehicle wanted and the trade-in: the customer's words first (an answer to "what are you
    driving now?" names the trade-in), then the salesperson's."""
    wanted: str | None = None
    trade: str | None = None
    for index, turn in enumerate(found):
        if turn.speaker != customer:
            continue
        want, current = vehicles(turn.text)
        asked = found[index - 1].text if index > 0 and found[index - 1].speaker != customer else ""
        if want is not None and current is None and _ASKS_CURRENT.search(asked):
            want, current = None, want
        wanted, trade = wanted or want, trade or current
    if wanted is None:
        wanted = vehicles(" ".join(t.text for t in found if t.speaker != customer))[0]
    return wanted, trade


def facts(theirs: list[str], vehicle: str | None = None) -> list[FactIn]:
    """What the customer stated about themselves, in their own words: first person, with
    something specific in it; not an objection (those are the scenario's objections), not a
    question, not only the vehicle they came for."""
    found: list[FactIn] = []
    seen: set[str] = set()
    for text in theirs:
        for sentence in re.split(r"(?<=[.!?])\s+", text):
            sentence = sentence.strip()
            if not sentence or sentence.endswith("?") or not _FACT_CUE.search(sentence) \
                    or not _SPECIFIC.search(sentence) or len(sentence.split()) < 4 \
                    or named_objections(sentence) or (vehicle and vehicle in " ".join(_plain(sentence))):
                continue
            key = sentence.lower()
            if key in seen:
                continue
            seen.add(key)
            found.append(FactIn(label=label_of(sentence)[:200], value=sentence[:2000]))
    return found[:8]


def _plain(sentence: str) -> list[str]:
    return [v for v in vehicles(sentence) if v is not None]


def _budget(theirs: list[str]) -> str | None:
    for text in theirs:
        amounts = money(text)
        if not amounts:
            continue
        cued = _BUDGET_WORDS.search(text) is not None
        for _, amount, monthly in amounts:
            if monthly or cued:
                return f"{amount} a month" if monthly else amount
    return None


def _unreadable() -> ValidationFailed:
    return ValidationFailed(
        "The transcript needs two speakers, each line starting with who is speaking "
        "(for example \"Customer: ...\" and \"Salesperson: ...\").",
        details=[{"field": "source_transcript", "location": "body", "message": "label each line with its speaker",
                  "type": "transcript_unreadable"}])
