"""405, 404, 413, 415 and 500 all take the one JSON error shape; no stack trace reaches a client."""

from __future__ import annotations

import logging
import uuid

import httpx
import pytest
from sqlalchemy import text

from server import outage
from server.app import create_app
from server.state import AppState
from tests.conftest import TEST_PASSWORD, World, make_settings


def _error(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code and body["error"]["message"]
    error: dict[str, object] = body["error"]
    return error


async def test_protocol_errors_share_the_shape(client: httpx.AsyncClient, world: World) -> None:
    root = await world.root()
    wrong_method = await client.delete("/api/v1/auth/me", headers=root.headers)
    _error(wrong_method, 405, "method_not_allowed")
    assert set(wrong_method.headers["allow"].split(", ")) == {"GET", "HEAD"}
    _error(await client.get("/api/v1/nothing/here"), 404, "not_found")
    _error(await client.get("/api/v1/users/123", headers=root.headers), 404, "not_found")
    big = await client.post("/api/v1/dealerships", headers={**root.headers, "content-type": "application/json"},
                            content=b'{"name": "' + b"x" * (1024 * 1024 + 10) + b'"}')
    assert _error(big, 413, "payload_too_large")["details"] == {"limit_bytes": 1024 * 1024}
    _error(await client.post("/api/v1/auth/login", content=b"<xml/>", headers={"content-type": "application/xml"}),
           415, "unsupported_media_type")
    invalid = _error(await client.post("/api/v1/auth/login", json={"email": "nope"}), 422, "validation_error")
    assert {d["field"] for d in invalid["details"]} == {"email", "password"}  # type: ignore[attr-defined]
    _error(await client.get("/api/v1/auth/me"), 401, "unauthorized")


async def test_streamed_body_over_the_limit_is_refused(client: httpx.AsyncClient) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b"x" * 65536

    response = await client.post("/api/v1/auth/login", content=chunks(), headers={"content-type": "application/json"})
    _error(response, 413, "payload_too_large")


async def test_a_dead_database_connection_gives_a_retryable_503(database_url: str, state: AppState, world: World,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    """A real fault, not a mock: the server's pooled database connection is killed under it. A lost
    database is an outage (503, retry), not a bug (500): see also tests/test_outage.py."""
    root = await world.root()
    app = create_app(make_settings(database_url, rag_workers=0))  # no worker borrowing connections
    async with app.router.lifespan_context(app):
        crashed: AppState = app.state.sparring
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            login = await client.post("/api/v1/auth/login", json={"email": root.email, "password": TEST_PASSWORD})
            assert login.status_code == 200
            # Every pooled connection is killed under it.
            held = [await crashed.engine.connect() for _ in range(max(1, crashed.engine.pool.checkedin()))]
            pids = [(await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one() for conn in held]
            for conn in held:
                await conn.close()
            async with state.engine.connect() as conn:
                for pid in pids:
                    await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            request_id = f"crash-{uuid.uuid4().hex[:8]}"
            with caplog.at_level(logging.WARNING):
                response = await client.get("/api/v1/auth/me", headers={
                    "Authorization": f"Bearer {login.json()['access_token']}", "X-Request-ID": request_id})
    error = _error(response, 503, "service_unavailable")
    assert error == {"code": "service_unavailable", "message": outage.MESSAGE, "details": {"retryable": True}}
    assert response.headers["x-request-id"] == request_id
    for leak in ("Traceback", "asyncpg", "File ", "sqlalchemy", "pid"):
        assert leak not in response.text
    # The details go to the log instead, in one line: an outage is not our bug, no traceback.
    logged = [r for r in caplog.records if r.getMessage() == "request failed: dependency unavailable"]
    # asyncpg names the dead connection in one of several ways, by when it reads the backend's
    # exit (see test_rag_providers' dead-connection test): a closed connection, or a protocol
    # state it gave up on.
    assert logged and any(word in logged[0].error for word in  # type: ignore[attr-defined]
                          ("connection", "InternalClientError", "closed"))
    assert not any(record.exc_info for record in caplog.records)


async def test_cors_allow_list(database_url: str) -> None:
    app = create_app(make_settings(database_url, cors_origins=["https://app.example.com"]))
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport,
                                                                   base_url="http://testserver") as client:
        preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
        allowed = await client.options("/api/v1/auth/login",
                                       headers={"Origin": "https://app.example.com", **preflight})
        refused = await client.options("/api/v1/auth/login",
                                       headers={"Origin": "https://evil.example.com", **preflight})
        simple = await client.get("/api/health", headers={"Origin": "https://app.example.com"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "access-control-allow-origin" not in refused.headers
    assert simple.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()
