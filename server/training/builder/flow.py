"""One answer in, the next question out.

The active state (`BuilderState`) holds what has been gathered, the stage, the question waiting
for an answer and the chat so far. A `Reader` turns an answer into field updates (rules offline,
the model online); `answer` applies them the same way for both: the current stage is settled
when its fields are known (the next unknown stage is asked), an answer that gave nothing is
asked again more narrowly, and a correction of an earlier field is applied and said back.
"""

from __future__ import annotations

import logging
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field, ValidationError

from server.conversation.taxonomy import OBJECTION_NAMES, Objection
from server.training.builder.collected import Collected, default_goal, default_rubric
from server.training.builder.extract_offline import STAGE_FIELDS, Reading
from server.training.builder.stages import Stage, known, next_stage, question

log = logging.getLogger(__name__)
MAX_MESSAGES = 200  # the chat kept with the state; older lines are dropped (the fields stay)
READY = "The draft is ready: complete it to see the persona and scenario, then save them. " \
        "Or tell me anything else to change."

_LABELS = {"name": "name", "age": "age", "first_time_buyer": "first-time buyer", "customer_notes": "about them",
           "vehicle": "vehicle", "trade_in": "trade-in", "budget": "budget", "situation": "situation",
           "objections": "objections", "difficulty": "difficulty", "tone": "tone", "hidden_facts": "hidden facts",
           "goal": "goal", "rubric_id": "rubric", "pass_score": "pass mark", "time_limit_s": "time limit",
           "title": "title"}


class Message(BaseModel):
    role: Literal["builder", "admin"]
    text: str


class BuilderState(BaseModel):
    kind: str = "scenario"
    revision: int = 0
    stage: Stage
    question: str
    collected: Collected = Field(default_factory=Collected)
    attempts: int = 0  # unclear answers in a row at this stage
    done: bool = False  # the admin accepted the draft at review
    messages: list[Message] = Field(default_factory=list)


class Reader(Protocol):
    async def read(self, text: str, state: BuilderState) -> Reading: ...


def start(kind: str, fields: dict[str, Any] | None = None) -> BuilderState:
    collected = merge(Collected(), fields or {})
    stage = next_stage(collected)
    asked = question(stage, collected)
    if fields:
        asked = "I drafted what I could from the conversation (see what I gathered). " + asked
    return BuilderState(kind=kind, stage=stage, question=asked, collected=collected,
                        messages=[Message(role="builder", text=asked)])


async def answer(state: BuilderState, text: str, reader: Reader) -> BuilderState:
    reading = await reader.read(text, state)
    stage = state.stage
    before = state.collected
    updates = dict(reading.updates)
    if reading.skip:
        updates.update(_defaults(stage, before))
    collected = merge(before, updates)
    changed = [k for k in updates if getattr(collected, k) != getattr(before, k)]
    done, attempts = False, 0
    if stage is Stage.review:
        if reading.confirmed and not changed:
            done, asked = True, READY
        elif changed:
            asked = _said_back(changed, collected) + question(Stage.review, collected)
        else:
            asked = question(Stage.review, collected, again=True)
    elif known(stage, collected):
        stage = next_stage(collected)
        elsewhere = [k for k in changed if k not in STAGE_FIELDS[state.stage]]
        asked = _said_back(elsewhere, collected) + question(stage, collected)
    elif changed:
        asked = _said_back(changed, collected) + question(stage, collected)
    else:
        attempts = state.attempts + 1
        asked = question(stage, collected, again=True)
    messages = [*state.messages, Message(role="admin", text=text), Message(role="builder", text=asked)]
    return state.model_copy(update={
        "revision": state.revision + 1, "stage": stage, "question": asked, "collected": collected,
        "attempts": attempts, "done": done, "messages": messages[-MAX_MESSAGES:]})


def merge(collected: Collected, updates: dict[str, Any]) -> Collected:
    """`collected` with each update that is valid for its field; an invalid one (a model's age of
    7, a title over 200 characters) is dropped and the field keeps its value."""
    result = collected
    for key, value in updates.items():
        if key not in Collected.model_fields:
            continue
        try:
            result = Collected.model_validate({**result.model_dump(), key: value})
        except ValidationError:
            log.info("builder update dropped", extra={"field": key})
    return result


def _defaults(stage: Stage, collected: Collected) -> dict[str, Any]:
    """What "skip" settles a stage with (a customer needs a name: never skipped)."""
    match stage:
        case Stage.vehicle:
            return {"situation": ""}
        case Stage.objections:
            return {"objections": []}
        case Stage.difficulty:
            return {"difficulty": "medium"}
        case Stage.hidden_facts:
            return {"hidden_facts": []}
        case Stage.goal:
            return {"goal": default_goal(collected), "rubric_id": collected.rubric_id or default_rubric(collected)}
        case _:
            return {}


def _said_back(fields: list[str], collected: Collected) -> str:
    if not fields:
        return ""
    parts = []
    for key in fields:
        value = getattr(collected, key)
        if isinstance(value, bool):
            shown = "yes" if value else "no"
        elif isinstance(value, list):
            shown = ", ".join(OBJECTION_NAMES[v] if isinstance(v, Objection) else str(getattr(v, "label", v))
                              for v in value) or "none"
        else:
            shown = str(value) if value is not None else "none"
        parts.append(f"{_LABELS.get(key, key)}: {shown}")
    return "Changed " + "; ".join(parts) + ". "
