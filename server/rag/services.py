"""Everything document ingestion and retrieval need, built once per process (server or worker)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from server.rag.cache import RetrievalCache, build_cache
from server.rag.embeddings import Embedder, build_embedder
from server.rag.extractor.pool import ExtractorPool, Limits
from server.rag.stores.base import VectorStore
from server.settings import Settings
from server.tasks import Interruption


@dataclass
class RagServices:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    embedder: Embedder
    store: VectorStore
    cache: RetrievalCache
    # Child processes that read the files (bounded, killable).
    extractors: ExtractorPool
    # Set by in-process uploads so local workers start at once (others hear NOTIFY or poll).
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    # The jobs this process runs now, by document: a cancel notice stops one at once.
    running: dict[uuid.UUID, Interruption] = field(default_factory=dict)

    async def close(self) -> None:
        await self.extractors.close()
        await self.cache.drain()
        await self.store.close()
        await self.embedder.close()


def build_store(settings: Settings) -> VectorStore:
    if settings.vector_store == "pinecone":
        from server.rag.stores.pinecone import PineconeStore

        assert settings.pinecone_api_key and settings.pinecone_host
        return PineconeStore(api_key=settings.pinecone_api_key, host=settings.pinecone_host)
    from server.rag.stores.pgvector import PgVectorStore

    return PgVectorStore()


def build_services(settings: Settings, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession],
                   redis: Redis | None, *, embedder: Embedder | None = None,
                   store: VectorStore | None = None) -> RagServices:
    return RagServices(settings=settings, engine=engine, sessionmaker=sessionmaker,
                       embedder=embedder or build_embedder(settings), store=store or build_store(settings),
                       cache=build_cache(redis, settings.rag_cache_seconds),
                       extractors=ExtractorPool(extraction_limits(settings)))


def extraction_limits(settings: Settings) -> Limits:
    return Limits(seconds=settings.rag_extract_seconds, page_seconds=settings.rag_extract_page_seconds,
                  memory_mb=settings.rag_extract_memory_mb)
