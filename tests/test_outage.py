"""A database outage is a 503 `service_unavailable` (retryable) on every route, not a 500.

The app talks to the real PostgreSQL through a TCP proxy (tests/fakes/tcp_proxy.py) that is cut
after startup: open connections drop and new ones are refused, as when the database host goes
away. Nothing of ours is faked.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from server import outage
from server.app import create_app
from server.db.models import Role
from server.state import AppState
from tests.conftest import TEST_PASSWORD, World, free_port, make_settings
from tests.fakes.tcp_proxy import DatabaseProxy

RETRYABLE = {"code": "service_unavailable", "retryable": True}


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[DatabaseProxy]:
    proxy = DatabaseProxy(database_url)
    await proxy.start()
    yield proxy
    await proxy.cut()


def _unavailable(response: httpx.Response, label: str) -> None:
    assert response.status_code == 503, f"{label}: {response.status_code} {response.text[:300]}"
    error = response.json()["error"]
    assert {"code": error["code"], "retryable": error["details"]["retryable"]} == RETRYABLE, label
    for leak in ("Traceback", "asyncpg", "sqlalchemy", "Connect call"):
        assert leak not in response.text, label


def _requests(world_ids: dict[str, str]) -> list[tuple[str, str, dict[str, Any] | None]]:
    some = str(uuid.uuid4())
    return [
        ("POST", "/api/v1/auth/login", {"email": "someone@example.com", "password": TEST_PASSWORD}),
        ("POST", "/api/v1/auth/refresh", {"refresh_token": "x" * 40}),
        ("GET", "/api/v1/auth/me", None),
        ("GET", "/api/v1/dealerships", None),
        ("GET", f"/api/v1/dealerships/{world_ids['dealership']}", None),
        ("POST", "/api/v1/dealerships", {"name": "Outage Motors"}),
        ("GET", "/api/v1/users", None),
        ("GET", f"/api/v1/users/{world_ids['user']}", None),
        ("POST", "/api/v1/users", {"email": "new@example.com", "password": TEST_PASSWORD, "name": "New",
                                   "dealership_id": world_ids["dealership"]}),
        ("GET", "/api/v1/rag/documents", None),
        ("POST", "/api/v1/rag/query", {"query": "price objection", "dealership_id": world_ids["dealership"]}),
        ("GET", "/api/v1/personas", None),
        ("GET", "/api/v1/sessions", None),
        ("GET", f"/api/v1/sessions/{some}", None),
        ("GET", "/api/v1/reports", None),
        ("GET", "/api/v1/usage", None),
        ("GET", "/api/ready", None),
    ]


async def test_every_route_answers_503_while_the_database_is_unreachable(
        proxy: DatabaseProxy, world: World, caplog: pytest.LogCaptureFixture) -> None:
    root = await world.root()
    dealership = await world.dealership()
    user = await world.account(Role.user, dealership)
    ids = {"dealership": str(dealership), "user": str(user.id)}
    app = create_app(make_settings(proxy.url, rag_workers=0, jwt_secret=world.state.settings.jwt_secret))
    async with app.router.lifespan_context(app):
        state: AppState = app.state.sparring
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            login = await client.post("/api/v1/auth/login", json={"email": root.email, "password": TEST_PASSWORD})
            assert login.status_code == 200, login.text
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            trainee = {"Authorization": f"Bearer {user.token}"}
            # One turn first: the trainee's account and the dealership's personas are cached, so the
            # next turn reaches the conversation engine before it needs the database.
            first = await client.post("/api/v1/chat", headers=trainee, json={"message": "Hi", "mode": "training"})
            assert first.status_code == 200, first.text

            await proxy.cut()
            with caplog.at_level(logging.WARNING):
                chat = await client.post("/api/v1/chat", headers=trainee, json={
                    "message": "And the price?", "mode": "training", "session_id": first.json()["session_id"]})
                _unavailable(chat, "POST /chat")
                stream = await client.post("/api/v1/chat", headers={**trainee, "Accept": "text/event-stream"},
                                           json={"message": "Still there?", "mode": "training"})
                assert "event: error" in stream.text and '"code":"service_unavailable"' in stream.text, stream.text
                assert '"retryable":true' in stream.text
                for method, path, body in _requests(ids):
                    state.authenticator.clear()  # the account must be read from the database
                    _unavailable(await client.request(method, path, json=body, headers=headers), f"{method} {path}")
            # An outage is not a bug of ours: logged in one line each, no traceback.
            assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records if r.exc_info]
            assert any(r.getMessage() == "request failed: dependency unavailable" for r in caplog.records)

            # Back again: the pool reconnects and the same requests succeed.
            await proxy.start()
            assert (await client.get("/api/ready")).status_code == 200
            assert (await client.get("/api/v1/users", headers=headers)).status_code == 200


async def test_only_a_lost_dependency_counts_as_an_outage(state: AppState, proxy: DatabaseProxy) -> None:
    """Real errors, raised by the real database and a real refused connection."""
    with pytest.raises(Exception) as refused_by_the_database:
        async with state.engine.connect() as conn:
            await conn.execute(text("SELECT 1 / 0"))
    assert not outage.lost_dependency(refused_by_the_database.value)
    await proxy.cut()
    engine = create_async_engine(proxy.url)
    try:
        with pytest.raises(Exception) as unreachable:
            async with engine.connect():
                pass
    finally:
        await engine.dispose()
    assert outage.lost_dependency(unreachable.value)


async def test_a_lost_redis_is_an_outage_too(database_url: str, world: World, caplog: pytest.LogCaptureFixture) -> None:
    """Rate limits are shared through Redis when it is configured: unreachable, it is a lost dependency."""
    root = await world.root()
    nothing_listens = f"redis://127.0.0.1:{free_port()}/0"
    app = create_app(make_settings(database_url, rag_workers=0, redis_url=nothing_listens))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            with caplog.at_level(logging.WARNING):
                login = await client.post("/api/v1/auth/login", json={"email": root.email, "password": TEST_PASSWORD})
    _unavailable(login, "POST /auth/login without Redis")
    assert not [r for r in caplog.records if r.exc_info]
