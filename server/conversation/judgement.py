"""The offline judgement of a role-play: one reading of the tagged transcript, from which the
scorecard's scores, evidence, summary and objection lists are all derived, so they agree.

Per objection the customer raised: whether the salesperson answered it (acknowledged it, built
value, trial-closed) and whether it was resolved: the customer let it go (tagged `resolved` by
the offline customer, or answered and not raised again in the customer's next turn); raising it
again reopens it. Per technique: the salesperson's lines that showed it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from server.conversation import tagging
from server.conversation.models import ConversationMessage, MessageRole
from server.conversation.taxonomy import DIMENSION_TECHNIQUES, OBJECTION_NAMES, Dimension, Objection, Technique

# What counts as answering an objection the customer is pressing.
ANSWERS = frozenset({Technique.acknowledge_objection, Technique.value_statement, Technique.trial_close})
STRENGTH = 4  # a dimension scored this or more is a strength; 2 or less, something to work on
_TECHNIQUES = frozenset(t.value for t in Technique)


@dataclass(frozen=True, slots=True)
class Line:
    """A salesperson's turn as evidence: its id and the sentence in it that shows the technique."""
    message_id: str
    quote: str


@dataclass(frozen=True, slots=True)
class Turn:
    message_id: str
    text: str
    shown: frozenset[Technique]

    def line(self, wanted: set[Technique]) -> Line:
        return Line(self.message_id, _quote(self.text, wanted))


@dataclass(slots=True)
class Outcome:
    objection: str
    resolved: bool = False
    acknowledged: bool = False
    valued: bool = False
    answer: Line | None = None  # the answer that resolved it, else the first attempt
    pending: Line | None = None  # the answer since the customer last raised it

    @property
    def points(self) -> int:
        """5: resolved with empathy and value; 4: resolved; 2: answered, still open; 1: ignored."""
        if self.resolved:
            return 5 if self.acknowledged and self.valued else 4
        return 2 if self.answer is not None else 1


@dataclass(slots=True)
class Judgement:
    turns: list[Turn] = field(default_factory=list)  # the salesperson's
    outcomes: dict[str, Outcome] = field(default_factory=dict)  # by objection, in the order raised

    @property
    def raised(self) -> list[str]:
        return list(self.outcomes)

    @property
    def resolved(self) -> list[str]:
        return [o.objection for o in self.outcomes.values() if o.resolved]

    def scores(self) -> list[dict[str, Any]]:
        """Per dimension: 1 with no evidence, else 2 plus the turns showing it (at most 5);
        objection handling, when the customer raised any, is the mean of their outcomes, below a
        strength while any is open."""
        result = []
        for dimension, techniques in DIMENSION_TECHNIQUES.items():
            wanted = set(techniques)
            showing = [turn for turn in self.turns if turn.shown & wanted]
            score = 1 if not showing else min(5, 2 + len(showing))
            evidence = showing[0].line(wanted) if showing else None
            if dimension is Dimension.objection_handling and self.outcomes:
                points = [o.points for o in self.outcomes.values()]
                score = int(sum(points) / len(points) + 0.5)  # (half up: 4.5 is a 5)
                if not all(o.resolved for o in self.outcomes.values()):
                    score = min(score, STRENGTH - 1)  # an objection left open is never a strength
                answered = [o for o in self.outcomes.values() if o.answer is not None]
                evidence = next((o.answer for o in answered if o.resolved), answered[0].answer if answered else None)
            result.append({"dimension": dimension.value, "score": score,
                           "evidence": evidence.quote if evidence else "",
                           "message_id": evidence.message_id if evidence else None})
        return result


def judge(messages: list[ConversationMessage], tags: dict[uuid.UUID, dict[str, Any]]) -> Judgement:
    result = Judgement()
    pressing: list[str] = []  # open objections, the one the customer raised last at the end
    for message in messages:
        tag = tags.get(message.id, {})
        if message.role is MessageRole.assistant:
            _customer_turn(result, pressing, tag)
            continue
        shown = frozenset(Technique(t) for t in tag.get("techniques", []) if t in _TECHNIQUES)
        turn = Turn(str(message.id), message.text, shown)
        result.turns.append(turn)
        if pressing and shown & ANSWERS:
            outcome = result.outcomes[pressing[-1]]
            line = turn.line(set(shown & ANSWERS))
            outcome.pending = line
            outcome.answer = outcome.answer or line
            outcome.acknowledged |= Technique.acknowledge_objection in shown
            outcome.valued |= bool(shown & {Technique.value_statement, Technique.trial_close})
    return result


def _customer_turn(result: Judgement, pressing: list[str], tag: dict[str, Any]) -> None:
    raised = tag.get("objection")
    for outcome in result.outcomes.values():
        let_go = outcome.objection == tag.get("resolved") or (
            outcome.pending is not None and outcome.objection != raised)
        if let_go and not outcome.resolved and outcome.objection != raised:
            outcome.resolved = True
            outcome.answer = outcome.pending or outcome.answer  # the answer that did it
            if outcome.objection in pressing:
                pressing.remove(outcome.objection)
    if raised is not None:
        outcome = result.outcomes.setdefault(raised, Outcome(raised))
        outcome.resolved, outcome.pending = False, None  # raised (again): open until answered
        if raised in pressing:
            pressing.remove(raised)
        pressing.append(raised)


def _quote(text: str, wanted: set[Technique]) -> str:
    """The first sentence of the turn that shows one of `wanted` (else its first sentence)."""
    sentences = re.split(r"(?<=[.!?])\s+", text.strip())
    return next((s for s in sentences if set(tagging.techniques(s)) & wanted), sentences[0])


def summary(scores: list[dict[str, Any]], raised: list[str], resolved: list[str]) -> str:
    """Strengths, what to work on and the objections, from the scores and lists shown beside it."""
    def names(items: list[str]) -> str:
        return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]

    def label(dimension: str) -> str:
        return dimension.replace("_", " ")

    strengths = [label(s["dimension"]) for s in sorted(scores, key=lambda s: -s["score"]) if s["score"] >= STRENGTH]
    weak = sorted((s for s in scores if s["score"] <= 2), key=lambda s: s["score"])  # (stable: ties in order)
    lowest = min((s["score"] for s in scores), default=STRENGTH)
    if not weak and lowest < STRENGTH:  # nothing poor: the next step up is whatever is merely fair
        weak = [s for s in scores if s["score"] == lowest]
    parts = [f"Strongest: {names(strengths)}." if strengths else "No strong area yet."]
    if weak:
        parts.append(f"Work on {names([label(s['dimension']) for s in weak])}.")
    settled = [_objection_name(o) for o in raised if o in resolved]
    open_ = [_objection_name(o) for o in raised if o not in resolved]
    if settled:
        parts.append(f"You resolved the customer's {names(settled)} objection{'s' if len(settled) > 1 else ''}.")
    if open_:
        parts.append(f"The {names(open_)} objection{'s were' if len(open_) > 1 else ' was'} left open.")
    return " ".join(parts)


def _objection_name(value: str) -> str:
    try:
        return OBJECTION_NAMES[Objection(value)]
    except ValueError:
        return value.replace("_", " ")
