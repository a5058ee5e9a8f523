"""Login throttle (10 per minute per email+IP) with the in-process limiter and with Redis.

The Redis tests use the real server on REDIS_TEST_URL (default redis://127.0.0.1:6379) under
a key prefix of their own; when it is down they are skipped with the reason, never passed."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from server.app import create_app
from server.ratelimit import MemoryLimiter, RedisLimiter
from tests.conftest import World, inside_one_rate_window, make_settings

REDIS_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/0")


async def _throttled_after_ten(client: httpx.AsyncClient, email: str, password: str = "wrong-password") -> None:
    await inside_one_rate_window()  # exact counts below
    for attempt in range(10):
        response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
        assert response.status_code in (200, 401), (attempt, response.text)
    blocked = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert blocked.status_code == 429
    error = blocked.json()["error"]
    assert error["code"] == "rate_limited" and error["message"]
    retry_after = int(blocked.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert error["details"] == {"retry_after": retry_after}


async def test_login_is_throttled_per_email_and_ip(client: httpx.AsyncClient, world: World) -> None:
    root = await world.root()
    app = client._transport.app  # type: ignore[attr-defined]
    transport = httpx.ASGITransport(app=app, client=("198.51.100.9", 40001))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as attacker:
        await _throttled_after_ten(attacker, root.email)
        # The right password does not get through either while throttled...
        right = await attacker.post("/api/v1/auth/login", json={"email": root.email,
                                                                "password": "correct-horse-battery"})
        assert right.status_code == 429
        # ...but another email from the same address does,
        other_email = await attacker.post("/api/v1/auth/login", json={"email": "else@example.com", "password": "x"})
        assert other_email.status_code == 401
    # and so does the same email from another address.
    other_ip = await client.post("/api/v1/auth/login", json={"email": root.email, "password": "correct-horse-battery"})
    assert other_ip.status_code == 200


async def test_memory_limiter_window() -> None:
    await inside_one_rate_window()
    limiter = MemoryLimiter()
    assert [await limiter.peek("k", 3, 60) for _ in range(5)] == [None] * 5   # peeking counts nothing
    assert [await limiter.hit("k", 3, 60) for _ in range(3)] == [None, None, None]
    assert await limiter.peek("k", 3, 60) is not None
    retry = await limiter.hit("k", 3, 60)
    assert retry is not None and 0 < retry <= 60
    assert await limiter.hit("other", 3, 60) is None


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=2)
    try:
        await client.ping()
    except Exception as exc:
        await client.aclose()
        pytest.skip(f"Redis is not reachable at {REDIS_URL} ({exc.__class__.__name__}: {exc})")
    yield client
    await client.aclose()


@pytest.mark.redis
async def test_redis_limiter_is_shared_between_instances(redis: Redis) -> None:
    await inside_one_rate_window()  # exact counts below
    prefix = f"sparring-test:{uuid.uuid4().hex}:"
    first, second = RedisLimiter(redis, prefix=prefix), RedisLimiter(redis, prefix=prefix)
    try:
        assert await first.peek("login:x", 10, 60) is None
        results = [await (first if n % 2 else second).hit("login:x", 10, 60) for n in range(10)]
        assert results == [None] * 10
        peeked = await second.peek("login:x", 10, 60)   # seen by the other instance, counting nothing
        assert peeked is not None and 0 < peeked <= 60
        retry = await first.hit("login:x", 10, 60)
        assert retry is not None and 0 < retry <= 60
        assert await second.hit("login:x", 10, 60) is not None
        assert await second.hit("login:y", 10, 60) is None
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
        ttls = [await redis.pttl(key) for key in keys]
        assert keys and all(0 < ttl <= 120_000 for ttl in ttls)
    finally:
        await first.reset()
    assert [key async for key in redis.scan_iter(match=f"{prefix}*")] == []


@pytest.mark.redis
async def test_login_throttle_through_redis_spans_app_instances(redis: Redis, database_url: str,
                                                                world: World) -> None:
    root = await world.root()
    email = root.email   # unique per run, so the keys cannot collide with a parallel run
    apps = [create_app(make_settings(database_url, redis_url=REDIS_URL)) for _ in range(2)]
    try:
        async with apps[0].router.lifespan_context(apps[0]), apps[1].router.lifespan_context(apps[1]):
            clients = [httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("203.0.113.50", 1)),
                                         base_url="http://testserver") for app in apps]
            await inside_one_rate_window()  # exact counts below
            for n in range(10):
                response = await clients[n % 2].post("/api/v1/auth/login",
                                                     json={"email": email, "password": "wrong-password"})
                assert response.status_code == 401
            for c in clients:
                blocked = await c.post("/api/v1/auth/login", json={"email": email, "password": "wrong-password"})
                assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1
                await c.aclose()
    finally:
        async for key in redis.scan_iter(match=f"sparring:rl:login:{email}|*"):
            await redis.delete(key)
