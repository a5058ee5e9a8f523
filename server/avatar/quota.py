"""Photoreal avatar minutes, metered per dealership from provider start to stop (`avatar_usage`).

`open_row` is written once the provider session has started (a failed start costs nothing),
`close_row` when we stopped it, on every exit path (the bridge's `stop`). A row left open by a
process that died counts up to now, at most `MAX_OPEN_S` (the provider ends an idle session after
about five minutes, and keep-alives stop with the process). The month is the calendar month in UTC.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Float, cast, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.elements import ColumnElement as Col

from server.avatar.models import AvatarUsage

MAX_OPEN_S = 6 * 60.0


def month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def seconds_expr(now: datetime) -> Col[float]:
    """A row's metered seconds: stop - start, or (still open) now - start capped at MAX_OPEN_S."""
    u = AvatarUsage
    open_s = func.least(func.extract("epoch", literal(now) - u.started_at), MAX_OPEN_S)
    closed_s = func.extract("epoch", u.stopped_at - u.started_at)
    return cast(func.greatest(func.coalesce(closed_s, open_s), 0.0), Float)


async def used_seconds(db: AsyncSession, dealership_id: uuid.UUID, *, now: datetime | None = None) -> float:
    now = now or datetime.now(UTC)
    u = AvatarUsage
    total = await db.scalar(select(func.coalesce(func.sum(seconds_expr(now)), 0.0)).where(
        u.dealership_id == dealership_id, u.started_at >= month_start(now)))
    return float(total or 0.0)


def remaining_seconds(cap_minutes: int | None, used_s: float) -> float | None:
    """None: no cap."""
    return None if cap_minutes is None else max(0.0, cap_minutes * 60.0 - used_s)


def usage_criteria(since: datetime | None, until: datetime | None) -> list[ColumnElement[bool]]:
    criteria: list[ColumnElement[bool]] = []
    if since is not None:
        criteria.append(AvatarUsage.started_at >= since)
    if until is not None:
        criteria.append(AvatarUsage.started_at < until)
    return criteria


class Meter:
    """Writes the usage rows, each in its own short transaction (never the request's)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def remaining(self, dealership_id: uuid.UUID, cap_minutes: int | None) -> float | None:
        if cap_minutes is None:
            return None
        async with self._sessionmaker() as db:
            return remaining_seconds(cap_minutes, await used_seconds(db, dealership_id))

    async def open_row(self, *, dealership_id: uuid.UUID, session_id: uuid.UUID, user_id: uuid.UUID | None,
                       provider: str, provider_session_id: str) -> uuid.UUID:
        row = AvatarUsage(dealership_id=dealership_id, session_id=session_id, user_id=user_id,
                          provider=provider, provider_session_id=provider_session_id[:200])
        async with self._sessionmaker() as db, db.begin():
            db.add(row)
        return row.id

    async def close_row(self, row_id: uuid.UUID) -> None:
        async with self._sessionmaker() as db, db.begin():
            await db.execute(update(AvatarUsage).where(AvatarUsage.id == row_id, AvatarUsage.stopped_at.is_(None))
                             .values(stopped_at=func.now()))

