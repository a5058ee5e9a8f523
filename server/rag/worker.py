"""Ingestion workers: in the server process by default (`RAG_WORKERS`), or on their own with
`sparring worker`. They wake on NOTIFY from any process's upload, and poll as a fallback.

A pool runs up to `concurrency` jobs at once (each file read in its own child process). Claims
are made one at a time; the last free slot of a pool of two or more only takes a document of a
dealership with nothing being read, so one dealership's slow files leave room for the others.
A cancel notice (a document deleted) stops the job reading it at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any

import asyncpg

from server.rag import presence, queue
from server.rag.ingest import run_job
from server.rag.services import RagServices

log = logging.getLogger(__name__)


class WorkerPool:
    def __init__(self, services: RagServices, *, concurrency: int, database_url: str) -> None:
        self.services = services
        self.concurrency = concurrency
        self.database_url = database_url
        self.processed = 0
        self.in_flight = 0
        self._claiming = asyncio.Lock()

    async def run(self) -> None:
        try:
            await self.services.extractors.warm(1)
        except OSError as exc:  # each job will try to start its own reader, and say so if it cannot
            log.error("could not start a document reader process", extra={"error": str(exc)})
        async with contextlib.AsyncExitStack() as stack:
            listener = await self._listen()
            if listener is not None:
                stack.push_async_callback(listener.close)
            async with asyncio.TaskGroup() as group:
                group.create_task(self._heartbeat(), name="rag-worker-heartbeat")
                for number in range(self.concurrency):
                    group.create_task(self._loop(), name=f"rag-worker-{number}")

    async def _heartbeat(self) -> None:
        """Keep this pool's `rag_worker` row fresh, so queued documents know a worker is coming."""
        me = presence.me(self.concurrency)
        interval = self.services.settings.rag_worker_heartbeat_seconds
        try:
            while True:
                try:
                    async with self.services.sessionmaker() as session, session.begin():
                        await presence.beat(session, me, heartbeat_seconds=interval)
                except Exception as exc:  # the database may be restarting: beat again later
                    log.warning("worker heartbeat failed", extra={"error": str(exc)})
                await asyncio.sleep(interval)
        finally:
            # Leave at once on a clean stop (a killed worker's row simply goes stale).
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2), self.services.sessionmaker() as session, session.begin():
                    await presence.leave(session, me)

    async def _listen(self) -> Any:
        def wake(*_: object) -> None:
            self.services.wake.set()

        def cancel(_conn: object, _pid: int, _channel: str, payload: str) -> None:
            with contextlib.suppress(ValueError):
                stop = self.services.running.get(uuid.UUID(payload))
                if stop is not None:
                    stop.now()

        try:
            conn = await asyncpg.connect(self.database_url.replace("postgresql+asyncpg://", "postgresql://"))
            await conn.add_listener(queue.CHANNEL, wake)
            await conn.add_listener(queue.CANCEL_CHANNEL, cancel)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("job notifications unavailable; polling only", extra={"error": str(exc)})
            return None
        return conn

    async def _loop(self) -> None:
        settings = self.services.settings
        while True:
            try:
                job = await self.claim_one()
            except Exception as exc:  # the database may be restarting: keep the worker alive
                log.error("claiming a job failed", exc_info=exc)
                job = None
            if job is not None:
                try:
                    await run_job(self.services, job)
                finally:
                    self.in_flight -= 1
                    self.services.wake.set()  # a slot is free: a loop held back by `idle_only` may claim now
                self.processed += 1
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.services.wake.wait(), timeout=settings.rag_poll_seconds)
            self.services.wake.clear()

    async def claim_one(self) -> queue.Job | None:
        """Claim a job for a free slot (counted in `in_flight` until the caller's job ends)."""
        settings = self.services.settings
        async with self._claiming:
            idle_only = self.concurrency > 1 and self.concurrency - self.in_flight <= 1
            async with self.services.sessionmaker() as session, session.begin():
                await queue.reap(session, max_attempts=settings.rag_max_attempts)
                job = await queue.claim(session, lease_seconds=settings.rag_lease_seconds, idle_only=idle_only)
            if job is not None:
                self.in_flight += 1
            return job

    async def drain(self) -> int:
        """Process jobs until none is ready (tests, benchmarks)."""
        done = 0
        while (job := await self.claim_one()) is not None:
            try:
                await run_job(self.services, job)
            finally:
                self.in_flight -= 1
            done += 1
        return done

    async def drain_until(self, ids: list[object]) -> None:
        """Keep working until cancelled (`sparring ingest` cancels once `ids` are all done)."""
        while True:
            if await self.drain() == 0:
                await asyncio.sleep(0.2)
