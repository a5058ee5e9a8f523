"""`sparring ingest` and `sparring worker`: bulk loads and stand-alone ingestion workers."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from sqlalchemy import func, select

from server.db.engine import create_engine, create_sessionmaker
from server.db.migrate import upgrade_head_async
from server.db.models import Dealership
from server.errors import SparringError
from server.rag.documents import add_documents
from server.rag.lifespan import apply_model_change
from server.rag.models import Document
from server.rag.services import RagServices, build_services
from server.rag.upload import check_upload
from server.rag.worker import WorkerPool
from server.settings import Settings

SUFFIXES = {".pdf", ".docx", ".txt", ".md", ".markdown", ".text"}


def expand(paths: Sequence[str]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES))
        else:
            files.append(path)
    return files


class ProgressBar:
    def __init__(self, total: int, out: TextIO = sys.stderr, width: int = 30) -> None:
        self.total, self.out, self.width = total, out, width

    def show(self, done: int, ready: int, failed: int, label: str = "") -> None:
        filled = int(self.width * done / self.total) if self.total else self.width
        bar = "#" * filled + "." * (self.width - filled)
        self.out.write(f"\r[{bar}] {done}/{self.total} ready {ready} failed {failed} {label[:40]:<40}")
        self.out.flush()

    def close(self) -> None:
        self.out.write("\n")


async def ingest_paths(settings: Settings, database_url: str, paths: Sequence[str], slug: str,
                       *, out: TextIO = sys.stderr) -> int:
    await upgrade_head_async(database_url)
    engine = create_engine(database_url, pool_size=4)
    services = build_services(settings, engine, create_sessionmaker(engine), None)
    try:
        async with services.sessionmaker() as session:
            dealership = (await session.execute(select(Dealership).where(Dealership.slug == slug))).scalar_one_or_none()
        if dealership is None:
            print(f"error: no dealership with slug {slug!r}", file=out)
            return 1
        files = expand(paths)
        ids, skipped = [], 0
        for path in files:
            try:
                ids.append(await _add(services, dealership.id, path))
            except (SparringError, OSError) as exc:
                skipped += 1
                message = exc.message if isinstance(exc, SparringError) else str(exc)
                print(f"skipped {path}: {message}", file=out)
        if not ids:
            return 1 if skipped else 0
        failed = await _process(services, ids, ProgressBar(len(ids), out))
        return 1 if failed or skipped else 0
    finally:
        await services.close()
        await engine.dispose()


async def _add(services: RagServices, dealership_id: object, path: Path) -> object:
    with path.open("rb") as fh:
        upload = await check_upload(fh, path.name, max_bytes=services.settings.max_upload_mb * 1024 * 1024)
        async with services.sessionmaker() as session, session.begin():
            documents = await add_documents(session, services, dealership_id, [upload], None)  # type: ignore[arg-type]
    return documents[0].id


async def _process(services: RagServices, ids: list[object], bar: ProgressBar) -> int:
    """Work through the queue here (server workers may help) while drawing progress."""
    pool = WorkerPool(services, concurrency=1, database_url="")
    async with asyncio.TaskGroup() as group:
        worker = group.create_task(pool.drain_until(ids))
        while True:
            async with services.sessionmaker() as session:
                rows = dict((await session.execute(select(Document.status, func.count()).where(
                    Document.id.in_(ids)).group_by(Document.status))).tuples().all())
            ready, failed = rows.get("ready", 0), rows.get("failed", 0)
            bar.show(ready + failed, ready, failed)
            if ready + failed == len(ids):
                break
            await asyncio.sleep(0.25)
        worker.cancel()
    bar.close()
    async with services.sessionmaker() as session:
        for name, error in (await session.execute(select(Document.filename, Document.error).where(
                Document.id.in_(ids), Document.status == "failed"))).tuples():
            print(f"failed {name}: {error}", file=bar.out)
    return int(failed)


async def run_worker(settings: Settings, database_url: str, concurrency: int) -> int:
    await upgrade_head_async(database_url)
    engine = create_engine(database_url, pool_size=concurrency + 2)
    services = build_services(settings, engine, create_sessionmaker(engine), None)
    await apply_model_change(services)
    pool = WorkerPool(services, concurrency=concurrency, database_url=database_url)
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, task.cancel)  # type: ignore[union-attr]
    print(f"worker ready ({concurrency} at a time, embedder {services.embedder.model}, "
          f"store {services.store.name})", file=sys.stderr, flush=True)
    started = time.monotonic()
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await pool.run()
    finally:
        await services.close()
        await engine.dispose()
    print(f"worker stopped after {time.monotonic() - started:.0f}s, {pool.processed} documents", file=sys.stderr)
    return 0
