"""Who someone is, for lists that name people (a session's salesperson, a report's reporter):
one query for the whole page, the account's name, or its email when it has none."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import User


async def display_names(db: AsyncSession, user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    wanted = set(user_ids)
    if not wanted:
        return {}
    rows = await db.execute(select(User.id, User.name, User.email).where(User.id.in_(wanted)))
    return {user_id: name.strip() or email for user_id, name, email in rows}
