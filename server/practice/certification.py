"""Certification for a programme: the board's stages and the rules for moving a person between them.

Stages, read from a person's ended sessions of the programme's scenarios (scorecard v2):
    not_started       no scored session of any of them
    practising        some, not yet a pass in every scenario
    ready_for_review  a pass in every scenario: waiting for a manager's sign-off
    certified         signed off by a manager (a `certification` row with status "certified")

Moves a manager makes (the API and the board's drag follow the same `moves`):
    -> certified           only from ready_for_review
    -> ready_for_review    from certified (revokes the certificate): a note is required
    -> practising          from certified or ready_for_review: a note is required; then only
                           sessions ended after the move count towards being ready again
Levels (bronze, silver, gold) are per scenario, by the person's best score against the
programme's thresholds; the programme's level is the lowest of its scenarios'.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Float, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.conversation.models import ConversationSession, SessionStatus
from server.errors import Conflict, ValidationFailed
from server.practice.models import Certification, Program

LEVELS = ("bronze", "silver", "gold")


class Stage(enum.StrEnum):
    not_started = "not_started"
    practising = "practising"
    ready_for_review = "ready_for_review"
    certified = "certified"


@dataclass(frozen=True, slots=True)
class Move:
    to: Stage
    note_required: bool


@dataclass
class ScenarioStanding:
    scenario_id: str
    attempts: int = 0
    best_score: float | None = None
    passed: bool = False
    level: str | None = None


@dataclass
class Standing:
    user_id: uuid.UUID
    stage: Stage
    scenarios: list[ScenarioStanding]
    level: str | None
    certification: Certification | None
    moves: list[Move] = field(default_factory=list)


def level_of(score: float | None, levels: dict[str, int]) -> str | None:
    reached = [name for name in LEVELS if score is not None and score >= levels.get(name, 101)]
    return reached[-1] if reached else None


def moves(stage: Stage) -> list[Move]:
    if stage is Stage.ready_for_review:
        return [Move(Stage.certified, False), Move(Stage.practising, True)]
    if stage is Stage.certified:
        return [Move(Stage.ready_for_review, True), Move(Stage.practising, True)]
    return []


def check_move(stage: Stage, target: Stage, note: str | None) -> None:
    """Raise unless a manager may move a person at `stage` to `target` (see the module's docstring)."""
    if target is stage:
        raise Conflict(f"The person is already {target.value}.", code="no_change")
    allowed = {move.to: move for move in moves(stage)}
    if target not in allowed:
        if target is Stage.certified:
            raise Conflict("Only a person ready for review (a pass in every scenario of the programme) can be "
                           "certified.", code="not_ready")
        raise Conflict(f"A person cannot be moved from {stage.value} to {target.value}: that stage follows from "
                       "their practice.", code="stage_computed")
    if allowed[target].note_required and not (note or "").strip():
        raise ValidationFailed("Moving a person back needs a note saying why.",
                               details=[{"field": "note", "message": "required when moving back"}])


async def standings(db: AsyncSession, program: Program, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, Standing]:
    """Every person's stage in the programme, from their sessions and the certification rows."""
    certifications = {row.user_id: row for row in (await db.execute(
        select(Certification).where(Certification.program_id == program.id,
                                    Certification.user_id.in_(user_ids)))).scalars()}
    overall = ConversationSession.scorecard["overall"].astext.cast(Float)
    passed = ConversationSession.scorecard["passed"].astext
    rows = await db.execute(
        select(ConversationSession.user_id, ConversationSession.scenario_id, ConversationSession.ended_at,
               overall, passed)
        .where(ConversationSession.dealership_id == program.dealership_id,
               ConversationSession.user_id.in_(user_ids),
               ConversationSession.scenario_id.in_(program.scenario_ids),
               ConversationSession.status == SessionStatus.ended,
               ConversationSession.scorecard.is_not(None)))
    by_person: dict[uuid.UUID, dict[str, ScenarioStanding]] = {
        u: {sid: ScenarioStanding(sid) for sid in program.scenario_ids} for u in user_ids}
    counted_since: dict[uuid.UUID, datetime] = {
        u: c.changed_at for u, c in certifications.items() if c.status == Stage.practising.value}
    practised: set[uuid.UUID] = set()
    for user_id, scenario_id, ended_at, score, did_pass in rows:
        if score is None:
            continue
        practised.add(user_id)
        since = counted_since.get(user_id)
        if since is not None and ended_at is not None and ended_at <= since:
            continue  # moved back to practising: only what came after counts
        standing = by_person[user_id][scenario_id]
        standing.attempts += 1
        standing.best_score = score if standing.best_score is None else max(standing.best_score, score)
        standing.passed = standing.passed or did_pass == "true"
    result = {}
    for user_id in user_ids:
        scenarios = list(by_person[user_id].values())
        for s in scenarios:
            s.level = level_of(s.best_score, program.levels)
        levels = [s.level for s in scenarios]
        level = None if None in levels or not levels else min(levels, key=LEVELS.index)
        certification = certifications.get(user_id)
        if certification is not None and certification.status == Stage.certified.value:
            stage = Stage.certified
        elif scenarios and all(s.passed for s in scenarios):
            stage = Stage.ready_for_review
        elif user_id in practised:
            stage = Stage.practising
        else:
            stage = Stage.not_started
        result[user_id] = Standing(user_id=user_id, stage=stage, scenarios=scenarios, level=level,
                                   certification=certification, moves=moves(stage))
    return result
