"""Which ingestion workers are alive, and why a queued document is still waiting.

Every worker pool (in the server, or `sparring worker`) keeps a `rag_worker` row fresh. A
worker not seen for three heartbeats is presumed gone (killed without a chance to remove its
row); its row is pruned by the next live worker. A queued document says in plain words why it waits
(`explain`): no worker is running (it stays `queued` and is processed as soon as one appears),
it waits to be retried, its dealership's document being read now comes first, or every worker
is busy; next in line, it gives no reason.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from server.rag.models import RagWorker

NO_WORKER = ("Waiting for a document worker: none is running. Start `sparring worker` or set "
             "RAG_WORKERS>=1 on the server.")
RETRYING = "Waiting to try again after a failed attempt (see `error`)."
READING_OWN = ("Waiting for \u201c{filename}\u201d, which is being read now: while other dealerships' documents "
               "wait, a dealership's documents are read one at a time.")
SUSPENDED = "Waiting: this dealership is suspended; its documents are read once it is reactivated."
ALL_BUSY = "Waiting for a free document worker: all {slots} are reading other documents."
MISSED_BEATS = 3  # a worker this many heartbeats late is presumed dead


@dataclass(frozen=True, slots=True)
class Presence:
    id: uuid.UUID
    host: str
    pid: int
    concurrency: int


def me(concurrency: int) -> Presence:
    return Presence(id=uuid.uuid4(), host=socket.gethostname()[:255], pid=os.getpid(), concurrency=concurrency)


def _stale(heartbeat_seconds: float) -> ColumnElement[Any]:
    return func.now() - func.make_interval(0, 0, 0, 0, 0, 0, heartbeat_seconds * MISSED_BEATS)


async def beat(session: AsyncSession, worker: Presence, *, heartbeat_seconds: float) -> None:
    """Say this worker is alive (inserting its row the first time) and prune the dead."""
    await session.execute(insert(RagWorker).values(
        id=worker.id, host=worker.host, pid=worker.pid, concurrency=worker.concurrency,
    ).on_conflict_do_update(index_elements=[RagWorker.id], set_={"last_seen": func.now()}))
    await session.execute(delete(RagWorker).where(RagWorker.last_seen < _stale(heartbeat_seconds)))


async def leave(session: AsyncSession, worker: Presence) -> None:
    await session.execute(delete(RagWorker).where(RagWorker.id == worker.id))


async def live_workers(session: AsyncSession, *, heartbeat_seconds: float) -> int:
    query = select(func.count()).select_from(RagWorker).where(RagWorker.last_seen >= _stale(heartbeat_seconds))
    return int((await session.execute(query)).scalar_one())


_AHEAD = text("""
SELECT d.id, (
    SELECT count(*) FROM rag_document o
    WHERE o.dealership_id = d.dealership_id AND o.id <> d.id
      AND (o.status = 'processing' OR (o.status = 'queued' AND (o.queued_at, o.id) < (d.queued_at, d.id)))
) AS ahead
FROM rag_document d
JOIN dealership dl ON dl.id = d.dealership_id
WHERE d.id = ANY(:ids) AND d.status = 'queued'
""")


async def waiting_behind(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """For each queued document among `ids`: how many of its dealership's documents are ahead of
    it (processing, or queued earlier). Other dealerships' queues are not counted (nor revealed)."""
    if not ids:
        return {}
    rows = await session.execute(_AHEAD, {"ids": ids})
    return {row.id: int(row.ahead) for row in rows}


@dataclass(frozen=True, slots=True)
class Waiting:
    ahead: int  # this dealership's documents ahead of it
    reason: str | None  # why it waits; None when it is simply next in line


_WHY = text("""
SELECT d.id, d.run_after > now() AS retrying, NOT dl.active AS suspended, (
    SELECT o.filename FROM rag_document o
    WHERE o.dealership_id = d.dealership_id AND o.status = 'processing' AND o.lease_until >= now()
    ORDER BY o.updated_at LIMIT 1
) AS reading
FROM rag_document d
JOIN dealership dl ON dl.id = d.dealership_id
WHERE d.id = ANY(:ids) AND d.status = 'queued'
""")
_CAPACITY = text("""
SELECT (SELECT coalesce(sum(concurrency), 0) FROM rag_worker WHERE last_seen >= now() - make_interval(secs => :stale))
           AS slots,
       (SELECT count(*) FROM rag_document WHERE status = 'processing' AND lease_until >= now()) AS reading
""")


async def explain(session: AsyncSession, ids: list[uuid.UUID], *, heartbeat_seconds: float) -> dict[uuid.UUID, Waiting]:
    """For each queued document among `ids`: how many are ahead of it and why it waits. Another
    dealership's documents are never named; that all workers are busy is all it learns of them."""
    ahead = await waiting_behind(session, ids)
    if not ahead:
        return {}
    capacity = (await session.execute(_CAPACITY, {"stale": heartbeat_seconds * MISSED_BEATS})).one()
    explained: dict[uuid.UUID, Waiting] = {}
    for row in await session.execute(_WHY, {"ids": list(ahead)}):
        if row.id not in ahead:
            continue
        if row.suspended:
            reason: str | None = SUSPENDED
        elif not capacity.slots:
            reason = NO_WORKER
        elif row.retrying:
            reason = RETRYING
        elif row.reading is not None:
            reason = READING_OWN.format(filename=row.reading)
        elif capacity.reading >= capacity.slots:
            reason = ALL_BUSY.format(slots=capacity.slots)
        else:
            reason = None
        explained[row.id] = Waiting(ahead=ahead[row.id], reason=reason)
    return explained
