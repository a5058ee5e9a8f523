"""Emitting an event, in the caller's transaction:

    await events.emit(db, dealership_id=row.dealership_id, type=EventType.session_completed,
                      data={"session_id": str(row.id), ...})

One delivery row per active endpoint of the dealership subscribed to `type`, all with the same
event id and body. They exist exactly when the caller's transaction commits; a NOTIFY (sent by
PostgreSQL at that commit, to every instance) wakes the senders at once.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from server.webhooks.models import EventType, WebhookDelivery, WebhookEndpoint

CHANNEL = "webhook_deliveries"


def new_event_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def payload(event_id: str, type: str, dealership_id: uuid.UUID, data: dict[str, Any],
            created_at: datetime | None = None) -> str:
    """The body every receiver gets: `{id, type, created_at, dealership_id, data}`."""
    return orjson.dumps({
        "id": event_id, "type": type,
        "created_at": (created_at or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
        "dealership_id": str(dealership_id), "data": data,
    }).decode()


async def emit(db: AsyncSession, *, dealership_id: uuid.UUID, type: EventType, data: dict[str, Any]) -> None:
    endpoints = (await db.execute(select(WebhookEndpoint.id).where(
        WebhookEndpoint.dealership_id == dealership_id, WebhookEndpoint.active.is_(True),
        WebhookEndpoint.events.contains([type.value]),
    ))).scalars().all()
    if not endpoints:
        return
    event_id = new_event_id()
    body = payload(event_id, type.value, dealership_id, data)
    await db.execute(insert(WebhookDelivery), [
        {"id": uuid.uuid4(), "endpoint_id": endpoint_id, "dealership_id": dealership_id, "event_id": event_id,
         "event_type": type.value, "body": body} for endpoint_id in endpoints])
    await notify(db)


async def notify(db: AsyncSession) -> None:
    await db.execute(text(f"SELECT pg_notify('{CHANNEL}', '')"))
