"""One ingestion job: extract -> chunk -> embed -> write, with progress and a lease heartbeat.

All chunks of a document are replaced in ONE transaction (delete, insert, mark ready, bump the
generation), so a worker killed at any point leaves the previous state intact and the retry
writes the same deterministic chunk ids once. Failures a person can fix end as `failed` with a
readable reason and no chunks; anything else is retried with backoff, then failed.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Dealership
from server.errors import SparringError
from server.rag import queue
from server.rag.chunking import DEFAULT_OVERLAP, DEFAULT_SIZE, Piece, chunk_id
from server.rag.extract import ExtractionError
from server.rag.extractor.pool import ChildDied, Request
from server.rag.indexes import bump_generation, load_index
from server.rag.models import Chunk, Document, DocumentFile
from server.rag.services import RagServices
from server.rag.stores.base import IndexInfo, VectorRecord
from server.tasks import Interruption
from server.webhooks import events as webhook_events
from server.webhooks.models import EventType

log = logging.getLogger(__name__)


class LeaseLost(Exception):
    """Another worker owns the job now; stop without writing."""


@dataclass
class Progress:
    pages: int | None = None
    pages_done: int = 0
    chunks_done: int = 0
    lost: bool = False


async def run_job(services: RagServices, job: queue.Job) -> None:
    progress = Progress()
    started = time.perf_counter()
    # Stopped by the heartbeat (lease lost: the document was deleted or another worker took it)
    # or by a cancel notice: whatever runs, an extraction child included, ends at once.
    stop = Interruption()
    services.running[job.document_id] = stop
    try:
        async with asyncio.TaskGroup() as group:
            beat = group.create_task(_heartbeat(services, job, progress, stop),
                                     name=f"rag-lease-{job.document_id}")
            try:
                with stop:
                    await _process(services, job, progress)
                if stop.happened:
                    raise LeaseLost
            except asyncio.CancelledError:
                # Shutting down: hand the job back now instead of making it wait out its lease.
                await asyncio.shield(_release(services, job))
                raise
            except LeaseLost:
                log.warning("job stopped: the document was deleted or another worker has it",
                            extra={"document_id": str(job.document_id)})
            except ExtractionError as exc:
                await _finish_failed(services, job, str(exc))
            except Exception as exc:
                await _failed_attempt(services, job, exc)
            finally:
                beat.cancel()
    finally:
        services.running.pop(job.document_id, None)
    log.info("document processed", extra={"document_id": str(job.document_id),
                                          "seconds": round(time.perf_counter() - started, 3)})


async def _release(services: RagServices, job: queue.Job) -> None:
    try:
        async with services.sessionmaker() as session, session.begin():
            await session.execute(text("""
                UPDATE rag_document SET status = 'queued', lease_token = NULL, lease_until = NULL,
                       attempts = greatest(attempts - 1, 0), run_after = now(), updated_at = now()
                WHERE id = :id AND lease_token = :token
            """), {"id": job.document_id, "token": job.lease_token})
    except Exception as exc:  # the lease will expire instead
        log.warning("could not hand the job back", extra={"error": str(exc)})


async def _heartbeat(services: RagServices, job: queue.Job, progress: Progress, stop: Interruption) -> None:
    period = min(services.settings.rag_lease_seconds / 3, 2.0)
    while True:
        await asyncio.sleep(period)
        try:
            async with services.sessionmaker() as session, session.begin():
                alive = await queue.extend(session, job, lease_seconds=services.settings.rag_lease_seconds,
                                           pages=progress.pages, pages_done=progress.pages_done,
                                           chunks_done=progress.chunks_done)
        except Exception as exc:  # a missed beat is survivable; the lease outlasts a few of them
            log.warning("lease heartbeat failed", extra={"error": str(exc)})
            continue
        if not alive:
            progress.lost = True
            stop.now()
            return


async def _process(services: RagServices, job: queue.Job, progress: Progress) -> None:
    async with services.sessionmaker() as session:
        document = await session.get(Document, job.document_id)
        data = (await session.execute(select(DocumentFile.data).where(
            DocumentFile.document_id == job.document_id))).scalar_one_or_none()
        dealership = await session.get(Dealership, job.dealership_id)
        index = await load_index(session, job.dealership_id)
    if document is None or data is None or dealership is None or index is None:
        return  # deleted while queued: nothing to do
    size = int((dealership.settings or {}).get("chunk_size", DEFAULT_SIZE))
    overlap = int((dealership.settings or {}).get("chunk_overlap", DEFAULT_OVERLAP))
    max_docx = services.settings.max_docx_uncompressed_mb * 1024 * 1024
    request = Request(kind=document.kind, data=data, max_docx_bytes=max_docx, size=size, overlap=overlap)
    del data, document

    def on_page(number: int, total: int) -> None:
        progress.pages, progress.pages_done = total, number - 1

    try:
        result = await services.extractors.extract(request, on_page)
    except ChildDied as exc:
        raise SparringError("The document reader stopped unexpectedly.") from exc
    del request
    if result.pages is not None:
        progress.pages = progress.pages_done = result.pages
    elif result.last_page is not None:
        progress.pages = progress.pages_done = result.last_page
    if not result.pieces:
        raise ExtractionError("The document contains no text.")
    await _write(services, job, index, result.pieces, progress)


async def _write(services: RagServices, job: queue.Job, index: IndexInfo, pieces: list[Piece],
                 progress: Progress) -> None:
    embedder, store = services.embedder, services.store
    batch_size = services.settings.embedding_batch_size
    new_ids = {chunk_id(job.document_id, piece.position) for piece in pieces}
    async with services.sessionmaker() as session, session.begin():
        old_ids = set(await _delete_chunks(session, job.document_id))
        for start in range(0, len(pieces), batch_size):
            if progress.lost:
                raise LeaseLost
            batch = pieces[start:start + batch_size]
            vectors = await embedder.embed_documents([p.text for p in batch])
            rows = [_row(job, piece, vector, embedder.model, store.in_postgres)
                    for piece, vector in zip(batch, vectors, strict=True)]
            await session.execute(insert(Chunk), rows)
            if not store.in_postgres:
                await store.upsert(index, [VectorRecord(chunk_id=r["id"], document_id=job.document_id,
                                                        vector=v) for r, v in zip(rows, vectors, strict=True)])
            progress.chunks_done = min(start + batch_size, len(pieces))
        finished = await session.execute(text("""
            UPDATE rag_document SET status = 'ready', error = NULL, chunks = :n, chunks_done = :n,
                   pages = :pages, pages_done = coalesce(:pages, 0), lease_token = NULL, lease_until = NULL,
                   updated_at = now()
            WHERE id = :id AND lease_token = :token RETURNING id, filename, kind, size, pages
        """), {"n": len(pieces), "pages": progress.pages, "id": job.document_id, "token": job.lease_token})
        ready = finished.one_or_none()
        if ready is None:
            raise LeaseLost
        await bump_generation(session, job.dealership_id)
        # In the same transaction as `ready`: the event exists exactly when the document does.
        await webhook_events.emit(session, dealership_id=job.dealership_id, type=EventType.document_ready, data={
            "document_id": str(job.document_id), "filename": ready.filename, "kind": ready.kind,
            "size": ready.size, "pages": ready.pages, "chunks": len(pieces)})
    stale = old_ids - new_ids
    if stale and not store.in_postgres:
        await store.delete(job.dealership_id, sorted(stale))
    if store.in_postgres:
        from server.rag.stores.pgvector import ensure_index

        await ensure_index(services.engine, job.dealership_id, exact_scan_max=services.settings.rag_exact_scan_max)


def _row(job: queue.Job, piece: Piece, vector: list[float], model: str, in_postgres: bool) -> dict[str, Any]:
    return {"id": chunk_id(job.document_id, piece.position), "dealership_id": job.dealership_id,
            "document_id": job.document_id, "position": piece.position, "page": piece.page,
            "page_end": piece.page_end, "heading": piece.heading, "text": piece.text.replace("\x00", ""),
            "text_hash": piece.text_hash, "model": model, "embedding": vector if in_postgres else None}


async def _delete_chunks(session: AsyncSession, document_id: uuid.UUID) -> list[uuid.UUID]:
    result = await session.execute(delete(Chunk).where(Chunk.document_id == document_id).returning(Chunk.id))
    return list(result.scalars())


async def _finish_failed(services: RagServices, job: queue.Job, reason: str) -> None:
    async with services.sessionmaker() as session, session.begin():
        removed = await _delete_chunks(session, job.document_id)
        result = await session.execute(text("""
            UPDATE rag_document SET status = 'failed', error = :reason, chunks = 0, chunks_done = 0,
                   lease_token = NULL, lease_until = NULL, updated_at = now()
            WHERE id = :id AND lease_token = :token RETURNING id, filename
        """), {"reason": reason, "id": job.document_id, "token": job.lease_token})
        failed = result.one_or_none()
        if failed is None:
            await session.rollback()
            return  # another worker owns the job now and will record the outcome
        await webhook_events.emit(session, dealership_id=job.dealership_id, type=EventType.document_failed,
                                  data={"document_id": str(job.document_id), "filename": failed.filename,
                                        "error": reason})
        if removed:
            await bump_generation(session, job.dealership_id)
    if removed and not services.store.in_postgres:
        await services.store.delete(job.dealership_id, removed)
    log.info("document failed", extra={"document_id": str(job.document_id), "reason": reason})


async def _failed_attempt(services: RagServices, job: queue.Job, exc: Exception) -> None:
    reason = exc.message if isinstance(exc, SparringError) else "An internal error stopped processing."
    log.error("document processing error", exc_info=exc, extra={"document_id": str(job.document_id)})
    if job.attempts >= services.settings.rag_max_attempts:
        await _finish_failed(services, job, f"Processing failed after {job.attempts} attempts: {reason}")
        return
    async with services.sessionmaker() as session, session.begin():
        await queue.retry_later(session, job, reason=f"Will retry: {reason}", delay_seconds=5.0 * 2**job.attempts)
