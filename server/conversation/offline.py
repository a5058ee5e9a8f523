"""The offline conversation engine, used when no model is configured. Deterministic.

Training: Adam answers from the retrieved passages (the sentences that best match the
question, each cited), falling back to a short playbook for the objection the question is about.
Role-play: the customer follows their persona's objections in order, letting go of one only
when the salesperson handles it (how well depends on the persona's difficulty), and agrees
once every objection is handled and the salesperson asks for the sale.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from server.conversation import tagging
from server.conversation.grounding import Passage
from server.conversation.personas import PersonaView
from server.conversation.taxonomy import Objection, Technique

MODEL_NAME = "offline"
_WORD = re.compile(r"[a-z0-9&']+")
_STOP_WORDS = (
    "a an and are as at be but by can do does for from have how i if in is it its me my of on or our so that the "
    "their them they this to was we what when which who why will with you your customer customers says said say tell"
)
_STOP = frozenset(_STOP_WORDS.split())


@cache
def playbook() -> dict[str, Any]:
    text = resources.files("server.conversation").joinpath("playbook.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 2}


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", " ".join(text.split())) if len(s.strip()) > 20]


def training_answer(question: str, passages: list[Passage], *, spoken: bool = False) -> str:
    topic = tagging.objection(question)
    steps: list[str] = playbook()["coaching"][topic.value if topic else "generic"]
    wanted = words(question)
    scored: list[tuple[int, int, str, Passage]] = []
    for rank, passage in enumerate(passages):
        for sentence in _sentences(passage.text):
            overlap = len(wanted & words(sentence))
            if overlap:
                scored.append((-overlap, rank, sentence, passage))
    best = sorted(scored, key=lambda item: (item[0], item[1]))[:3]
    if spoken:
        # Heard, not read: two sentences, no lists; sources are shown next to the transcript.
        if not best:
            return f"I couldn't find that in your dealership's documents. In general: {steps[0]}"
        return f"Your {best[0][3].filename} says: {best[0][2]} On the floor: {steps[0]}"
    if not best:
        lines = ["I couldn't find this in your dealership's documents, so here is how I'd handle it in general:"]
        lines += [f"{n}. {step}" for n, step in enumerate(steps, 1)]
        return "\n".join(lines)
    lines = ["Here's what your dealership's material says, and how I'd use it:"]
    lines += [f"- {sentence} [{passage.citation}]" for _, _, sentence, passage in best]
    lines.append(f"On the floor: {steps[0]}")
    return "\n".join(lines)


@dataclass
class CustomerState:
    raised: list[Objection]
    resolved: set[Objection]
    pushes: int  # times the current objection has been voiced

    @property
    def current(self) -> Objection | None:
        open_ = [o for o in self.raised if o not in self.resolved]
        return open_[-1] if open_ else None


def customer_state(history: list[tuple[str, str, dict[str, Any]]]) -> CustomerState:
    """Replays the session: customer turns carry their objection tag, salesperson turns their techniques."""
    state = CustomerState([], set(), 0)
    for role, _text, tags in history:
        if role != "assistant":
            continue
        value = tags.get("objection")
        resolved = tags.get("resolved")
        if resolved:
            state.resolved.add(Objection(resolved))
        if value:
            objection = Objection(value)
            if objection not in state.raised:
                state.raised.append(objection)
                state.pushes = 0
            state.pushes += 1
    return state


def _handled(persona: PersonaView, shown: set[Technique], pushes: int) -> bool:
    empathy = Technique.acknowledge_objection in shown
    value = bool(shown & {Technique.value_statement, Technique.trial_close})
    if persona.difficulty == "easy":
        return empathy or value
    if persona.difficulty == "medium":
        return (empathy and value) or (pushes >= 2 and (empathy or value))
    return empathy and value and pushes >= 2


def _line(persona: PersonaView, objection: Objection, push: int) -> str:
    lines = persona.lines.get(objection) or playbook()["customer"][objection.value]
    return str(lines[min(push, len(lines) - 1)])


def customer_reply(persona: PersonaView, history: list[tuple[str, str, dict[str, Any]]],
                   user_text: str) -> tuple[str, dict[str, Any]]:
    """The customer's next line and its tags ({"objection": ..., "resolved": ...})."""
    shown = set(tagging.techniques(user_text))
    state = customer_state(history)
    customer_turns = sum(1 for role, _, _ in history if role == "assistant")
    tags: dict[str, Any] = {"objection": None, "resolved": None, "by": "offline"}
    parts: list[str] = []
    if customer_turns == 0:
        parts.append(persona.opening_line or f"Hi, I'm {persona.name}. I'm interested in {persona.vehicle}.")
        return " ".join(parts), tags
    current = state.current
    if current is not None:
        if not _handled(persona, shown, state.pushes):
            tags["objection"] = current.value
            return _line(persona, current, state.pushes), tags
        tags["resolved"] = current.value
        state.resolved.add(current)
        parts.append(persona.agree_line or "Okay, that helps.")
    elif Technique.discovery_question in shown and not state.raised:
        parts.append(f"I'm looking at {persona.vehicle or 'something reliable'}"
                     + (f", and my budget is {persona.budget}." if persona.budget else "."))
    upcoming = [o for o in persona.objections if o not in state.raised and o not in state.resolved]
    if upcoming:
        tags["objection"] = upcoming[0].value
        parts.append(_line(persona, upcoming[0], 0))
    elif shown & {Technique.closing_attempt, Technique.trial_close}:
        parts.append("Alright, let's do it. What do you need from me to get started?")
    elif not parts:
        parts.append("That all sounds good. So what would the next step be?")
    return " ".join(parts), tags


def chunks(text: str, size: int = 3) -> list[str]:
    """Split an offline answer into word groups, streamed like a model's tokens."""
    pieces = re.findall(r"\S+\s*", text)
    return ["".join(pieces[i:i + size]) for i in range(0, len(pieces), size)] or [text]
