"""A worker PROCESS killed (SIGKILL) mid-document loses nothing: another worker picks the job up
after its lease runs out and the document ends ready exactly once, with no duplicate chunks.

Runs in a database of its own so the test app's in-process worker cannot take the job first.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from server.db.engine import create_engine, create_sessionmaker
from server.db.models import Dealership
from server.rag.documents import add_documents
from server.rag.models import Chunk, Document
from server.rag.services import build_services
from server.rag.upload import check_upload
from tests.conftest import ROOT, make_settings
from tests.fixtures.make_documents import generated_pdf
from tests.rag_support import own_database  # noqa: F401  (fixture)


def _start_worker(url: str, log: Path, *, concurrency: str = "1",
                  data_dir: Path | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": url, "ENVIRONMENT": "test", "JWT_SECRET": "t" * 40,
           "RAG_LEASE_SECONDS": "2", "RAG_POLL_SECONDS": "0.2", "EMBEDDING_BATCH_SIZE": "8",
           "OPENAI_API_KEY": "", "REDIS_URL": "", "LOG_LEVEL": "WARNING"}
    if data_dir is not None:
        env["DATA_DIR"] = str(data_dir)
    return subprocess.Popen([sys.executable, "-m", "server.cli", "worker", "--concurrency", concurrency],
                            cwd=ROOT, env=env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)


async def _document(engine: AsyncEngine, document_id: uuid.UUID) -> tuple[Document, int, int]:
    async with create_sessionmaker(engine)() as session:
        doc = await session.get(Document, document_id)
        assert doc is not None
        rows, positions = (await session.execute(select(func.count(), func.count(Chunk.position.distinct())).where(
            Chunk.document_id == document_id))).one()
    return doc, int(rows), int(positions)


async def test_killed_worker_process_loses_nothing_and_duplicates_nothing(
        own_database: str, tmp_path: Path) -> None:  # noqa: F811
    settings = make_settings(own_database, rag_workers=0)
    engine = create_engine(own_database, pool_size=2)
    services = build_services(settings, engine, create_sessionmaker(engine), None)
    try:
        async with services.sessionmaker() as session, session.begin():
            dealership = Dealership(name="Durable Motors", slug="durable-motors", settings={})
            session.add(dealership)
            await session.flush()
            upload = await check_upload(io.BytesIO(generated_pdf(300)), "big.pdf", max_bytes=25 * 1024 * 1024)
            document_id = (await add_documents(session, services, dealership.id, [upload], None))[0].id

        log = tmp_path / "workers.log"
        first = _start_worker(own_database, log)
        deadline = time.monotonic() + 90
        while True:  # wait until chunks are being written, then kill without warning
            doc, rows, _ = await _document(engine, document_id)
            if doc.status == "processing" and doc.chunks_done > 0:
                break
            assert doc.status in ("queued", "processing"), (doc.status, doc.error, log.read_text())
            assert time.monotonic() < deadline and first.poll() is None, log.read_text()
            await asyncio.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)

        doc, rows, _ = await _document(engine, document_id)
        assert doc.status == "processing" and doc.attempts == 1
        assert rows == 0  # the killed transaction wrote nothing

        second = _start_worker(own_database, log)
        try:
            deadline = time.monotonic() + 90
            while (doc := (await _document(engine, document_id))[0]).status != "ready":
                assert doc.status != "failed", doc.error
                assert time.monotonic() < deadline and second.poll() is None, log.read_text()
                await asyncio.sleep(0.1)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=15)
        doc, rows, positions = await _document(engine, document_id)
        assert doc.attempts == 2  # picked up again, once
        assert doc.chunks > 0 and rows == doc.chunks == positions
        assert doc.pages == 300 and doc.lease_token is None
    finally:
        await services.close()
        await engine.dispose()


async def test_worker_processes_on_several_hosts_share_the_queue_fairly_and_exactly_once(
        own_database: str, tmp_path: Path) -> None:  # noqa: F811
    """Three `sparring worker` processes, each with a data directory of its own (three hosts), one
    killed outright mid-document: every document ends ready with its chunks written once, only
    the killed worker's document is read twice, and a dealership's bulk upload does not hold up
    another dealership's two files queued after it."""
    settings = make_settings(own_database, rag_workers=0)
    engine = create_engine(own_database, pool_size=2)
    services = build_services(settings, engine, create_sessionmaker(engine), None)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        ids: dict[str, list[uuid.UUID]] = {}
        seed = 0
        for name, count in (("bulk", 6), ("small", 2)):  # small's files are queued after all of bulk's
            async with services.sessionmaker() as session, session.begin():
                dealership = Dealership(name=f"{name} motors", slug=f"{name}-{uuid.uuid4().hex[:6]}", settings={})
                session.add(dealership)
                await session.flush()
                uploads = []
                for _ in range(count):
                    seed += 1
                    uploads.append(await check_upload(io.BytesIO(generated_pdf(24, seed=seed)), f"{name}{seed}.pdf",
                                                      max_bytes=25 * 1024 * 1024))
                ids[name] = [d.id for d in await add_documents(session, services, dealership.id, uploads, None)]

        log = tmp_path / "workers.log"
        everything = [*ids["bulk"], *ids["small"]]
        deadline = time.monotonic() + 180

        def host(n: int) -> subprocess.Popen[bytes]:
            data_dir = tmp_path / f"host{n}"
            data_dir.mkdir()
            return _start_worker(own_database, log, concurrency="1", data_dir=data_dir)

        # The worker to be killed starts alone, so the document it holds is known (the first
        # queued: a bulk one); killing a worker that held a small document would delay that
        # document by the lease and say nothing about fairness.
        workers.append(host(0))
        victim: uuid.UUID | None = None
        while victim is None:
            for document_id in everything:
                doc, _, _ = await _document(engine, document_id)
                if doc.status == "processing":
                    victim = document_id
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            await asyncio.sleep(0.05)
        assert victim in ids["bulk"]
        workers += [host(1), host(2)]
        killed = False
        while not killed:  # killed once it is well into the document (pages read or chunks written)
            doc, _, _ = await _document(engine, victim)
            assert doc.status == "processing", "the first worker finished before it could be killed"
            if doc.pages_done > 0 or doc.chunks_done > 0:
                workers[0].send_signal(signal.SIGKILL)
                workers[0].wait(timeout=10)
                killed = True
            await asyncio.sleep(0.01)
        ready_at: dict[uuid.UUID, float] = {}
        while len(ready_at) < len(everything):
            for document_id in everything:
                if document_id in ready_at:
                    continue
                doc, _, _ = await _document(engine, document_id)
                assert doc.status != "failed", doc.error
                if doc.status == "ready":
                    ready_at[document_id] = time.monotonic()
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            await asyncio.sleep(0.05)

        attempts = 0
        for document_id in everything:
            doc, rows, positions = await _document(engine, document_id)
            assert doc.chunks > 0 and rows == doc.chunks == positions  # each chunk written once
            assert doc.attempts in (1, 2) and doc.lease_token is None
            attempts += doc.attempts
        assert killed and attempts <= len(everything) + 1  # only what the killed worker held was read again
        bulk_done = sorted(ready_at[d] for d in ids["bulk"])
        assert max(ready_at[d] for d in ids["small"]) < bulk_done[-2]  # fairness: not behind the bulk
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
                worker.wait(timeout=15)
        await services.close()
        await engine.dispose()
