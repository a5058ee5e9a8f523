"""Each dealership's index record: model, dimension, generation (cache invalidation) and its
own HNSW index. Changing the embedding model re-queues the dealership's documents."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from server.rag.embeddings import Embedder
from server.rag.models import Document, DocumentStatus, RagIndex
from server.rag.stores.base import IndexInfo

log = logging.getLogger(__name__)


async def ensure_index(session: AsyncSession, dealership_id: uuid.UUID, embedder: Embedder) -> None:
    await session.execute(insert(RagIndex).values(
        dealership_id=dealership_id, model=embedder.model, dimension=embedder.dimension,
    ).on_conflict_do_nothing(index_elements=[RagIndex.dealership_id]))


async def load_index(session: AsyncSession, dealership_id: uuid.UUID) -> IndexInfo | None:
    row = await session.get(RagIndex, dealership_id, populate_existing=True)
    if row is None:
        return None
    return IndexInfo(dealership_id=row.dealership_id, model=row.model, dimension=row.dimension,
                     generation=row.generation, hnsw_index=row.hnsw_index)


async def bump_generation(session: AsyncSession, dealership_id: uuid.UUID) -> None:
    await session.execute(update(RagIndex).where(RagIndex.dealership_id == dealership_id)
                          .values(generation=RagIndex.generation + 1))


async def switch_models(session: AsyncSession, embedder: Embedder) -> list[tuple[uuid.UUID, str | None]]:
    """Point every index made with another model at `embedder` and re-queue its documents.

    Returns (dealership, old HNSW index name) pairs; the caller drops those indexes (outside
    this transaction, CONCURRENTLY). Old vectors stay filtered out by model until replaced.
    """
    rows = (await session.execute(select(RagIndex).where(
        (RagIndex.model != embedder.model) | (RagIndex.dimension != embedder.dimension)
    ).with_for_update())).scalars().all()
    changed = []
    for row in rows:
        log.info("embedding model changed; re-indexing", extra={
            "dealership_id": str(row.dealership_id), "old": row.model, "new": embedder.model})
        changed.append((row.dealership_id, row.hnsw_index))
        row.model, row.dimension, row.hnsw_index = embedder.model, embedder.dimension, None
        row.generation += 1
        await session.execute(update(Document).where(
            Document.dealership_id == row.dealership_id, Document.status == DocumentStatus.ready.value,
        ).values(status=DocumentStatus.queued.value, attempts=0, queued_at=text("now()"),
                 run_after=text("now()"), chunks_done=0, pages_done=0))
    return changed
