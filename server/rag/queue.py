"""The durable job queue, on the document rows themselves.

A job is a document whose status is `queued` (or `processing` with an expired lease: its
worker died). Workers claim one with `FOR UPDATE SKIP LOCKED`, hold a lease they keep
extending while they work, and finish it in the same transaction that writes its chunks.
Enqueueing is part of the upload's transaction, and a NOTIFY sent in it reaches listening
workers only on commit. Fairness: the next job comes first from a dealership with no document
being read, then from the dealership served least recently, so one dealership's bulk upload
cannot starve another's; a worker's last free slot takes only the former (`idle_only`), so a
dealership's slow documents never hold every slot. A job whose workers keep dying is failed
after `max_attempts`, with a reason, instead of circling forever. Deleting a document sends
`CANCEL_CHANNEL` with its id, on commit, so the worker reading it stops at once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from server.webhooks import events as webhook_events
from server.webhooks.models import EventType

CHANNEL = "sparring_rag_jobs"
CANCEL_CHANNEL = "sparring_rag_cancel"
ABANDONED = ("Processing stopped {n} times without finishing (the worker crashed or timed out); "
             "try re-indexing, or upload a smaller file.")


@dataclass(frozen=True, slots=True)
class Job:
    document_id: uuid.UUID
    dealership_id: uuid.UUID
    lease_token: uuid.UUID
    attempts: int


async def notify(session: AsyncSession) -> None:
    await session.execute(text(f"SELECT pg_notify('{CHANNEL}', '')"))


async def notify_cancel(session: AsyncSession, document_id: uuid.UUID) -> None:
    await session.execute(text("SELECT pg_notify(:channel, :id)"), {"channel": CANCEL_CHANNEL, "id": str(document_id)})


_CLAIM = text("""
WITH busy AS (  -- dealerships with a document being read under a live lease
    SELECT DISTINCT dealership_id FROM rag_document WHERE status = 'processing' AND lease_until >= now()
), pick AS (
    SELECT d.id
    FROM rag_document d
    JOIN rag_index i ON i.dealership_id = d.dealership_id
    -- A suspended dealership's documents wait (they are claimed again once it is reactivated).
    JOIN dealership dl ON dl.id = d.dealership_id AND dl.active
    LEFT JOIN busy b ON b.dealership_id = d.dealership_id
    WHERE ((d.status = 'queued' AND d.run_after <= now())
           OR (d.status = 'processing' AND d.lease_until < now()))
      AND (NOT :idle_only OR b.dealership_id IS NULL)
    ORDER BY b.dealership_id IS NOT NULL, i.last_served_at NULLS FIRST, d.queued_at, d.id
    LIMIT 1
    FOR UPDATE OF d SKIP LOCKED
), claimed AS (
    UPDATE rag_document d
    SET status = 'processing', lease_token = :token, lease_until = now() + make_interval(secs => :lease),
        attempts = d.attempts + 1, pages_done = 0, chunks_done = 0, updated_at = now()
    FROM pick WHERE d.id = pick.id
    RETURNING d.id, d.dealership_id, d.attempts
)
UPDATE rag_index i SET last_served_at = clock_timestamp()
FROM claimed WHERE i.dealership_id = claimed.dealership_id
RETURNING claimed.id, claimed.dealership_id, claimed.attempts
""")


async def claim(session: AsyncSession, *, lease_seconds: float, idle_only: bool = False) -> Job | None:
    """The next job; with `idle_only`, only from a dealership none of whose documents is being read."""
    token = uuid.uuid4()
    row = (await session.execute(_CLAIM, {"token": token, "lease": lease_seconds,
                                          "idle_only": idle_only})).one_or_none()
    if row is None:
        return None
    return Job(document_id=row.id, dealership_id=row.dealership_id, lease_token=token, attempts=row.attempts)


async def reap(session: AsyncSession, *, max_attempts: int) -> int:
    """Fail jobs abandoned by their workers too many times (each with its reason)."""
    result = await session.execute(text("""
        UPDATE rag_document SET status = 'failed', error = replace(:reason, '{n}', attempts::text),
               lease_token = NULL, lease_until = NULL, updated_at = now()
        WHERE status = 'processing' AND lease_until < now() AND attempts >= :max
        RETURNING id, dealership_id, filename, error
    """), {"reason": ABANDONED, "max": max_attempts})
    failed = result.all()
    for row in failed:  # in the same transaction as the status change
        await webhook_events.emit(session, dealership_id=row.dealership_id, type=EventType.document_failed,
                                  data={"document_id": str(row.id), "filename": row.filename, "error": row.error})
    return len(failed)


async def extend(session: AsyncSession, job: Job, *, lease_seconds: float, pages_done: int | None = None,
                 chunks_done: int | None = None, pages: int | None = None) -> bool:
    """Heartbeat and progress; False when the lease was lost (another worker took the job)."""
    result = await session.execute(text("""
        UPDATE rag_document SET lease_until = now() + make_interval(secs => :lease),
               pages_done = coalesce(:pages_done, pages_done), chunks_done = coalesce(:chunks_done, chunks_done),
               pages = coalesce(:pages, pages), updated_at = now()
        WHERE id = :id AND lease_token = :token AND status = 'processing'
    """), {"lease": lease_seconds, "pages_done": pages_done, "chunks_done": chunks_done, "pages": pages,
           "id": job.document_id, "token": job.lease_token})
    return bool(getattr(result, "rowcount", 0))


async def retry_later(session: AsyncSession, job: Job, *, reason: str, delay_seconds: float) -> None:
    await session.execute(text("""
        UPDATE rag_document SET status = 'queued', error = :reason, lease_token = NULL, lease_until = NULL,
               run_after = now() + make_interval(secs => :delay), updated_at = now()
        WHERE id = :id AND lease_token = :token
    """), {"reason": reason, "delay": delay_seconds, "id": job.document_id, "token": job.lease_token})
