"""The online judge: the model scores a scenario's session against its rubric, in the LLM client's
JSON-schema mode (as the scorecard does), and every quote it gives as evidence is checked.

Coarse scales judge more reliably than fine ones, and a score is only as good as its evidence:
each criterion's answer names the trainee's own words, which must appear verbatim in one of the
trainee's messages (`evidence.verify`); a quote that does not is dropped and the reason says so.
A criterion the model leaves out, or scores off its scale, takes the offline judge's result; a
model that fails or answers out of shape gives the whole session to the offline judge. Which
hidden facts came out is not asked: it was judged turn by turn (`tags.facts_revealed`).
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from server.conversation.llm import LLM, LLMError
from server.conversation.models import MessageRole
from server.conversation.scorecard import strict_schema
from server.training import evidence, offline_judge
from server.training.offline_judge import TranscriptLine
from server.training.spec import (
    SCALE_MAX,
    SCALE_MIN,
    CriterionResult,
    Evidence,
    FrozenScenario,
    Verdict,
)

log = logging.getLogger(__name__)
PROMPT = """You are judging a car-sales practice conversation between a trainee salesperson and a simulated \
customer, against a rubric. Score each criterion on its scale from what the trainee actually said. For every \
criterion give a one-sentence reason and quote the trainee's own words as evidence: each quote must be copied \
exactly, character for character, from one of the Salesperson lines, with that line's message_id. Quote \
nothing for a criterion the trainee did not show. Do not quote the customer.

Scenario: {title}
Situation: {situation}
The trainee's goal: {goal}

Rubric: {rubric}
{criteria}

Transcript (message_id in brackets):
{transcript}

Also say whether the trainee met the goal, and sum up in two or three sentences what went well and what to work on."""


class _Quote(BaseModel):
    message_id: str
    quote: str


class _Criterion(BaseModel):
    key: str
    score: int
    reason: str
    quotes: list[_Quote] = Field(max_length=5)


class _Answer(BaseModel):
    criteria: list[_Criterion]
    goal_met: bool
    summary: str


def schema(scenario: FrozenScenario) -> dict[str, Any]:
    """The answer's JSON schema, with the criterion keys of this rubric as an enum."""
    result = strict_schema(_Answer.model_json_schema())
    keys = [c.key for c in scenario.rubric.criteria]
    result["$defs"]["_Criterion"]["properties"]["key"]["enum"] = keys
    return result


def prompt(scenario: FrozenScenario, lines: list[TranscriptLine]) -> str:
    spec, rubric = scenario.spec, scenario.rubric
    criteria = "\n".join(
        f"- {c.key} ({c.label}), scale {c.scale} ({SCALE_MIN[c.scale]} to {SCALE_MAX[c.scale]}): {c.description}"
        for c in rubric.criteria)
    transcript = "\n".join(
        f"[{line.message_id}] {'Salesperson' if line.role == MessageRole.user.value else 'Customer'}: {line.text}"
        for line in lines)
    return PROMPT.format(title=spec.title, situation=spec.situation or "-", goal=spec.goal or "-",
                         rubric=rubric.name, criteria=criteria, transcript=transcript)


async def judge(llm: LLM, scenario: FrozenScenario, lines: list[TranscriptLine]) -> Verdict:
    fallback = offline_judge.judge(scenario, lines)
    try:
        data, _usage = await llm.complete_json([{"role": "user", "content": prompt(scenario, lines)}],
                                               name="scenario_judge", schema=schema(scenario))
        answer = _Answer.model_validate(data)
    except (LLMError, ValidationError) as exc:
        log.warning("scenario judge model call failed; judging offline", extra={"error": str(exc)})
        return fallback.model_copy(update={"doubts": ["judge_fell_back"]})
    return checked(answer, scenario, lines, fallback)


def checked(answer: _Answer, scenario: FrozenScenario, lines: list[TranscriptLine], fallback: Verdict) -> Verdict:
    """The model's answer, held to the rubric and to the transcript."""
    said = {line.message_id: line.text for line in lines if line.role == MessageRole.user.value}
    given = {c.key: c for c in answer.criteria}
    offline = {c.key: c for c in fallback.criteria}
    results: list[CriterionResult] = []
    doubts: set[str] = set()
    for criterion in scenario.rubric.criteria:
        low, high = SCALE_MIN[criterion.scale], SCALE_MAX[criterion.scale]
        item = given.get(criterion.key)
        if item is None or not low <= item.score <= high:
            if criterion.key in offline:
                why = "left out" if item is None else f"scored {item.score}, off its {criterion.scale} scale"
                kept_offline = offline[criterion.key]
                doubts.add("criterion_judged_offline")
                results.append(kept_offline.model_copy(update={
                    "reason": f"{kept_offline.reason} (Judged offline: the model {why}.)"}))
            continue
        kept, dropped = evidence.verify([Evidence(message_id=q.message_id, quote=q.quote) for q in item.quotes], said)
        reason = item.reason.strip()
        if dropped:
            doubts.add("quotes_dropped")
            shown = "; ".join(f'"{d.quote[:80]}"' for d in dropped)
            reason += (f" (Dropped {len(dropped)} quote{'s' if len(dropped) > 1 else ''} not found verbatim in the "
                       f"trainee's messages: {shown}.)")
        results.append(CriterionResult(key=criterion.key, label=criterion.label, score=item.score, max=high,
                                       reason=reason, evidence=kept))
    return Verdict(criteria=results, facts=fallback.facts, goal_met=answer.goal_met, summary=answer.summary.strip(),
                   generated_by="llm", doubts=sorted(doubts))
