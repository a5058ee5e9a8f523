"""The per-user cap on concurrent voice sessions, shared through Redis (server/voice/slots.py).

Two `RedisSlots` on one Redis stand for two instances; the real server on REDIS_TEST_URL is
used under a key prefix of this run's own (skipped with the reason when Redis is down). The cap
across real server processes is checked end to end in tests/test_cluster.py."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from server.voice.slots import MemorySlots, RedisSlots

REDIS_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        await client.ping()
    except Exception as exc:
        await client.aclose()
        pytest.skip(f"Redis is not running on REDIS_TEST_URL ({exc})")
    yield client
    await client.aclose()


def _prefix() -> str:
    return f"test:slots:{uuid.uuid4().hex}:"


async def test_the_cap_holds_across_instances(redis: Redis) -> None:
    prefix = _prefix()
    a, b = RedisSlots(redis, 2, 30, prefix=prefix), RedisSlots(redis, 2, 30, prefix=prefix)
    user, other = uuid.uuid4(), uuid.uuid4()
    first = await a.acquire(user)
    second = await b.acquire(user)
    assert first and second
    assert await a.acquire(user) is None and await b.acquire(user) is None
    assert await b.acquire(other) is not None  # one user's cap is not another's
    await a.release(user, first)
    assert await b.acquire(user) is not None
    assert (a.held(), b.held()) == (0, 3)


async def test_racing_instances_never_exceed_the_cap(redis: Redis) -> None:
    prefix = _prefix()
    instances = [RedisSlots(redis, 3, 30, prefix=prefix) for _ in range(4)]
    user = uuid.uuid4()
    taken = await asyncio.gather(*(i.acquire(user) for i in instances for _ in range(5)))
    assert sum(slot is not None for slot in taken) == 3


async def test_a_dead_instances_slots_lapse_and_a_live_ones_do_not(redis: Redis) -> None:
    prefix = _prefix()
    crashed, alive = RedisSlots(redis, 1, 0.6, prefix=prefix), RedisSlots(redis, 1, 0.6, prefix=prefix)
    user, kept = uuid.uuid4(), uuid.uuid4()
    assert await crashed.acquire(user) is not None  # never refreshed: its instance died
    assert await alive.acquire(kept) is not None
    keeper = asyncio.get_running_loop().create_task(alive.run())  # refreshes every ttl/3
    try:
        assert await alive.acquire(user) is None
        await asyncio.sleep(1.0)
        assert await alive.acquire(user) is not None  # the dead instance's slot lapsed
        assert await crashed.acquire(kept) is None  # the live one's did not
    finally:
        keeper.cancel()
        await asyncio.wait([keeper])


async def test_memory_slots_count_this_process() -> None:
    slots = MemorySlots(1)
    user = uuid.uuid4()
    slot = await slots.acquire(user)
    assert slot is not None and await slots.acquire(user) is None
    await slots.release(user, slot)
    assert await slots.acquire(user) is not None and slots.held() == 1
