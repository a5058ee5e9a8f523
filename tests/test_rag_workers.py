"""Worker presence: a document never waits silently. With no worker running (RAG_WORKERS=0 and
no `sparring worker`), a queued document says why; once a worker runs, it is processed."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from server.app import create_app
from server.db.models import Role
from server.rag import presence
from server.rag.models import RagWorker
from server.rag.worker import WorkerPool
from server.state import AppState
from tests.conftest import World, make_settings
from tests.rag_support import own_database, upload, wait_for  # noqa: F401  (fixture)

HEARTBEAT = 0.5


@pytest.fixture
async def no_worker(own_database: str) -> AsyncIterator[tuple[httpx.AsyncClient, World]]:  # noqa: F811
    application = create_app(make_settings(own_database, rag_workers=0, rag_worker_heartbeat_seconds=HEARTBEAT))
    async with application.router.lifespan_context(application):
        state: AppState = application.state.sparring
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client, World(client, state)


async def _workers(state: AppState) -> int:
    async with state.sessionmaker() as session:
        return int((await session.execute(select(func.count()).select_from(RagWorker))).scalar_one())


async def test_a_queued_document_says_why_until_a_worker_runs(
        no_worker: tuple[httpx.AsyncClient, World], own_database: str) -> None:  # noqa: F811
    client, world = no_worker
    admin = await world.account(Role.dealership_admin, await world.dealership())
    response = await upload(client, admin, ("first.txt", b"Acknowledge the objection first. " * 20),
                            ("second.txt", b"Ask a discovery question about the budget. " * 20))
    assert response.status_code == 202, response.text
    first, second = (d["id"] for d in response.json()["documents"])
    # A worker that died without leaving (its row stale) does not count as running.
    async with world.state.sessionmaker() as session, session.begin():
        session.add(RagWorker(id=uuid.uuid4(), host="gone", pid=1, concurrency=1,
                              last_seen=datetime.now(UTC) - timedelta(hours=1)))

    detail = (await client.get(f"/api/v1/rag/documents/{second}", headers=admin.headers)).json()
    assert detail["status"] == "queued" and detail["error"] is None
    assert detail["status_reason"] == presence.NO_WORKER and "sparring worker" in detail["status_reason"]
    listed = (await client.get("/api/v1/rag/documents", headers=admin.headers)).json()["items"]
    # One upload's files share a queue time; the queue (and so the count) then goes by id.
    assert {d["id"] for d in listed} == {first, second}
    assert sorted(d["waiting_behind"] for d in listed) == [0, 1]
    assert {d["status_reason"] for d in listed} == {presence.NO_WORKER}
    assert detail["waiting_behind"] == next(d["waiting_behind"] for d in listed if d["id"] == second)

    assert world.state.rag is not None
    pool = WorkerPool(world.state.rag, concurrency=1, database_url=own_database)
    worker = asyncio.create_task(pool.run(), name="test-rag-worker")
    try:
        for document_id in (first, second):
            done = await wait_for(client, admin, document_id)
            assert done["status"] == "ready" and done["status_reason"] is None and done["waiting_behind"] is None
        assert await _workers(world.state) == 1  # its own row; the stale one was pruned by its beat
        # A queued document with a live worker gives no reason (it is simply next in line).
        again = await client.post(f"/api/v1/rag/documents/{first}/reindex", headers=admin.headers)
        assert again.status_code == 202
        body = (await client.get(f"/api/v1/rag/documents/{first}", headers=admin.headers)).json()
        assert body["status"] != "queued" or body["status_reason"] is None
        await wait_for(client, admin, first)
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
    assert await _workers(world.state) == 0  # a worker stopped cleanly leaves at once


async def test_a_worker_that_stops_beating_is_no_longer_counted(
        no_worker: tuple[httpx.AsyncClient, World]) -> None:
    _, world = no_worker
    me = presence.me(concurrency=2)
    async with world.state.sessionmaker() as session, session.begin():
        await presence.beat(session, me, heartbeat_seconds=HEARTBEAT)
        assert await presence.live_workers(session, heartbeat_seconds=HEARTBEAT) == 1
    deadline = time.monotonic() + 10
    while True:  # no timing assertion: wait until the database clock passes three heartbeats
        async with world.state.sessionmaker() as session:
            if await presence.live_workers(session, heartbeat_seconds=HEARTBEAT) == 0:
                break
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
