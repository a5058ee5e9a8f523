"""`sparring ingest` (bulk load with a progress bar), `sparring seed-demo`'s sample documents,
and the Redis-backed retrieval cache."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import func, select

from server.db.engine import create_engine, create_sessionmaker
from server.db.models import Dealership
from server.demo import DEMO_SLUG, seed_demo
from server.rag.cache import RedisBackend, RetrievalCache
from server.rag.models import Document
from server.state import AppState
from tests.conftest import ROOT
from tests.rag_support import DOCS, own_database  # noqa: F401  (fixture)


async def test_cli_ingest_loads_a_folder_with_progress(own_database: str, tmp_path) -> None:  # noqa: F811
    engine = create_engine(own_database, pool_size=1)
    async with create_sessionmaker(engine)() as session, session.begin():
        session.add(Dealership(name="Bulk Motors", slug="bulk-motors", settings={}))
    (tmp_path / "notes.txt").write_bytes((DOCS / "word-tracks.txt").read_bytes())  # a duplicate: skipped
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n")  # not a known suffix: ignored
    env = {**os.environ, "DATABASE_URL": own_database, "ENVIRONMENT": "test", "JWT_SECRET": "t" * 40,
           "OPENAI_API_KEY": "", "LOG_LEVEL": "WARNING"}
    result = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "server.cli", "ingest", str(DOCS), str(tmp_path),
                         "--dealership", "bulk-motors"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120)
    assert "3/3 ready 3 failed 0" in result.stderr, result.stderr
    assert "skipped" in result.stderr and "notes.txt" in result.stderr
    assert result.returncode == 1  # something was skipped
    async with create_sessionmaker(engine)() as session:
        statuses = list((await session.execute(select(Document.status))).scalars())
    assert statuses == ["ready"] * 3
    await engine.dispose()

    missing = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "server.cli", "ingest", str(DOCS), "--dealership", "nope"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "no dealership" in missing.stderr


async def test_seed_demo_queues_the_sample_documents_once(state: AppState, app) -> None:
    for _ in range(2):
        async with state.sessionmaker() as session:
            await seed_demo(session, state.settings)
            await session.commit()
    async with state.sessionmaker() as session:
        dealership = (await session.execute(select(Dealership).where(Dealership.slug == DEMO_SLUG))).scalar_one()
        count = await session.scalar(select(func.count()).select_from(Document).where(
            Document.dealership_id == dealership.id))
    assert count == 3


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/15"), socket_connect_timeout=1)
    try:
        await client.ping()
    except (RedisConnectionError, OSError):
        await client.aclose()
        pytest.skip("Redis is not running on REDIS_TEST_URL")
    yield client
    await client.aclose()


@pytest.mark.redis
async def test_redis_cache_keys_are_per_dealership_and_generation(redis: Redis) -> None:
    cache = RetrievalCache(RedisBackend(redis), ttl=30)
    a, b = uuid.uuid4(), uuid.uuid4()
    key_a = cache.results_key(a, 1, "m", 5, "Price  too HIGH")
    cache.put_results(key_a, [{"text": "a"}])
    await cache.drain()  # written behind: a search does not wait for it
    assert await cache.results(cache.results_key(a, 1, "m", 5, "price too high")) == [{"text": "a"}]
    assert await cache.results(cache.results_key(b, 1, "m", 5, "price too high")) is None
    assert await cache.results(cache.results_key(a, 2, "m", 5, "price too high")) is None
    cache.put_embedding("m", "hello", [0.5, 0.25])
    await cache.drain()
    assert await cache.embedding("m", "hello") == [0.5, 0.25]
    await redis.delete(key_a)


@pytest.mark.redis
async def test_redis_cache_writes_do_not_hold_up_a_search(redis: Redis) -> None:
    """A search hands its results over without waiting for Redis: writes go behind it."""
    cache = RetrievalCache(RedisBackend(redis), ttl=30)
    key = cache.results_key(uuid.uuid4(), 1, "m", 5, "written behind")
    await redis.execute_command("CLIENT", "PAUSE", "400", "WRITE")  # reads go on, writes wait
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        cache.put_results(key, [{"text": "a"}])
        cache.put_embedding("m", "written behind", [0.5])
        assert await cache.results(key) is None  # not written yet: Redis holds writes back
        await cache.drain()
        assert loop.time() - started >= 0.3
        assert await cache.results(key) == [{"text": "a"}]
        assert await cache.embedding("m", "written behind") == [0.5]
    finally:
        await redis.execute_command("CLIENT", "UNPAUSE")
        await redis.delete(key)
