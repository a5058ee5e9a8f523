"""The practice events other systems hear about. Webhook events hook here: each function is
the one place its event happens, called in the transaction that causes it, so a webhook
outbox written from here is committed exactly when the change is.

    assignment.passed        `assignment_passed`      a person met an assignment (attempts and pass)
    assignment.overdue       `assignment_overdue`     the sweep found a person's assignment past due
    certification.granted    `certification_granted`  a manager signed a person off for a programme
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from server.practice.models import Assignment, AssignmentProgress, Certification
from server.webhooks import events as webhooks
from server.webhooks.models import EventType

log = logging.getLogger(__name__)


async def assignment_passed(db: AsyncSession, assignment: Assignment, progress: AssignmentProgress,
                            at: datetime) -> None:
    log.info("assignment passed", extra={"assignment_id": str(assignment.id), "user_id": str(progress.user_id)})
    await webhooks.emit(db, dealership_id=assignment.dealership_id, type=EventType.assignment_passed,
                        data={**_assignment(assignment, progress), "passed_at": _iso(at)})


async def assignment_overdue(db: AsyncSession, assignment: Assignment, progress: AssignmentProgress,
                             at: datetime) -> None:
    log.info("assignment overdue", extra={"assignment_id": str(assignment.id), "user_id": str(progress.user_id)})
    await webhooks.emit(db, dealership_id=assignment.dealership_id, type=EventType.assignment_overdue,
                        data={**_assignment(assignment, progress), "overdue_at": _iso(at)})


async def certification_granted(db: AsyncSession, certification: Certification, at: datetime) -> None:
    log.info("certification granted", extra={"program_id": str(certification.program_id),
                                             "user_id": str(certification.user_id)})
    await webhooks.emit(db, dealership_id=certification.dealership_id, type=EventType.certification_granted,
                        data={"user_id": str(certification.user_id), "program_id": str(certification.program_id),
                              "certified_at": _iso(certification.certified_at or at),
                              "signed_off_by": str(certification.signed_off_by or "") or None,
                              "note": certification.note})


def _assignment(assignment: Assignment, progress: AssignmentProgress) -> dict[str, object]:
    """What a receiver gets about a person's assignment (the webhook `data`; docs/webhooks.md)."""
    bests = [(entry or {}).get("best") for entry in progress.scenarios.values()]
    return {"assignment_id": str(assignment.id), "user_id": str(progress.user_id),
            "scenario_id": assignment.scenario_id,
            "program_id": str(assignment.program_id) if assignment.program_id else None,
            "scenario_ids": list(assignment.scenario_ids), "due_at": _iso(assignment.due_at),
            "min_attempts": assignment.min_attempts, "pass_score": assignment.pass_score,
            "attempts": progress.attempts,
            "best_scores": {k: (v or {}).get("best") for k, v in progress.scenarios.items()},
            "best_score": max((b for b in bests if b is not None), default=None)}


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
