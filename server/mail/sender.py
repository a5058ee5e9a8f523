"""The sender: delivers the outbox, one supervised task per process (`mail-sender`).

Claim: a short transaction takes due emails with `FOR UPDATE SKIP LOCKED` (two instances never
take the same one) and marks them `sending` with a lease; the email is then sent outside any
transaction, and marked `sent` only after the transport accepted it, and only if the lease is
still ours. A process that dies mid-send leaves a lease that runs out: another instance (or
this one, restarted) takes the email again. So an email is never lost; it is sent twice only if
the process dies between the transport's acceptance and the commit of `sent`, and then with the
same Message-ID. Failures retry after MAIL_RETRY_BASE_SECONDS, doubling, capped at an hour,
until MAIL_MAX_ATTEMPTS; a permanent refusal fails at once.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server import outage
from server.mail.models import OutboxMessage, OutboxStatus
from server.mail.outbox import Mail
from server.mail.transports import Transport, TransportError, transport_for
from server.settings import Settings
from server.tasks import TaskSupervisor

log = logging.getLogger(__name__)

BATCH = 20
SEND_SHARE_OF_LEASE = 0.8  # a send is cut short at this share of MAIL_LEASE_SECONDS
MAX_BACKOFF_S = 3600.0


def backoff_seconds(attempts: int, base: float) -> float:
    """The wait before attempt `attempts + 1`: base, 2*base, 4*base, ... at most an hour."""
    return float(min(MAX_BACKOFF_S, base * 2 ** max(0, attempts - 1)))


class MailSender:
    def __init__(self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession],
                 transport: Transport) -> None:
        self._settings = settings
        self._sessionmaker = sessionmaker
        self._transport = transport
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                while await self.deliver_due():
                    pass
            except Exception as exc:
                # The database went away (or a bug): log once per round and keep the task alive.
                outage.log_failure(log, "mail sender round failed", exc)
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._settings.mail_poll_seconds)
            self._wake.clear()

    async def deliver_due(self) -> int:
        """Claim and send one batch of due emails; how many were claimed."""
        lease = uuid.uuid4()
        claimed = await self._claim(lease)
        # All at once: one after another, a slow server could hold the last of the batch past
        # its lease, and another instance would send it too.
        await asyncio.gather(*(self._send(message, lease) for message in claimed))
        return len(claimed)

    async def _claim(self, lease: uuid.UUID) -> list[OutboxMessage]:
        now = func.now()
        async with self._sessionmaker() as db, db.begin():
            due = (
                select(OutboxMessage.id)
                .where(or_(
                    and_(OutboxMessage.status == OutboxStatus.pending.value, OutboxMessage.next_attempt_at <= now),
                    # A sender that died mid-send: its lease ran out.
                    and_(OutboxMessage.status == OutboxStatus.sending.value, OutboxMessage.lease_until < now),
                ))
                .order_by(OutboxMessage.next_attempt_at)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
            rows = (await db.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(due.scalar_subquery()))
                .values(status=OutboxStatus.sending.value, lease_token=lease,
                        lease_until=now + timedelta(seconds=self._settings.mail_lease_seconds),
                        attempts=OutboxMessage.attempts + 1)
                .returning(OutboxMessage)
            )).scalars().all()
            db.expunge_all()
            return list(rows)

    async def _send(self, message: OutboxMessage, lease: uuid.UUID) -> None:
        try:
            # Within the lease, whatever the transport's own timeouts add up to (SMTP has one per
            # step): past it another instance may take the email over.
            async with asyncio.timeout(self._settings.mail_lease_seconds * SEND_SHARE_OF_LEASE):
                provider_id = await self._transport.send(message)
        except TransportError as exc:
            await self._failed(message, lease, exc)
            return
        except TimeoutError:
            await self._failed(message, lease, TransportError(f"{self._transport.name} timed out"))
            return
        await self._finish(message, lease, status=OutboxStatus.sent, provider_id=provider_id[:300],
                           sent_at=func.now())
        log.info("email sent", extra={"outbox_id": str(message.id), "template": message.template,
                                      "transport": self._transport.name, "attempt": message.attempts})

    async def _failed(self, message: OutboxMessage, lease: uuid.UUID, exc: TransportError) -> None:
        give_up = exc.permanent or message.attempts >= self._settings.mail_max_attempts
        if give_up:
            await self._finish(message, lease, status=OutboxStatus.failed, last_error=exc.reason)
        else:
            wait = backoff_seconds(message.attempts, self._settings.mail_retry_base_seconds)
            await self._finish(message, lease, status=OutboxStatus.pending, last_error=exc.reason,
                               next_attempt_at=func.now() + timedelta(seconds=wait))
        log.warning("email not sent", extra={"outbox_id": str(message.id), "template": message.template,
                                             "transport": self._transport.name, "attempt": message.attempts,
                                             "reason": exc.reason, "gave_up": give_up})

    async def _finish(self, message: OutboxMessage, lease: uuid.UUID, **values: object) -> None:
        async with self._sessionmaker() as db, db.begin():
            # Only while the lease is ours: if it ran out and another sender took the email over,
            # that sender records the outcome.
            await db.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message.id, OutboxMessage.lease_token == lease)
                .values(lease_token=None, lease_until=None, **values)
            )


@asynccontextmanager
async def mail_lifespan(settings: Settings, sessionmaker: async_sessionmaker[AsyncSession],
                        tasks: TaskSupervisor) -> AsyncIterator[Mail]:
    """The app's email: with a transport, the sender task; without one, nothing runs and emails
    are kept in the outbox."""
    transport = transport_for(settings)
    if transport is None:
        yield Mail(transport=None)
        return
    sender = MailSender(settings, sessionmaker, transport)
    task = tasks.spawn("mail-sender", sender.run())
    try:
        yield Mail(transport=transport.name, wake=sender.wake)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await transport.close()
