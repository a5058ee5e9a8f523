"""Webhooks: real deliveries to a loopback receiver (a real HTTP server on a free port), verified
by the receiver snippets published in docs/webhooks.md (Python, and Node) and by the Standard
Webhooks library; retries with backoff, the endpoint switched off with an email to the admins,
replay, the test event, the events that real work emits, the SSRF guard, RBAC and isolation."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import subprocess
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.app import create_app
from server.db.models import Role
from server.mail.models import OutboxMessage
from server.settings import Settings
from server.state import AppState
from server.webhooks import signing
from server.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.conftest import ROOT, World, make_settings
from tests.fakes.server import serve_in_thread
from tests.rag_support import ingest

DOCS = (ROOT / "docs" / "webhooks.md").read_text()


def snippet(language: str) -> str:
    found = re.search(rf"<!-- receiver:{language} -->\n```\w+\n(.*?)```", DOCS, re.S)
    assert found, f"no {language} receiver snippet in docs/webhooks.md"
    return found.group(1)


@dataclass
class Hit:
    at: float
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A receiver on loopback: answers `fail_first` requests with 500 (or always, `status`), then 200."""

    fail_first: int = 0
    status: int = 200
    delay: float = 0.0  # seconds before answering
    hits: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        with self.lock:
            self.hits.append(Hit(time.monotonic(), {k.lower(): v for k, v in request.headers.items()}, body))
            failing = len(self.hits) <= self.fail_first
            delay = self.delay
        if delay:
            await asyncio.sleep(delay)
        headers = {"location": "/hook"} if not failing and 300 <= self.status < 400 else None
        return Response("nope" if failing else "ok", status_code=500 if failing else self.status, headers=headers)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/hook", self.handle, methods=["POST"])])


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    target = Receiver()
    with serve_in_thread(target.app()) as url:
        yield target, f"{url}/hook"


def hook_settings(database_url: str, settings: Settings, **overrides: Any) -> Settings:
    # Development: a loopback receiver speaks plain http. Private addresses still need the setting.
    values: dict[str, Any] = {
        "environment": "development", "rag_workers": 0, "jwt_secret": settings.jwt_secret,
        "webhook_concurrency": 8, "webhook_poll_seconds": 0.05, "webhook_retry_base_s": 0.4,
        "webhooks_allow_private_urls": True, "public_url": "https://app.example.com",
    }
    values.update(overrides)
    return make_settings(database_url, **values)


@asynccontextmanager
async def hook_app(hsettings: Settings) -> AsyncIterator[tuple[AppState, httpx.AsyncClient]]:
    app = create_app(hsettings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.11", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield app.state.sparring, client


async def until(check: Callable[[], bool] | Callable[[], Awaitable[bool]], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        result = check()
        if result if isinstance(result, bool) else await result:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out waiting")


async def register(client: httpx.AsyncClient, headers: dict[str, str], url: str,
                   events: list[str] | None = None) -> dict[str, Any]:
    response = await client.post("/api/v1/webhooks", headers=headers,
                                 json={"url": url, "events": events or ["session.completed"]})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def deliveries(client: httpx.AsyncClient, headers: dict[str, str], hook_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/webhooks/{hook_id}/deliveries", headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def verify_with_docs_python(secret: str, hit: Hit) -> None:
    namespace: dict[str, Any] = {}
    exec(snippet("python"), namespace)  # the published snippet, as a receiver would paste it
    namespace["verify"](secret, hit.headers, hit.body)


def verify_with_docs_node(secret: str, hit: Hit, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    module = tmp_path / "verify.js"
    module.write_text(snippet("node"))
    driver = ("const {verify} = require(process.argv[1]); const input = JSON.parse(require('fs').readFileSync(0));"
              "verify(input.secret, input.headers, Buffer.from(input.body, 'base64')); console.log('verified');")
    return subprocess.run(["node", "-e", driver, str(module)], capture_output=True, text=True, timeout=30,
                          input=json.dumps({"secret": secret, "headers": hit.headers,
                                            "body": base64.b64encode(hit.body).decode()}))


def test_signature_matches_the_conventions_published_example() -> None:
    # The example in the Standard Webhooks specification (and its libraries' tests).
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    at = datetime.fromtimestamp(1614265330, UTC)
    headers = signing.headers(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", b'{"test": 2432232314}', now=at)
    assert headers == {"webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330",
                       "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}
    secret = signing.new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32


async def test_a_failing_receiver_gets_the_same_event_signed_with_backoff_until_it_answers(
        app: Starlette, database_url: str, settings: Settings, receiver: tuple[Receiver, str],
        tmp_path: Path) -> None:
    target, url = receiver
    target.fail_first = 2
    async with hook_app(hook_settings(database_url, settings)) as (state, client):
        world = World(client, state)
        admin = await world.account(Role.dealership_admin, await world.dealership())
        hook = await register(client, admin.headers, url)
        assert hook["secret"].startswith("whsec_") and hook["active"] is True
        sent = await client.post(f"/api/v1/webhooks/{hook['id']}/test", headers=admin.headers)
        assert sent.status_code == 202, sent.text
        await until(lambda: len(target.hits) == 3)
        await until(lambda: _status(client, admin.headers, hook["id"], "succeeded"))
        [delivery] = await deliveries(client, admin.headers, hook["id"])
        assert (delivery["status"], delivery["attempts"], delivery["response_code"]) == ("succeeded", 3, 200)

    first, second, third = target.hits
    # At least once, with the same webhook-id and body on every attempt.
    assert {h.headers["webhook-id"] for h in target.hits} == {delivery["event_id"]}
    assert first.body == second.body == third.body
    event = json.loads(third.body)
    assert set(event) == {"id", "type", "created_at", "dealership_id", "data"}
    assert (event["id"], event["type"], event["dealership_id"]) == (
        delivery["event_id"], "webhook.test", str(admin.dealership_id))
    # Backoff: WEBHOOK_RETRY_BASE_S (0.4 s) before the first retry, doubling before the second.
    assert second.at - first.at >= 0.4 * 0.95
    assert third.at - second.at >= 0.8 * 0.95
    # Every attempt is signed, and verifies by the published snippets and the convention's library.
    for hit in target.hits:
        verify_with_docs_python(hook["secret"], hit)
        Webhook(hook["secret"]).verify(hit.body, hit.headers)
    node = verify_with_docs_node(hook["secret"], third, tmp_path)
    assert node.returncode == 0 and "verified" in node.stdout, node.stderr
    # ... and a tampered body or another secret does not.
    forged = Hit(third.at, third.headers, third.body.replace(b"webhook.test", b"webhook.fake"))
    with pytest.raises(ValueError, match="no valid signature"):
        verify_with_docs_python(hook["secret"], forged)
    assert verify_with_docs_node(hook["secret"], forged, tmp_path).returncode != 0
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(third.body, third.headers)


async def _status(client: httpx.AsyncClient, headers: dict[str, str], hook_id: str, status: str) -> bool:
    return [d["status"] for d in await deliveries(client, headers, hook_id)] == [status]


async def test_an_endpoint_failing_for_its_whole_window_is_switched_off_and_admins_emailed(
        app: Starlette, database_url: str, settings: Settings, receiver: tuple[Receiver, str]) -> None:
    target, url = receiver
    target.fail_first = 1_000
    # Attempts at 0, 0.2 and 0.6 s; the next (at 1.4 s) would fall past the 1.2 s window.
    hsettings = hook_settings(database_url, settings, webhook_retry_base_s=0.2, webhook_retry_window_s=1.2)
    async with hook_app(hsettings) as (state, client):
        world = World(client, state)
        dealership = await world.dealership("Harbour Autos")
        admin = await world.account(Role.dealership_admin, dealership)
        other_admin = await world.account(Role.dealership_admin, dealership)
        await world.account(Role.user, dealership)
        hook = await register(client, admin.headers, url)
        assert (await client.post(f"/api/v1/webhooks/{hook['id']}/test", headers=admin.headers)).status_code == 202
        await until(lambda: _status(client, admin.headers, hook["id"], "failed"))
        [delivery] = await deliveries(client, admin.headers, hook["id"])
        assert (delivery["attempts"], delivery["response_code"], delivery["last_error"]) == (3, 500, "HTTP 500")
        assert len(target.hits) == 3
        current = (await client.get(f"/api/v1/webhooks/{hook['id']}", headers=admin.headers)).json()
        assert current["active"] is False and current["disabled_at"] is not None
        assert "no delivery succeeded" in current["disabled_reason"]
        async with state.sessionmaker() as db:
            emails = (await db.execute(select(OutboxMessage).where(
                OutboxMessage.template == "webhook_disabled"))).scalars().all()
        assert sorted(e.to for e in emails) == sorted([admin.email, other_admin.email])
        assert all(url in e.text and "Harbour Autos" in e.subject for e in emails)
        # Switched off: sending to it is refused until an admin turns it on again.
        refused = await client.post(f"/api/v1/webhooks/{hook['id']}/test", headers=admin.headers)
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "webhook_inactive"
        target.fail_first = 0
        on = await client.patch(f"/api/v1/webhooks/{hook['id']}", headers=admin.headers, json={"active": True})
        assert on.status_code == 200 and on.json()["disabled_at"] is None
        replayed = await client.post(f"/api/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}/replay",
                                     headers=admin.headers)
        assert replayed.status_code == 202, replayed.text
        assert replayed.json()["event_id"] == delivery["event_id"]
        assert replayed.json()["replay_of"] == delivery["id"]
        await until(lambda: len(target.hits) == 4)
        assert target.hits[3].headers["webhook-id"] == delivery["event_id"]
        assert target.hits[3].body == target.hits[0].body
        Webhook(hook["secret"]).verify(target.hits[3].body, target.hits[3].headers)


async def test_sessions_and_documents_emit_their_events_when_they_finish(
        app: Starlette, database_url: str, settings: Settings, receiver: tuple[Receiver, str]) -> None:
    target, url = receiver
    async with hook_app(hook_settings(database_url, settings, rag_workers=1)) as (state, client):
        world = World(client, state)
        dealership = await world.dealership()
        admin = await world.account(Role.dealership_admin, dealership)
        user = await world.account(Role.user, dealership)
        hook = await register(client, admin.headers, url, ["session.completed", "scorecard.ready",
                                                           "document.ready", "document.failed"])
        # Not subscribed to anything emitted here: gets nothing.
        await register(client, admin.headers, url.replace("/hook", "/other"), ["assignment.passed"])
        # A real offline roleplay session, ended by the trainee.
        session_id = None
        for line in ["The price is too high for me.", "What about the monthly payment on a longer term?"]:
            response = await client.post("/api/v1/chat", headers=user.headers, json={
                "mode": "roleplay", "persona_id": "sam-price", "message": line, "session_id": session_id})
            assert response.status_code == 200, response.text
            session_id = response.json()["session_id"]
        card = (await client.post(f"/api/v1/sessions/{session_id}/end", headers=user.headers)).json()
        await until(lambda: len(target.hits) == 2)
        events = {e["type"]: e for e in (json.loads(h.body) for h in target.hits)}
        assert set(events) == {"session.completed", "scorecard.ready"}
        completed, ready = events["session.completed"]["data"], events["scorecard.ready"]["data"]
        assert (completed["session_id"], completed["user_id"], completed["mode"]) == (
            session_id, str(user.id), "roleplay")
        assert completed["scored"] is True and completed["overall"] == card["overall"]
        assert (ready["session_id"], ready["overall"], ready["passed"]) == (session_id, card["overall"], card["passed"])
        assert [c["key"] for c in ready["criteria"]] == [c["key"] for c in card["criteria"]]
        # A real upload, processed by the in-process worker: document.ready.
        document = await ingest(client, admin, "notes.txt", b"Offer the longer term before you touch the price.\n")
        assert document["status"] == "ready"
        await until(lambda: len(target.hits) == 3)
        ready_doc = json.loads(target.hits[2].body)
        assert ready_doc["type"] == "document.ready"
        assert (ready_doc["data"]["document_id"], ready_doc["data"]["filename"]) == (document["id"], "notes.txt")
        # One that cannot be read: document.failed, with the reason.
        broken = await ingest(client, admin, "empty.txt", b"   \n")
        assert broken["status"] == "failed"
        await until(lambda: len(target.hits) == 4)
        failed = json.loads(target.hits[3].body)
        assert failed["type"] == "document.failed" and failed["data"]["document_id"] == broken["id"]
        assert failed["data"]["error"] == broken["error"]
        for hit in target.hits:
            Webhook(hook["secret"]).verify(hit.body, hit.headers)
        assert {h.headers["webhook-id"] for h in target.hits} == {json.loads(h.body)["id"] for h in target.hits}


@pytest.mark.parametrize("url", [
    "https://127.0.0.1/hook", "https://10.1.2.3/hook", "https://169.254.169.254/latest/meta-data",
    "https://[::1]/hook", "https://localhost/hook", "https://[::ffff:127.0.0.1]/hook", "https://192.168.1.10/",
    "https://100.64.0.1/", "https://0.0.0.0/",
])
async def test_private_addresses_are_refused_outside_development(
        client: httpx.AsyncClient, world: World, url: str) -> None:
    admin = await world.account(Role.dealership_admin, await world.dealership())
    response = await client.post("/api/v1/webhooks", headers=admin.headers,
                                 json={"url": url, "events": ["scorecard.ready"]})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["type"] == "url_refused"


async def test_only_https_and_no_credentials_outside_development(client: httpx.AsyncClient, world: World) -> None:
    admin = await world.account(Role.dealership_admin, await world.dealership())
    for url, message in [("http://93.184.216.34/hook", "must use https"),
                         ("https://user:pw@93.184.216.34/hook", "user name or password"),
                         ("ftp://93.184.216.34/", "https://")]:
        response = await client.post("/api/v1/webhooks", headers=admin.headers,
                                     json={"url": url, "events": ["scorecard.ready"]})
        assert response.status_code == 422 and message in response.json()["error"]["message"], response.text
    # A public address is accepted (no request is made at registration).
    ok = await client.post("/api/v1/webhooks", headers=admin.headers,
                           json={"url": "https://93.184.216.34/hook", "events": ["scorecard.ready"]})
    assert ok.status_code == 201, ok.text


async def test_delivery_time_check_refuses_a_private_address_registered_before(
        app: Starlette, database_url: str, settings: Settings, receiver: tuple[Receiver, str]) -> None:
    target, url = receiver
    # Registered while private URLs were allowed, delivered by an instance where they are not.
    async with hook_app(hook_settings(database_url, settings, webhook_concurrency=0)) as (state, client):
        world = World(client, state)
        admin = await world.account(Role.dealership_admin, await world.dealership())
        hook = await register(client, admin.headers, url)
        assert (await client.post(f"/api/v1/webhooks/{hook['id']}/test", headers=admin.headers)).status_code == 202
    strict = hook_settings(database_url, settings, webhooks_allow_private_urls=False)
    async with hook_app(strict) as (state, client):
        async def attempted() -> bool:
            async with state.sessionmaker() as db:
                row = (await db.execute(select(WebhookDelivery))).scalar_one()
                return row.attempts >= 1 and row.status == "pending"
        await until(attempted)
        async with state.sessionmaker() as db:
            row = (await db.execute(select(WebhookDelivery))).scalar_one()
        assert row.response_code is None and "loopback, private or link-local" in (row.last_error or "")
    assert target.hits == []


async def test_webhooks_are_for_admins_of_their_own_dealership(client: httpx.AsyncClient, world: World) -> None:
    ours, theirs = await world.dealership(), await world.dealership()
    admin = await world.account(Role.dealership_admin, ours)
    user = await world.account(Role.user, ours)
    stranger = await world.account(Role.dealership_admin, theirs)
    root = await world.root()
    created = await client.post("/api/v1/webhooks", headers=admin.headers,
                                json={"url": "https://93.184.216.34/hook", "events": ["scorecard.ready"]})
    assert created.status_code == 201
    hook = created.json()
    # The secret is shown once: never in a list or a read.
    listed = (await client.get("/api/v1/webhooks", headers=admin.headers)).json()
    assert [h["id"] for h in listed["items"]] == [hook["id"]] and "secret" not in listed["items"][0]
    assert "secret" not in (await client.get(f"/api/v1/webhooks/{hook['id']}", headers=admin.headers)).json()
    # A trainee: 403 everywhere.
    assert (await client.get("/api/v1/webhooks", headers=user.headers)).status_code == 403
    assert (await client.post("/api/v1/webhooks", headers=user.headers,
                              json={"url": "https://93.184.216.34/", "events": ["scorecard.ready"]})).status_code == 403
    base = f"/api/v1/webhooks/{hook['id']}"
    test = await client.post(f"{base}/test", headers=admin.headers)  # this app sends none: it stays pending
    assert test.status_code == 202 and test.json()["status"] == "pending"
    calls = [("GET", base, None), ("PATCH", base, {"active": False}), ("GET", f"{base}/deliveries", None),
             ("POST", f"{base}/test", None), ("POST", f"{base}/deliveries/{test.json()['id']}/replay", None),
             ("DELETE", base, None)]
    for method, path, body in calls:
        assert (await client.request(method, path, headers=user.headers, json=body)).status_code == 403, path
        # Another dealership's admin: as if it did not exist.
        assert (await client.request(method, path, headers=stranger.headers, json=body)).status_code == 404, path
    assert (await client.get("/api/v1/webhooks", headers=stranger.headers)).json()["total"] == 0
    # Another dealership's delivery id under our endpoint: 404.
    assert (await client.post(f"{base}/deliveries/{uuid.uuid4()}/replay", headers=admin.headers)).status_code == 404
    # A super admin sees and acts on any dealership's.
    assert (await client.get(base, headers=root.headers)).status_code == 200
    patched = await client.patch(base, headers=admin.headers, json={"events": ["document.ready", "document.ready"]})
    assert patched.status_code == 200 and patched.json()["events"] == ["document.ready"]
    bad = await client.patch(base, headers=admin.headers, json={"events": ["session.started"]})
    assert bad.status_code == 422
    assert (await client.delete(base, headers=admin.headers)).status_code == 204
    assert (await client.get(base, headers=admin.headers)).status_code == 404


async def test_emit_writes_nothing_for_inactive_or_unsubscribed_endpoints(
        client: httpx.AsyncClient, world: World, state: AppState) -> None:
    from server.webhooks import events
    from server.webhooks.models import EventType

    ours = await world.dealership()
    admin = await world.account(Role.dealership_admin, ours)
    for events_, active in [(["scorecard.ready"], True), (["document.ready"], True), (["scorecard.ready"], False)]:
        response = await client.post("/api/v1/webhooks", headers=admin.headers,
                                     json={"url": "https://93.184.216.34/", "events": events_, "active": active})
        assert response.status_code == 201
    other = await world.account(Role.dealership_admin, await world.dealership())
    assert (await client.post("/api/v1/webhooks", headers=other.headers, json={
        "url": "https://93.184.216.34/", "events": ["scorecard.ready"]})).status_code == 201
    async with state.sessionmaker() as db, db.begin():
        await events.emit(db, dealership_id=ours, type=EventType.scorecard_ready, data={"x": 1})
    async with state.sessionmaker() as db:
        rows = (await db.execute(select(WebhookDelivery, WebhookEndpoint).join(
            WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id))).all()
    assert [(e.events, e.active, e.dealership_id) for _, e in rows] == [(["scorecard.ready"], True, ours)]
    assert json.loads(rows[0][0].body)["data"] == {"x": 1}


async def test_two_instances_deliver_each_event_once_and_take_over_an_abandoned_one(
        app: Starlette, database_url: str, settings: Settings, receiver: tuple[Receiver, str]) -> None:
    from sqlalchemy import update

    from server.webhooks import events
    from server.webhooks.models import EventType

    target, url = receiver
    async with hook_app(hook_settings(database_url, settings)) as (state, client), \
            hook_app(hook_settings(database_url, settings)) as (other, _):
        world = World(client, state)
        dealership = await world.dealership()
        admin = await world.account(Role.dealership_admin, dealership)
        hook = await register(client, admin.headers, url, ["document.ready"])
        # Written together, claimed by two senders at once: each delivered once.
        async with state.sessionmaker() as db, db.begin():
            for n in range(40):
                await events.emit(db, dealership_id=dealership, type=EventType.document_ready, data={"n": n})
        await until(lambda: len(target.hits) >= 40)
        await asyncio.sleep(0.5)  # a second copy, if any, would arrive now
        ids = [h.headers["webhook-id"] for h in target.hits]
        assert len(ids) == 40 and len(set(ids)) == 40
        assert state.webhooks is not None and other.webhooks is not None
        assert state.webhooks.delivered + other.webhooks.delivered == 40
        assert state.webhooks.delivered > 0 and other.webhooks.delivered > 0
        # A sender that died mid-attempt: the delivery is `sending` with a lease that has run out.
        # Another takes it over and sends it again, with the same webhook-id.
        [first] = [d for d in await deliveries(client, admin.headers, hook["id"]) if d["event_id"] == ids[0]]
        async with state.sessionmaker() as db, db.begin():
            await db.execute(update(WebhookDelivery).where(WebhookDelivery.id == uuid.UUID(first["id"])).values(
                status="sending", lease_token=uuid.uuid4(), lease_until=datetime.now(UTC)))
        await until(lambda: len(target.hits) == 41)
        assert target.hits[40].headers["webhook-id"] == ids[0]
        [again] = [d for d in await deliveries(client, admin.headers, hook["id"]) if d["id"] == first["id"]]
        assert (again["status"], again["attempts"]) == ("succeeded", 2)


async def test_a_redirect_is_a_failure_and_is_not_followed(
        app: Starlette, database_url: str, settings: Settings, receiver: tuple[Receiver, str]) -> None:
    target, url = receiver
    target.status = 302  # after `fail_first` (none): answers 302
    async with hook_app(hook_settings(database_url, settings, webhook_retry_base_s=60)) as (state, client):
        world = World(client, state)
        admin = await world.account(Role.dealership_admin, await world.dealership())
        hook = await register(client, admin.headers, url)
        assert (await client.post(f"/api/v1/webhooks/{hook['id']}/test", headers=admin.headers)).status_code == 202

        async def retrying() -> bool:
            items = await deliveries(client, admin.headers, hook["id"])
            return items[0]["attempts"] == 1 and items[0]["status"] == "pending"
        await until(retrying)
        [delivery] = await deliveries(client, admin.headers, hook["id"])
        assert delivery["response_code"] == 302
        assert delivery["last_error"] == "HTTP 302 (redirects are not followed)"
        assert [h.headers["webhook-id"] for h in target.hits] == [delivery["event_id"]]


async def test_the_connection_goes_to_the_checked_address_only(receiver: tuple[Receiver, str]) -> None:
    from server.webhooks import urls
    from server.webhooks.sender import PinnedTransport

    target, url = receiver
    port = httpx.URL(url).port
    async with httpx.AsyncClient(transport=PinnedTransport(2), trust_env=False) as client:
        # A name that resolves nowhere reaches the receiver: the connection went to the pinned address.
        token = urls.pinned.set({"rebind.invalid": "127.0.0.1"})
        try:
            response = await client.post(f"http://rebind.invalid:{port}/hook", content=b"{}")
        finally:
            urls.pinned.reset(token)
        assert response.status_code == 200 and target.hits[0].headers["host"] == f"rebind.invalid:{port}"
        # Without a checked address nothing is connected to, whatever the name resolves to.
        with pytest.raises(httpx.ConnectError, match="no checked address"):
            await client.post(url, content=b"{}")
    assert len(target.hits) == 1


async def test_a_stopping_server_hands_back_the_attempt_in_flight(
        app: Starlette, database_url: str, settings: Settings, receiver: tuple[Receiver, str]) -> None:
    target, url = receiver
    target.delay = 3.0  # still answering when the server stops
    async with hook_app(hook_settings(database_url, settings)) as (state, client):
        world = World(client, state)
        admin = await world.account(Role.dealership_admin, await world.dealership())
        hook = await register(client, admin.headers, url)
        assert (await client.post(f"/api/v1/webhooks/{hook['id']}/test", headers=admin.headers)).status_code == 202
        await until(lambda: len(target.hits) == 1)
    target.delay = 0.0
    # Handed back at shutdown: the next server sends it at once, not after the 60 s lease.
    async with hook_app(hook_settings(database_url, settings)) as (state, client):
        await until(lambda: len(target.hits) == 2, within=15)
        await until(lambda: _status(client, admin.headers, hook["id"], "succeeded"))
    assert target.hits[0].headers["webhook-id"] == target.hits[1].headers["webhook-id"]
