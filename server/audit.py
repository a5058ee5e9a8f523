"""Audit trail: who did what, to whom, in which dealership, from where."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import AuditAction, AuditEvent


def record(
    session: AsyncSession, action: AuditAction, *, actor_id: uuid.UUID | None = None,
    subject_id: uuid.UUID | None = None, dealership_id: uuid.UUID | None = None, ip: str | None = None,
    **detail: Any,
) -> None:
    """Adds the event to the caller's transaction: it is stored exactly when the change is."""
    session.add(AuditEvent(action=action, actor_id=actor_id, subject_id=subject_id,
                           dealership_id=dealership_id, ip=ip, detail=detail))
