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

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from server.conversation.models import ConversationSession, SessionStatus
from server.errors import Conflict, ValidationFailed
from server.practice.models import Certification, Program

LEVELS = ("bronze", "silver", "gold")


class BoardStage(enum.StrEnum):
    not_started = "not_started"
    practising = "practising"
    ready_for_review = "ready_for_review"
    certified = "certified"


@dataclass(frozen=True, slots=True)
class Move:
    to: BoardStage
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
    stage: BoardStage
    scenarios: list[ScenarioStanding]
    level: str | None
    certification: Certification | None
    moves: list[Move] = field(default_factory=list)


def level_of(score: float | None, levels: dict[str, int]) -> str | None:
    reached = [name for name in LEVELS if score is not None and score >= levels.get(name, 101)]
    return reached[-1] if reached else None


def moves(stage: BoardStage) -> list[Move]:
    if stage is BoardStage.ready_for_review:
        return [Move(BoardStage.certified, False), Move(BoardStage.practising, True)]
    if stage is BoardStage.certified:
        return [Move(BoardStage.ready_for_review, True), Move(BoardStage.practising, True)]
    return []


def check_move(stage: BoardStage, target: BoardStage, note: str | None) -> None:
    """Raise unless a manager may move a person at `stage` to `target` (see the module's docstring)."""
    if target is stage:
        raise Conflict(f"The person is already {target.value}.", code="no_change")
    allowed = {move.to: move for move in moves(stage)}
    if target not in allowed:
        if target is BoardStage.certified:
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
    # One row per person and scenario, aggregated in the database (a board of 200 people reads
    # their totals, not their thousands of sessions). A person moved back to practising counts
    # only sessions ended after the move; any scored session at all makes them "practised".
    session = ConversationSession
    moved_back = aliased(Certification)
    counted = or_(moved_back.changed_at.is_(None), session.ended_at > moved_back.changed_at)
    rows = await db.execute(
        select(session.user_id, session.scenario_id, func.count().filter(counted),
               func.max(session.score_overall).filter(counted), func.bool_or(session.score_passed).filter(counted))
        .outerjoin(moved_back, and_(moved_back.user_id == session.user_id, moved_back.program_id == program.id,
                                    moved_back.status == BoardStage.practising.value))
        .where(session.dealership_id == program.dealership_id, session.user_id.in_(user_ids),
               session.scenario_id.in_(program.scenario_ids), session.status == SessionStatus.ended,
               session.score_overall.is_not(None))
        .group_by(session.user_id, session.scenario_id))
    by_person: dict[uuid.UUID, dict[str, ScenarioStanding]] = {
        u: {sid: ScenarioStanding(sid) for sid in program.scenario_ids} for u in user_ids}
    practised: set[uuid.UUID] = set()
    for user_id, scenario_id, attempts, best, did_pass in rows:
        practised.add(user_id)
        standing = by_person[user_id][scenario_id]
        standing.attempts = int(attempts)
        standing.best_score = float(best) if best is not None else None
        standing.passed = bool(did_pass)
    result = {}
    for user_id in user_ids:
        scenarios = list(by_person[user_id].values())
        for s in scenarios:
            s.level = level_of(s.best_score, program.levels)
        levels = [s.level for s in scenarios]
        level = None if None in levels or not levels else min(levels, key=LEVELS.index)
        certification = certifications.get(user_id)
        if certification is not None and certification.status == BoardStage.certified.value:
            stage = BoardStage.certified
        elif scenarios and all(s.passed for s in scenarios):
            stage = BoardStage.ready_for_review
        elif user_id in practised:
            stage = BoardStage.practising
        else:
            stage = BoardStage.not_started
        result[user_id] = Standing(user_id=user_id, stage=stage, scenarios=scenarios, level=level,
                                   certification=certification, moves=moves(stage))
    return result
