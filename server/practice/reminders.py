"""Reminders before the due date, and overdue work marked: a supervised background task.

`sweep(db, mail, now)` does one pass in one transaction: every assignee of a live assignment due
within `lead` who has not passed and was not reminded gets one email (outbox idempotency key
`assignment-reminder:<assignment>:<user>`, and `reminded_at` set in the same transaction, so a
second pass, a second instance or a restart never sends it again); every one past the due date
and not passed is marked `overdue_at` (once, the `assignment.overdue` event with it). The
clock is a parameter: the task passes the wall clock, tests any time they like.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server import outage
from server.db.models import User
from server.mail import outbox
from server.mail.outbox import Mail
from server.practice import assignments, events
from server.practice.models import Assignment, AssignmentProgress

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
BATCH = 500


def wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Swept:
    reminded: int
    overdue: int


def reminder_key(assignment: Assignment, user_id: object) -> str:
    return f"assignment-reminder:{assignment.id}:{user_id}"


async def sweep(db: AsyncSession, mail: Mail, now: datetime, *, lead: timedelta, public_url: str) -> Swept:
    live = (Assignment.withdrawn_at.is_(None), AssignmentProgress.passed_at.is_(None),
            AssignmentProgress.assignment_id == Assignment.id)
    due_soon = (await db.execute(
        select(AssignmentProgress, Assignment, User).join(User, User.id == AssignmentProgress.user_id)
        .where(*live, AssignmentProgress.reminded_at.is_(None), Assignment.due_at > now,
               Assignment.due_at <= now + lead, User.active.is_(True), User.deleted_at.is_(None))
        .limit(BATCH).with_for_update(of=AssignmentProgress, skip_locked=True))).all()
    titles = await assignments.titles(db, {sid for _, a, _ in due_soon for sid in a.scenario_ids})
    for progress, assignment, user in due_soon:
        await outbox.enqueue(
            db, mail, dealership_id=assignment.dealership_id, to=user.email, template="assignment_reminder",
            context={"name": user.name or user.email, "due": f"{assignment.due_at:%A %d %B %Y, %H:%M} UTC",
                     "scenarios": [titles.get(sid, sid) for sid in assignment.scenario_ids],
                     "link": f"{public_url}/?assignment={assignment.id}"},
            idempotency_key=reminder_key(assignment, user.id))
        progress.reminded_at = now
    overdue = (await db.execute(
        select(AssignmentProgress, Assignment)
        .where(*live, AssignmentProgress.overdue_at.is_(None), Assignment.due_at <= now)
        .limit(BATCH).with_for_update(of=AssignmentProgress, skip_locked=True))).all()
    for progress, assignment in overdue:
        progress.overdue_at = now
        await events.assignment_overdue(db, assignment, progress, now)
    return Swept(reminded=len(due_soon), overdue=len(overdue))


async def run(sessionmaker: async_sessionmaker[AsyncSession], mail: Mail, *, every_s: float, lead: timedelta,
              public_url: str, clock: Clock = wall_clock) -> None:
    """The task: a sweep every `every_s` seconds; a failed pass (the database away) is logged and
    the next one tries again."""
    while True:
        try:
            async with sessionmaker() as db, db.begin():
                swept = await sweep(db, mail, clock(), lead=lead, public_url=public_url)
            if swept.reminded or swept.overdue:
                log.info("assignments swept", extra={"reminded": swept.reminded, "overdue": swept.overdue})
        except Exception as exc:
            outage.log_failure(log, "assignment sweep failed", exc)
        await asyncio.sleep(every_s)
