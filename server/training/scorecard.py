"""Scorecard version 2: the rubric's criteria with scores, reasons and the trainee's own words as
evidence, the hidden facts uncovered (and in which turn), whether the goal was met, pass or fail.

It extends today's scorecard (`server.conversation.scorecard`), whose fields stay, so existing
clients keep working: a session without a scenario is judged under the "General sales
conversation" rubric, whose five criteria are today's five dimensions with today's scores. A
scenario's session is judged by the online judge when a model is configured, else (or when the
model fails) by the offline judge. `overall` becomes the weighted score out of 100.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from server.conversation import scorecard as legacy
from server.conversation.llm import LLM
from server.conversation.models import ConversationMessage, ConversationSession, MessageRole
from server.training import catalog, evidence, offline_judge, online_judge
from server.training.offline_judge import TranscriptLine
from server.training.spec import (
    GENERAL_RUBRIC_ID,
    SCALE_MAX,
    CriterionResult,
    Evidence,
    FactResult,
    FrozenScenario,
    RubricSpec,
    Verdict,
    overall,
)

VERSION = 2
GENERAL_PASS_SCORE = 70  # a session without a scenario has no pass mark of its own: a scenario's default


def lines_of(messages: list[ConversationMessage],
             tags: dict[uuid.UUID, dict[str, Any]] | None = None) -> list[TranscriptLine]:
    return [TranscriptLine(message_id=str(m.id), role=m.role.value, text=m.text,
                           tags=(tags or {}).get(m.id, m.tags)) for m in messages]


async def build(llm: LLM | None, session: ConversationSession,
                messages: list[ConversationMessage]) -> tuple[dict[str, Any], dict[uuid.UUID, dict[str, Any]]]:
    """The version 2 scorecard (today's fields kept), and new tags for messages the model re-tagged."""
    if session.scenario is None:
        card, retags = await legacy.build(llm, session, messages)
        return {**card, **_general(card, messages)}, retags
    scenario = FrozenScenario.model_validate(session.scenario)
    # Today's fields for a scenario's session come from the offline reading: the model's one call
    # goes to the rubric, which is what a scenario is judged by.
    card, retags = await legacy.build(None, session, messages)
    lines = lines_of(messages)
    verdict = await online_judge.judge(llm, scenario, lines) if llm is not None \
        else offline_judge.judge(scenario, lines)
    return {**card, **v2_fields(verdict, scenario.rubric, scenario.spec.pass_score, scenario.rubric_id),
            "scenario_id": scenario.id, "scenario_title": scenario.spec.title,
            "generated_by": verdict.generated_by}, retags


def v2_fields(verdict: Verdict, rubric: RubricSpec, pass_score: int, rubric_id: str) -> dict[str, Any]:
    score = overall(verdict.criteria, rubric)
    # As the offline judge has it (`offline_judge.passes`): the pass mark reached, and the goal not missed.
    passed = score >= pass_score and verdict.goal_met is not False
    return {"version": VERSION, "overall": score, "passed": passed, "pass_score": pass_score,
            "rubric_id": rubric_id, "rubric_name": rubric.name,
            "criteria": [c.model_dump() for c in verdict.criteria],
            "facts": [f.model_dump() for f in verdict.facts], "goal_met": verdict.goal_met,
            "summary": verdict.summary, "doubts": verdict.doubts}


def _general(card: dict[str, Any], messages: list[ConversationMessage]) -> dict[str, Any]:
    """Today's five scores as the "General sales conversation" rubric's criteria."""
    rubric = catalog.general_rubric()
    if not card.get("scores"):  # training mode: nothing is scored
        return {"version": VERSION, "overall": None, "passed": None, "pass_score": GENERAL_PASS_SCORE,
                "rubric_id": GENERAL_RUBRIC_ID, "rubric_name": rubric.name, "criteria": [], "facts": [],
                "goal_met": None, "scenario_id": None, "scenario_title": None}
    said = {str(m.id): m.text for m in messages if m.role is MessageRole.user}
    by_key = {s["dimension"]: s for s in card["scores"]}
    criteria = []
    for criterion in rubric.criteria:
        score = by_key.get(criterion.key)
        if score is None:
            continue
        quoted = [Evidence(message_id=score["message_id"], quote=score["evidence"])] \
            if score.get("evidence") and score.get("message_id") else []
        kept, dropped = evidence.verify(quoted, said)
        reason = f"{criterion.description} " + (
            "Shown in the quoted line." if kept else "Not shown in this conversation.")
        if dropped:
            reason += " A quote that is not the trainee's own words was dropped."
        criteria.append(CriterionResult(key=criterion.key, label=criterion.label, score=int(score["score"]),
                                        max=SCALE_MAX[criterion.scale], reason=reason, evidence=kept))
    verdict = Verdict(criteria=criteria, summary=card.get("summary", ""), generated_by=card["generated_by"])
    return {**v2_fields(verdict, rubric, GENERAL_PASS_SCORE, GENERAL_RUBRIC_ID),
            "legacy_overall": card.get("overall"), "scenario_id": None, "scenario_title": None}


def nothing_to_score(session: ConversationSession) -> dict[str, Any]:
    card = legacy.nothing_to_score(session)
    scenario = FrozenScenario.model_validate(session.scenario) if session.scenario else None
    rubric_id = scenario.rubric_id if scenario else GENERAL_RUBRIC_ID
    rubric = scenario.rubric if scenario else catalog.general_rubric()
    return {**card, "version": VERSION, "passed": False if scenario else None,
            "pass_score": scenario.spec.pass_score if scenario else GENERAL_PASS_SCORE,
            "rubric_id": rubric_id, "rubric_name": rubric.name, "criteria": [],
            "facts": [FactResult(key=f.key, label=f.label, uncovered=False).model_dump()
                      for f in (scenario.spec.hidden_facts if scenario else [])],
            "goal_met": False if scenario else None, "scenario_id": scenario.id if scenario else None,
            "scenario_title": scenario.spec.title if scenario else None}


def session_event(session: ConversationSession, card: dict[str, Any] | None) -> dict[str, Any]:
    """`data` of the `session.completed` webhook event: the session and its headline result
    (no transcript: the receiver asks the API for more)."""
    return {"session_id": str(session.id), "user_id": str(session.user_id), "mode": session.mode.value,
            "channel": session.channel.value, "persona_id": session.persona_id, "scenario_id": session.scenario_id,
            "started_at": _iso(session.started_at), "ended_at": _iso(session.ended_at),
            "messages": session.message_count, "scored": card is not None,
            "overall": card.get("overall") if card else None, "passed": card.get("passed") if card else None}


def scorecard_event(session: ConversationSession, card: dict[str, Any]) -> dict[str, Any]:
    """`data` of the `scorecard.ready` webhook event: the scores, not the evidence quotes."""
    return {"session_id": str(session.id), "user_id": str(session.user_id), "scenario_id": session.scenario_id,
            "version": card.get("version"), "overall": card.get("overall"), "passed": card.get("passed"),
            "pass_score": card.get("pass_score"), "rubric_id": card.get("rubric_id"),
            "criteria": [{"key": c.get("key"), "score": c.get("score"), "max": c.get("max")}
                         for c in card.get("criteria") or []]}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None
