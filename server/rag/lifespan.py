"""The server's document services: built at start, model changes applied, workers started."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from server.rag.indexes import switch_models
from server.rag.services import RagServices, build_services
from server.rag.stores.pgvector import drop_index
from server.rag.worker import WorkerPool
from server.settings import Settings
from server.tasks import TaskSupervisor

log = logging.getLogger(__name__)


async def apply_model_change(services: RagServices) -> None:
    async with services.sessionmaker() as session, session.begin():
        changed = await switch_models(session, services.embedder)
    for _, name in changed:
        if name:
            await drop_index(services.engine, name)


@asynccontextmanager
async def rag_lifespan(settings: Settings, database_url: str, engine: AsyncEngine,
                       sessionmaker: async_sessionmaker[AsyncSession], redis: Redis | None,
                       tasks: TaskSupervisor) -> AsyncIterator[RagServices]:
    services = build_services(settings, engine, sessionmaker, redis)
    await apply_model_change(services)
    worker = None
    if settings.rag_workers > 0:
        pool = WorkerPool(services, concurrency=settings.rag_workers, database_url=database_url)
        worker = tasks.spawn("rag-workers", pool.run())
    log.info("documents ready", extra={"embedder": services.embedder.model, "store": services.store.name,
                                       "workers": settings.rag_workers})
    try:
        yield services
    finally:
        if worker is not None:
            worker.cancel()
            await asyncio.wait([worker], timeout=5)
        await services.close()
