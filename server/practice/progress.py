"""A person's progress on an assignment: what each ended session adds, and the status it reads as.

Per scenario the row keeps `{attempts, best, latest, first, passed_at}` (scores 0-100, the
scorecard v2 `overall`). A person has passed when every scenario of the assignment has at least
`min_attempts` attempts and one passing attempt; a pass is the scorecard's own `passed` (its
scenario's pass mark and the goal met), or, with the assignment's `pass_score`, that score
reached and the goal not missed. The best score is kept whatever comes after.

For a programme's assignment the person's scores are the mean over its scenarios (one not yet
practised counts 0), so one figure reads the same way for one scenario or many.
"""

from __future__ import annotations

import enum
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.conversation.models import ConversationSession, SessionStatus
from server.practice import events
from server.practice.models import Assignment, AssignmentProgress

log = logging.getLogger(__name__)


class Status(enum.StrEnum):
    not_started = "not_started"
    in_progress = "in_progress"
    passed = "passed"
    failed = "failed"  # every scenario has its required attempts, and not all of them a pass
    overdue = "overdue"  # past the due date (or marked by the sweep) and not passed


@dataclass(frozen=True, slots=True)
class Summary:
    status: Status
    attempts: int
    best_score: float | None
    latest_score: float | None
    first_score: float | None
    passed_at: datetime | None


def attempt_passed(card: dict[str, Any], pass_score: int | None) -> bool:
    if pass_score is None:
        return bool(card.get("passed"))
    return float(card["overall"]) >= pass_score and card.get("goal_met") is not False


def _done(assignment: Assignment, scenarios: dict[str, Any]) -> bool:
    return all((entry := scenarios.get(sid)) is not None and entry["attempts"] >= assignment.min_attempts
               and entry.get("passed_at") is not None for sid in assignment.scenario_ids)


async def record_session(db: AsyncSession, assignment_id: uuid.UUID, user_id: uuid.UUID, scenario_id: str | None,
                         card: dict[str, Any] | None, at: datetime) -> None:
    """Count an ended session towards its assignment, in the transaction that ends it. A session
    with nothing scored (no turns) is no attempt; a withdrawn assignment counts nothing more."""
    if card is None or card.get("overall") is None or scenario_id is None:
        return
    await recount(db, assignment_id, user_id, scenario_id, at)


async def recount(db: AsyncSession, assignment_id: uuid.UUID, user_id: uuid.UUID, scenario_id: str,
                  at: datetime) -> None:
    """Rebuild a person's entry for one scenario of an assignment from their ended, scored
    sessions of it, in order; `at` is when a pass this brings about happened.

    Rebuilt rather than added to, so a manager's review that changes a session's score (either
    way) moves the progress with it: a raised score can pass the assignment, a lowered one
    takes back a pass that rested on it."""
    assignment = await db.get(Assignment, assignment_id)
    if assignment is None or assignment.withdrawn_at is not None or scenario_id not in assignment.scenario_ids:
        return
    progress = (await db.execute(
        select(AssignmentProgress).where(AssignmentProgress.assignment_id == assignment_id,
                                         AssignmentProgress.user_id == user_id).with_for_update()
    )).scalar_one_or_none()
    if progress is None:
        return
    sessions = (await db.execute(
        select(ConversationSession.ended_at, ConversationSession.scorecard)
        .where(ConversationSession.assignment_id == assignment_id, ConversationSession.user_id == user_id,
               ConversationSession.scenario_id == scenario_id, ConversationSession.status == SessionStatus.ended,
               ConversationSession.scorecard.is_not(None))
        .order_by(ConversationSession.ended_at, ConversationSession.id))).all()
    entry: dict[str, Any] = {"attempts": 0, "best": None, "latest": None, "first": None, "passed_at": None}
    last_at: datetime | None = None
    for ended_at, card in sessions:
        if card.get("overall") is None:
            continue
        score = round(float(card["overall"]), 1)
        entry["attempts"] += 1
        entry["latest"] = score
        entry["first"] = score if entry["first"] is None else entry["first"]
        entry["best"] = score if entry["best"] is None else max(entry["best"], score)
        if entry["passed_at"] is None and attempt_passed(card, assignment.pass_score):
            entry["passed_at"] = ended_at.isoformat()
        last_at = ended_at
    # A new dict, so the ORM sees the JSONB change.
    progress.scenarios = {**progress.scenarios, scenario_id: entry}
    progress.attempts = sum(int((e or {}).get("attempts", 0)) for e in progress.scenarios.values())
    if last_at is not None and (progress.last_attempt_at is None or last_at > progress.last_attempt_at):
        progress.last_attempt_at = last_at
    done = _done(assignment, progress.scenarios)
    if progress.passed_at is None and done:
        progress.passed_at = at
        await events.assignment_passed(db, assignment, progress, at)
    elif progress.passed_at is not None and not done:
        log.info("assignment pass taken back by a review",
                 extra={"assignment_id": str(assignment.id), "user_id": str(user_id)})
        progress.passed_at = None


def summarise(assignment: Assignment, progress: AssignmentProgress, now: datetime) -> Summary:
    scenarios = progress.scenarios
    count = max(1, len(assignment.scenario_ids))

    def mean(key: str) -> float | None:
        values = [(scenarios.get(sid) or {}).get(key) for sid in assignment.scenario_ids]
        if all(v is None for v in values):
            return None
        return round(sum(v or 0 for v in values) / count, 1)

    if progress.passed_at is not None:
        status = Status.passed
    elif progress.overdue_at is not None or now >= assignment.due_at:
        status = Status.overdue
    elif progress.attempts == 0:
        status = Status.not_started
    elif all((scenarios.get(sid) or {}).get("attempts", 0) >= assignment.min_attempts
             for sid in assignment.scenario_ids):
        status = Status.failed
    else:
        status = Status.in_progress
    return Summary(status=status, attempts=progress.attempts, best_score=mean("best"),
                   latest_score=mean("latest"), first_score=mean("first"), passed_at=progress.passed_at)
