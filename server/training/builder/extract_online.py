"""Reading an admin's answer (or a pasted conversation) with the model: one structured call.

The model gets the question asked, what has been gathered and the answer, and returns every
field in a strict JSON schema (null for what the answer does not give or change), the same
`Reading` the offline rules give; `flow.answer` applies it the same way. A failed or malformed
call falls back to the rules for that answer, so the builder never stops on a provider fault.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from server.conversation.llm import LLM, LLMError
from server.conversation.scorecard import strict_schema  # OpenAI's strict mode, as the scorecard uses it
from server.conversation.taxonomy import OBJECTION_LABELS, Objection
from server.training.builder import extract_offline, transcript
from server.training.builder.collected import RUBRICS
from server.training.builder.extract_offline import Reading
from server.training.builder.flow import BuilderState

log = logging.getLogger(__name__)

RubricId = Literal["laer-objections", "needs-analysis", "fi-menu", "general-sales"]


class _Fact(BaseModel):
    label: str
    value: str


class _Answer(BaseModel):
    name: str | None
    age: int | None
    first_time_buyer: bool | None
    customer_notes: str | None
    vehicle: str | None
    trade_in: str | None
    budget: str | None
    situation: str | None
    objections: list[Objection] | None
    difficulty: Literal["easy", "medium", "hard"] | None
    tone: str | None
    hidden_facts: list[_Fact] | None
    goal: str | None
    rubric_id: RubricId | None
    pass_score: int | None
    time_limit_s: int | None
    title: str | None
    skip: bool
    confirmed: bool


SCHEMA = strict_schema(_Answer.model_json_schema())
_FIELDS = [name for name in _Answer.model_fields if name not in {"skip", "confirmed"}]

_OBJECTIONS = ", ".join(f"{o.value} = {label}" for o, label in OBJECTION_LABELS.items())
_RUBRIC_NAMES = ", ".join(f"{k} = {v}" for k, v in RUBRICS.items())
_RULES = f"""You help a car dealership manager write a sales role-play scenario: a customer (persona), the
situation, the objections the customer raises, how tough they are, facts the customer reveals
only when asked well, and what the trainee must achieve.
Fields: name, age, first_time_buyer, customer_notes (job, family, other context), vehicle (what
they want), trade_in, budget (e.g. "$450 a month" or "$30,000"), situation (one or two sentences,
consistent with the other fields), objections (from: {_OBJECTIONS}),
difficulty (easy|medium|hard), tone, hidden_facts (label: what it is about; value: what the
customer says when it comes out, first person), goal, rubric_id ({_RUBRIC_NAMES}),
pass_score (0-100), time_limit_s, title."""

_ANSWER_PROMPT = _RULES + """
You get the last few lines of the chat, the question the manager was just asked, what has been
gathered so far, and the manager's answer. Return the fields the answer gives or changes, and
null for every other field. The manager may correct any earlier field in plain words
("actually make her a first-time buyer", "change the budget to $400 a month"): return the
corrected value. For objections and hidden_facts, return the whole new list when the answer
sets or changes it; [] when the manager says there are none. skip: true when the manager asks
you to pick or skip this question. confirmed: true only when the question was the review and
the manager accepts the draft as it is."""

_TRANSCRIPT_PROMPT = _RULES + """
You get a real conversation between a salesperson and a customer. Draft the scenario it shows:
the customer's name if said, the vehicle and trade-in, the budget, every objection the customer
raised (in order), and as hidden_facts the facts the customer stated about themselves, in their
own words. Null for what the conversation does not show. skip and confirmed: false."""


class OnlineReader:
    def __init__(self, llm: LLM) -> None:
        self.llm = llm

    async def read(self, text: str, state: BuilderState) -> Reading:
        payload = {"recent": [m.model_dump() for m in state.messages[-7:-1]], "question": state.question,
                   "stage": state.stage.value, "gathered": state.collected.shown(), "answer": text}
        try:
            answer = await self._ask(_ANSWER_PROMPT, json.dumps(payload))
        except (LLMError, ValidationError) as exc:
            log.warning("builder model call failed; reading the answer by rules", extra={"error": str(exc)})
            return extract_offline.read(text, state.stage, state.collected)
        return Reading(updates=updates(answer), confirmed=answer.confirmed, skip=answer.skip)

    async def transcript(self, text: str) -> dict[str, Any]:
        try:
            answer = await self._ask(_TRANSCRIPT_PROMPT, text)
        except (LLMError, ValidationError) as exc:
            log.warning("builder model call failed; reading the transcript by rules", extra={"error": str(exc)})
            return await asyncio.to_thread(transcript.read, text)
        return updates(answer)

    async def _ask(self, system: str, content: str) -> _Answer:
        data, _usage = await self.llm.complete_json(
            [{"role": "system", "content": system}, {"role": "user", "content": content}],
            name="scenario_builder", schema=SCHEMA)
        return _Answer.model_validate(data)


def updates(answer: _Answer) -> dict[str, Any]:
    values = answer.model_dump(mode="json")
    return {name: values[name] for name in _FIELDS if values[name] is not None}

