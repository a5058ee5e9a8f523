"""End to end against a real uvicorn process: request ids in headers and logs, security
headers, Prometheus metrics by route template, readiness."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from server.db.migrate import head_revision
from tests.conftest import LiveServer, World

pytestmark = pytest.mark.e2e


def _log_lines(server: LiveServer, request_id: str) -> list[dict[str, object]]:
    deadline = time.monotonic() + 5
    while True:
        lines = [json.loads(line) for line in server.logs().splitlines() if line.startswith("{")]
        found = [line for line in lines if line.get("request_id") == request_id]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_request_id_is_returned_and_logged(live_server: LiveServer) -> None:
    generated = httpx.get(live_server.url + "/api/health")
    request_id = generated.headers["x-request-id"]
    assert len(request_id) == 32
    access = _log_lines(live_server, request_id)
    assert access and access[0]["msg"] == "request" and access[0]["path"] == "/api/health"
    assert access[0]["status"] == 200 and access[0]["level"] == "info"

    mine = f"client-{uuid.uuid4().hex[:8]}"
    echoed = httpx.get(live_server.url + "/api/v1/nowhere", headers={"X-Request-ID": mine})
    assert echoed.status_code == 404 and echoed.headers["x-request-id"] == mine
    assert _log_lines(live_server, mine)[0]["status"] == 404
    # An id that could forge log lines is replaced, not echoed.
    hostile = httpx.get(live_server.url + "/api/health", headers={"X-Request-ID": 'a" b\\' + "x" * 100})
    assert hostile.headers["x-request-id"] != 'a" b\\' and len(hostile.headers["x-request-id"]) == 32


def test_security_headers(live_server: LiveServer) -> None:
    for path in ("/api/health", "/api/v1/nowhere", "/api/v1/auth/me"):
        response = httpx.get(live_server.url + path)
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp and "unsafe-inline" not in csp
        assert "strict-transport-security" not in response.headers   # plain http
    behind_tls = httpx.get(live_server.url + "/api/health", headers={"X-Forwarded-Proto": "https"})
    assert behind_tls.headers["strict-transport-security"].startswith("max-age=")


async def test_metrics_by_route_template(live_server: LiveServer, world: World) -> None:
    root = await world.root()
    dealership = await world.dealership()
    async with httpx.AsyncClient(base_url=live_server.url, headers=root.headers) as client:
        assert (await client.get(f"/api/v1/dealerships/{dealership}")).status_code == 200
        assert (await client.get(f"/api/v1/users/{uuid.uuid4()}")).status_code == 404
        await client.get("/api/v1/no/such/route")
        metrics = await client.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    assert str(dealership) not in metrics.text
    families = {family.name: family for family in text_string_to_metric_families(metrics.text)}
    requests = {(s.labels["method"], s.labels["route"], s.labels["status"]): s.value
                for s in families["http_requests"].samples if s.name == "http_requests_total"}
    assert requests[("GET", "/api/v1/dealerships/{dealership_id}", "200")] >= 1
    assert requests[("GET", "/api/v1/users/{user_id}", "404")] >= 1
    assert requests[("GET", "unmatched", "404")] >= 1
    latency = families["http_request_duration_seconds"]
    assert any(s.name.endswith("_bucket") and s.labels["route"] == "/api/v1/dealerships/{dealership_id}"
               for s in latency.samples)


def test_ready_and_health(live_server: LiveServer, database_url: str) -> None:
    assert httpx.get(live_server.url + "/api/health").json() == {"status": "ok"}
    ready = httpx.get(live_server.url + "/api/ready")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready" and body["database"] == "ok"
    assert body["migration"] == head_revision(database_url)
    assert body["providers"]["llm"] == "offline"


def test_openapi_document(live_server: LiveServer) -> None:
    document = httpx.get(live_server.url + "/api/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    paths = document["paths"]
    for path, method in [("/api/v1/auth/login", "post"), ("/api/v1/auth/refresh", "post"),
                         ("/api/v1/auth/logout", "post"), ("/api/v1/auth/me", "get"),
                         ("/api/v1/auth/password", "post"), ("/api/v1/dealerships", "post"),
                         ("/api/v1/dealerships", "get"), ("/api/v1/dealerships/{dealership_id}", "patch"),
                         ("/api/v1/users", "post"), ("/api/v1/users/{user_id}", "delete"),
                         ("/api/health", "get"), ("/api/ready", "get"), ("/metrics", "get")]:
        assert method in paths[path], (path, method)
    login = paths["/api/v1/auth/login"]["post"]
    assert login["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/LoginIn")
    assert "429" in login["responses"]
