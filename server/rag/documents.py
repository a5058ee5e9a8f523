"""Adding, deleting and re-indexing documents (used by the API and the CLI)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.errors import Conflict, SparringError
from server.rag import queue
from server.rag.indexes import bump_generation, ensure_index
from server.rag.models import Chunk, Document, DocumentFile, DocumentStatus
from server.rag.services import RagServices
from server.rag.upload import Upload


def duplicate(existing: Document) -> Conflict:
    return Conflict(f"{existing.filename} has the same content as a document you already have.",
                    code="duplicate_document",
                    details={"document_id": str(existing.id), "filename": existing.filename,
                             "status": existing.status})


async def add_documents(session: AsyncSession, services: RagServices, dealership_id: uuid.UUID,
                        uploads: Sequence[Upload], uploaded_by: uuid.UUID | None) -> list[Document]:
    """All or nothing: the first file refused raises (the caller's transaction then stores none)."""
    added = await add_each(session, services, dealership_id, uploads, uploaded_by)
    for outcome in added:
        if isinstance(outcome, SparringError):
            raise outcome
    return [d for d in added if isinstance(d, Document)]


async def add_each(session: AsyncSession, services: RagServices, dealership_id: uuid.UUID,
                   uploads: Sequence[Upload], uploaded_by: uuid.UUID | None) -> list[Document | SparringError]:
    """Each file on its own, in order: a Document queued, or why it was refused (same content as
    a document already there or earlier in this batch). Each insert is its own savepoint, so a
    file that loses a race leaves the others stored."""
    hashes = [u.sha256 for u in uploads]
    existing = {d.sha256: d for d in (await session.execute(select(Document).where(
        Document.dealership_id == dealership_id, Document.sha256.in_(hashes)))).scalars()}
    await ensure_index(session, dealership_id, services.embedder)
    seen: dict[str, str] = {}
    outcomes: list[Document | SparringError] = []
    for upload in uploads:
        if upload.sha256 in existing:
            outcomes.append(duplicate(existing[upload.sha256]))
        elif upload.sha256 in seen:
            outcomes.append(Conflict(f"{upload.filename} and {seen[upload.sha256]} have the same content.",
                                     code="duplicate_document",
                                     details={"filename": upload.filename, "same_as": seen[upload.sha256]}))
        else:
            seen[upload.sha256] = upload.filename
            outcomes.append(await _insert(session, dealership_id, upload, uploaded_by))
    documents = [d for d in outcomes if isinstance(d, Document)]
    if documents:
        for document in documents:
            await session.refresh(document)
        await queue.notify(session)
        services.wake.set()
    return outcomes


async def _insert(session: AsyncSession, dealership_id: uuid.UUID, upload: Upload,
                  uploaded_by: uuid.UUID | None) -> Document | SparringError:
    document = Document(dealership_id=dealership_id, filename=upload.filename, kind=upload.kind,
                        sha256=upload.sha256, size=upload.size, status=DocumentStatus.queued.value,
                        uploaded_by=uploaded_by)
    try:
        async with session.begin_nested():
            session.add(document)
            await session.flush()
            session.add(DocumentFile(document_id=document.id, data=upload.read()))
            await session.flush()
    except IntegrityError:  # the same file uploaded at the same moment by another request
        return Conflict(f"{upload.filename}: a document with the same content was just uploaded.",
                        code="duplicate_document", details={"filename": upload.filename})
    return document


async def delete_document(session: AsyncSession, services: RagServices, document: Document) -> None:
    """Every chunk and vector goes: the outside store first, so a failure there deletes nothing."""
    chunk_ids = list((await session.execute(select(Chunk.id).where(Chunk.document_id == document.id))).scalars())
    if chunk_ids and not services.store.in_postgres:
        await services.store.delete(document.dealership_id, chunk_ids)
    await session.delete(document)
    await session.flush()
    await bump_generation(session, document.dealership_id)
    # Heard on commit: a worker reading it stops at once (its heartbeat would notice within 2 s).
    await queue.notify_cancel(session, document.id)


async def reindex_document(session: AsyncSession, services: RagServices, document: Document) -> None:
    if document.status in (DocumentStatus.queued.value, DocumentStatus.processing.value):
        raise Conflict("The document is already queued or being processed.", code="document_busy",
                       details={"document_id": str(document.id), "status": document.status})
    await ensure_index(session, document.dealership_id, services.embedder)
    await session.execute(text("""
        UPDATE rag_document SET status = 'queued', error = NULL, attempts = 0, pages_done = 0, chunks_done = 0,
               queued_at = now(), run_after = now(), updated_at = now() WHERE id = :id
    """), {"id": document.id})
    await session.refresh(document)
    await queue.notify(session)
    services.wake.set()


async def forget_dealership(session: AsyncSession, services: RagServices, dealership_id: uuid.UUID) -> None:
    """Called as a dealership is deleted: its vectors leave the outside store (its Pinecone
    namespace) and its own HNSW index is dropped; rows go with the dealership's cascade."""
    from server.rag.models import RagIndex

    await services.store.drop_dealership(dealership_id)
    name = (await session.execute(select(RagIndex.hnsw_index).where(
        RagIndex.dealership_id == dealership_id))).scalar_one_or_none()
    if name:
        await session.execute(text(f'DROP INDEX IF EXISTS "{name}"'))
