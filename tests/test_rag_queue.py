"""The job queue: fair across dealerships, never stuck without a reason."""

from __future__ import annotations

import asyncio
import io
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from server.db.engine import create_engine, create_sessionmaker
from server.db.models import Dealership
from server.rag import queue
from server.rag.documents import add_documents
from server.rag.models import Document
from server.rag.services import RagServices, build_services
from server.rag.upload import check_upload
from tests.conftest import make_settings
from tests.rag_support import own_database  # noqa: F401  (fixture)


@pytest.fixture
async def services(own_database: str):  # noqa: F811
    engine = create_engine(own_database, pool_size=2)
    yield build_services(make_settings(own_database, rag_workers=0), engine, create_sessionmaker(engine), None)
    await engine.dispose()


async def _dealer_with_docs(services: RagServices, slug: str, count: int) -> uuid.UUID:
    async with services.sessionmaker() as session, session.begin():
        dealership = Dealership(name=slug, slug=slug, settings={})
        session.add(dealership)
        await session.flush()
        for n in range(count):
            upload = await check_upload(io.BytesIO(f"{slug} document {n}".encode()), f"{n}.txt", max_bytes=1024)
            await add_documents(session, services, dealership.id, [upload], None)
        return dealership.id


async def test_a_bulk_upload_does_not_starve_another_dealership(services: RagServices) -> None:
    bulk = await _dealer_with_docs(services, "bulk", 6)
    small = await _dealer_with_docs(services, "small", 2)  # uploaded after all of bulk's
    order = []
    for _ in range(8):
        async with services.sessionmaker() as session, session.begin():
            job = await queue.claim(session, lease_seconds=60)
        assert job is not None
        order.append("bulk" if job.dealership_id == bulk else "small")
    assert order[:4] == ["bulk", "small", "bulk", "small"]
    assert small  # both of small's jobs ran before bulk's third


async def test_a_job_whose_workers_keep_dying_fails_with_a_reason(services: RagServices) -> None:
    await _dealer_with_docs(services, "crashy", 1)
    for attempt in range(1, 4):  # each "worker" claims, then dies: its lease simply runs out
        async with services.sessionmaker() as session, session.begin():
            assert await queue.reap(session, max_attempts=3) == 0
            job = await queue.claim(session, lease_seconds=0.05)
        assert job is not None and job.attempts == attempt
        await asyncio.sleep(0.1)
    async with services.sessionmaker() as session, session.begin():
        assert await queue.reap(session, max_attempts=3) == 1
        assert await queue.claim(session, lease_seconds=60) is None
        document = (await session.execute(select(Document))).scalar_one()
    assert document.status == "failed"
    assert "stopped 3 times" in (document.error or "")


async def test_a_worker_shut_down_mid_job_hands_it_back_at_once(services: RagServices, own_database: str) -> None:  # noqa: F811
    from server.rag.worker import WorkerPool
    from tests.fixtures.make_documents import generated_pdf

    async with services.sessionmaker() as session, session.begin():
        dealership = Dealership(name="stop", slug="stop", settings={})
        session.add(dealership)
        await session.flush()
        upload = await check_upload(io.BytesIO(generated_pdf(150)), "big.pdf", max_bytes=10 * 1024 * 1024)
        document_id = (await add_documents(session, services, dealership.id, [upload], None))[0].id
    pool = WorkerPool(services, concurrency=1, database_url=own_database)
    task = asyncio.get_running_loop().create_task(pool.run())
    while True:
        async with services.sessionmaker() as session:
            document = await session.get(Document, document_id)
        assert document is not None
        if document.status == "processing":
            break
        await asyncio.sleep(0.02)
    task.cancel()
    await asyncio.wait([task], timeout=10)
    async with services.sessionmaker() as session:
        document = await session.get(Document, document_id)
    assert document is not None
    assert (document.status, document.attempts, document.lease_token) == ("queued", 0, None)


async def test_a_dealership_being_read_waits_while_others_go_first_and_each_is_told_why(
        services: RagServices) -> None:
    from server.rag import presence

    bulk = await _dealer_with_docs(services, "bulk", 3)
    small = await _dealer_with_docs(services, "small", 1)
    late = await _dealer_with_docs(services, "late", 1)
    heartbeat = 10.0
    async with services.sessionmaker() as session, session.begin():
        await presence.beat(session, presence.me(concurrency=2), heartbeat_seconds=heartbeat)

    async def claim(idle_only: bool) -> uuid.UUID | None:
        async with services.sessionmaker() as session, session.begin():
            job = await queue.claim(session, lease_seconds=60, idle_only=idle_only)
        return None if job is None else job.dealership_id

    async def reasons() -> dict[uuid.UUID, list[str | None]]:
        async with services.sessionmaker() as session:
            queued = list((await session.execute(select(Document.id).where(Document.status == "queued"))).scalars())
            why = await presence.explain(session, queued, heartbeat_seconds=heartbeat)
            rows = await session.execute(select(Document.id, Document.dealership_id))
            owners = {row.id: row.dealership_id for row in rows}
        found: dict[uuid.UUID, list[str | None]] = {}
        for document_id, waiting in why.items():
            found.setdefault(owners[document_id], []).append(waiting.reason)
        return found

    assert await claim(idle_only=False) == bulk
    # A pool's last free slot takes only a dealership with nothing being read.
    assert await claim(idle_only=True) == small
    assert await claim(idle_only=True) == late
    assert await claim(idle_only=True) is None
    # Both slots of the one live worker are taken (by 3 jobs now: the pool above claimed freely).
    why = await reasons()
    async with services.sessionmaker() as session:  # (one transaction's documents queue by id: any may be first)
        reading = (await session.execute(select(Document.filename).where(
            Document.dealership_id == bulk, Document.status == "processing"))).scalar_one()
    assert why[bulk] == [presence.READING_OWN.format(filename=reading)] * 2
    assert small not in why and late not in why
    # Any free slot may still take a busy dealership's next document: nothing idles for nothing.
    assert await claim(idle_only=False) == bulk

    # Nothing of one's own being read, but every slot busy: that is the reason.
    other = await _dealer_with_docs(services, "other", 1)
    assert (await reasons())[other] == [presence.ALL_BUSY.format(slots=2)]
    # A document waiting for its retry says so.
    async with services.sessionmaker() as session, session.begin():
        await session.execute(Document.__table__.update().where(Document.dealership_id == other).values(
            run_after=func.now() + timedelta(minutes=5)))
    assert (await reasons())[other] == [presence.RETRYING]
