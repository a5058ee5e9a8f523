"""A builder session survives its server: half a conversation on one uvicorn process, the rest
on a new one after the first has stopped, with the state kept in Postgres (no Redis) or Redis."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import select

from server.db.models import Role
from server.settings import Settings
from server.state import AppState
from server.training.builder.models import BuilderSession
from server.training.builder.store import KEY_PREFIX
from tests.conftest import World, start_live_server, stop_live_server
from tests.test_builder import BASE, SCRIPT, assert_scripted_draft

REDIS_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        await client.ping()
    except (RedisConnectionError, OSError):
        await client.aclose()
        pytest.skip("Redis is not running on REDIS_TEST_URL")
    yield client
    await client.aclose()


async def converse(database_url: str, settings: Settings, world: World, state: AppState, tmp_path: Path,
                   redis_url: str) -> tuple[str, list[str]]:
    """Half the script on one server, the rest on another started after the first stopped."""
    admin = await world.account(Role.dealership_admin, await world.dealership())
    env = {"DATABASE_URL": database_url, "ENVIRONMENT": "test", "JWT_SECRET": settings.jwt_secret,
           "BCRYPT_ROUNDS": "4", "REDIS_URL": redis_url, "OPENAI_API_KEY": "", "RAG_WORKERS": "0"}
    half = 4
    first = start_live_server(env, tmp_path / "first.log")
    try:
        async with httpx.AsyncClient(base_url=first.url, headers=admin.headers, timeout=30) as client:
            session_id = (await client.post(BASE, json={"kind": "scenario"})).json()["id"]
            for text, stage in SCRIPT[:half]:
                answered = await client.post(f"{BASE}/{session_id}/messages", json={"text": text})
                assert answered.status_code == 200 and answered.json()["stage"] == stage, answered.text
            before = (await client.get(f"{BASE}/{session_id}")).json()
    finally:
        stop_live_server(first)
    assert first.process.returncode is not None
    second = start_live_server(env, tmp_path / "second.log")
    try:
        async with httpx.AsyncClient(base_url=second.url, headers=admin.headers, timeout=30) as client:
            resumed = (await client.get(f"{BASE}/{session_id}")).json()
            assert resumed == before and resumed["stage"] == SCRIPT[half - 1][1]
            for text, stage in SCRIPT[half:]:
                answered = await client.post(f"{BASE}/{session_id}/messages", json={"text": text})
                assert answered.status_code == 200 and answered.json()["stage"] == stage, answered.text
            done = await client.post(f"{BASE}/{session_id}/complete")
            assert done.status_code == 200, done.text
            assert_scripted_draft(done.json())
    finally:
        stop_live_server(second)
    async with state.sessionmaker() as db:
        row = (await db.execute(select(BuilderSession).where(BuilderSession.id == uuid.UUID(session_id)))).scalar_one()
    return session_id, [row.status.value, "state" if row.state is not None else "no state", row.stage]


@pytest.mark.e2e
async def test_a_builder_session_resumes_after_a_restart(database_url: str, settings: Settings, world: World,
                                                         state: AppState, tmp_path: Path) -> None:
    _, row = await converse(database_url, settings, world, state, tmp_path, redis_url="")
    assert row == ["completed", "state", "review"]  # no Redis: the row held the state


@pytest.mark.e2e
@pytest.mark.redis
async def test_a_builder_session_resumes_after_a_restart_with_redis(database_url: str, settings: Settings,
                                                                    world: World, state: AppState, tmp_path: Path,
                                                                    redis: Redis) -> None:
    session_id, row = await converse(database_url, settings, world, state, tmp_path, redis_url=REDIS_URL)
    assert row == ["completed", "no state", "review"]  # Redis held it
    ttl = await redis.ttl(KEY_PREFIX + session_id)
    assert 0 < ttl <= settings.builder_state_ttl_seconds
    await redis.delete(KEY_PREFIX + session_id)
