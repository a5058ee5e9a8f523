"""Putting an email in the outbox, in the caller's transaction:

    await outbox.enqueue(ctx.db, ctx.state.mail, dealership_id=d.id, to=user.email,
                         template="invite", context={...}, idempotency_key=f"invite:{token_id}")

The email is rendered now (subject, text, HTML, with the dealership's name) and stored; it
exists exactly when the transaction commits, and the sender delivers it after. With no
transport configured it is stored `kept`, readable with `sparring outbox` and the Outbox page.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from server.db.models import Dealership
from server.mail import templates
from server.mail.models import OutboxMessage, OutboxStatus

PRODUCT_NAME = "Sparring"


@dataclass(slots=True)
class Mail:
    """What enqueueing needs from the app (`AppState.mail`): whether a transport will send, and
    a way to wake this process's sender once the email is committed."""

    transport: str | None  # "smtp", "mailgun" or None (kept)
    wake: Callable[[], None] = field(default=lambda: None)


async def enqueue(
    db: AsyncSession, mail: Mail, *, dealership_id: uuid.UUID | None, to: str, template: str,
    context: dict[str, Any], idempotency_key: str,
) -> OutboxMessage:
    """Add an email to the outbox in `db`'s transaction; the same `idempotency_key` again returns
    the email already there (nothing is sent twice for one cause)."""
    dealership = PRODUCT_NAME
    if dealership_id is not None:
        dealership = await db.scalar(select(Dealership.name).where(Dealership.id == dealership_id)) or PRODUCT_NAME
    rendered = templates.render(template, {"dealership": dealership, **context})
    status = OutboxStatus.pending if mail.transport else OutboxStatus.kept
    inserted = await db.scalar(
        insert(OutboxMessage)
        .values(id=uuid.uuid4(), dealership_id=dealership_id, idempotency_key=idempotency_key, to=to,
                template=template, subject=rendered.subject, text=rendered.text, html=rendered.html,
                status=status.value)
        .on_conflict_do_nothing(index_elements=[OutboxMessage.idempotency_key])
        .returning(OutboxMessage.id)
    )
    message = (await db.execute(
        select(OutboxMessage).where(OutboxMessage.idempotency_key == idempotency_key)
    )).scalar_one()
    if inserted is not None and mail.transport:
        _after_commit(db, mail.wake)
    return message


def _after_commit(db: AsyncSession, callback: Callable[[], None]) -> None:
    # The sender looks on its own every MAIL_POLL_SECONDS; this only spares the wait on this
    # instance. Before the commit the sender could not see the row yet.
    def fire(session: Session) -> None:
        callback()

    event.listen(db.sync_session, "after_commit", fire, once=True)
