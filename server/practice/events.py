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

log = logging.getLogger(__name__)


async def assignment_passed(db: AsyncSession, assignment: Assignment, progress: AssignmentProgress,
                            at: datetime) -> None:
    # webhook events hook here: `assignment.passed`
    log.info("assignment passed", extra={"assignment_id": str(assignment.id), "user_id": str(progress.user_id)})


async def assignment_overdue(db: AsyncSession, assignment: Assignment, progress: AssignmentProgress,
                             at: datetime) -> None:
    # webhook events hook here: `assignment.overdue`
    log.info("assignment overdue", extra={"assignment_id": str(assignment.id), "user_id": str(progress.user_id)})


async def certification_granted(db: AsyncSession, certification: Certification, at: datetime) -> None:
    # webhook events hook here: `certification.granted`
    log.info("certification granted", extra={"program_id": str(certification.program_id),
                                             "user_id": str(certification.user_id)})
