"""Invites and password resets: the single-use links (server/auth/links.py), through the real API.

The session's app has no mail transport, so emails are kept in the outbox; the tests read the
links from it (`GET /api/v1/outbox`), as a developer on a fresh machine would.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, update

from server.db.models import AccountToken, AuditAction, AuditEvent, Role
from server.settings import Settings
from server.state import AppState
from tests.conftest import TEST_PASSWORD, World, inside_one_rate_window, make_settings
from tests.test_cli import sparring

NEW_PASSWORD = "a-brand-new-passphrase"


async def _outbox(client: httpx.AsyncClient, headers: dict[str, str], **params: str) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/outbox", headers=headers, params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def _mails(client: httpx.AsyncClient, headers: dict[str, str], to: str, count: int) -> list[dict[str, Any]]:
    """The emails to `to`, once there are `count`: a reset's email is written after the answer."""
    deadline = time.monotonic() + 20
    while len(items := await _outbox(client, headers, to=to)) < count:
        assert time.monotonic() < deadline, f"{len(items)} emails to {to}, expected {count}"
        await asyncio.sleep(0.05)
    assert len(items) == count
    return items


async def _reset_requests_done(state: AppState, count: int) -> None:
    deadline = time.monotonic() + 20
    while True:
        async with state.sessionmaker() as db:
            done = await db.scalar(select(func.count()).select_from(AuditEvent)
                                   .where(AuditEvent.action == AuditAction.password_reset_requested))
        if done == count:
            return
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


def _token(item: dict[str, Any], page: str, settings: Settings) -> str:
    found = re.search(re.escape(f"{settings.public_url}{page}?token=") + r"([A-Za-z0-9_\-]+)", item["text"])
    assert found, item["text"]
    assert found.group(0) in item["html"]  # the same link in both parts
    return found.group(1)


async def _invite(world: World, admin_headers: dict[str, str], dealership_id: uuid.UUID | None = None,
                  ) -> tuple[str, dict[str, Any]]:
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    body: dict[str, Any] = {"email": email, "name": "Nina New", "role": "user"}
    if dealership_id:
        body["dealership_id"] = str(dealership_id)
    response = await world.client.post("/api/v1/users", headers=admin_headers, json=body)
    assert response.status_code == 201, response.text
    return email, response.json()


async def _listed_invite(client: httpx.AsyncClient, headers: dict[str, str], email: str) -> str | None:
    response = await client.get("/api/v1/users", headers=headers, params={"q": email})
    assert response.status_code == 200, response.text
    [user] = response.json()["items"]
    value: str | None = user["invite_expires_at"]
    return value


async def test_an_invite_is_emailed_and_accepting_it_sets_the_password_and_signs_in(
        world: World, client: httpx.AsyncClient, state: AppState) -> None:
    dealership = await world.dealership("Northside <Motors>")
    admin = await world.account(Role.dealership_admin, dealership)
    email, created = await _invite(world, admin.headers)
    assert created["invite_expires_at"] is not None
    expires = datetime.fromisoformat(created["invite_expires_at"])
    assert timedelta(hours=71.9) < expires - datetime.now(UTC) <= timedelta(hours=72)

    [mail] = await _outbox(client, admin.headers, to=email)
    assert mail["status"] == "kept" and mail["template"] == "invite"
    assert "Northside <Motors>" in mail["subject"] and "Northside <Motors>" in mail["text"]
    assert "Northside &lt;Motors&gt;" in mail["html"]  # autoescaped in HTML
    token = _token(mail, "/invite", state.settings)
    # Nobody knows the account's password before the invite is accepted.
    assert (await client.post("/api/v1/auth/login", json={"email": email, "password": ""})).status_code == 422

    # The Staff list marks the invite as waiting, until it is accepted.
    assert await _listed_invite(client, admin.headers, email) == created["invite_expires_at"]
    accepted = await client.post("/api/v1/auth/invite/accept", json={"token": token, "password": NEW_PASSWORD})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["user"]["email"] == email
    assert await _listed_invite(client, admin.headers, email) is None
    one = await client.get(f"/api/v1/users/{created['id']}", headers=admin.headers)
    assert one.status_code == 200 and one.json()["invite_expires_at"] is None
    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {accepted.json()['access_token']}"})
    assert me.status_code == 200
    await world.login(email, NEW_PASSWORD)

    again = await client.post("/api/v1/auth/invite/accept", json={"token": token, "password": "another-password"})
    assert again.status_code == 400 and again.json()["error"]["code"] == "invalid_token"
    await world.login(email, NEW_PASSWORD)  # the second try changed nothing


async def test_an_expired_invite_is_refused_and_a_new_one_voids_the_old(
        world: World, client: httpx.AsyncClient, state: AppState) -> None:
    dealership = await world.dealership()
    admin = await world.account(Role.dealership_admin, dealership)
    email, created = await _invite(world, admin.headers)
    first = _token((await _outbox(client, admin.headers, to=email))[0], "/invite", state.settings)

    resent = await client.post(f"/api/v1/users/{created['id']}/invite", headers=admin.headers)
    assert resent.status_code == 202, resent.text
    latest = _token((await _outbox(client, admin.headers, to=email))[0], "/invite", state.settings)
    assert latest != first
    old = await client.post("/api/v1/auth/invite/accept", json={"token": first, "password": NEW_PASSWORD})
    assert old.status_code == 400 and old.json()["error"]["code"] == "invalid_token"

    # Time passes: the link is past its 72 hours.
    async with state.sessionmaker() as db, db.begin():
        await db.execute(update(AccountToken).where(AccountToken.used_at.is_(None))
                         .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    expired = await client.post("/api/v1/auth/invite/accept", json={"token": latest, "password": NEW_PASSWORD})
    assert expired.status_code == 400 and expired.json()["error"]["code"] == "token_expired"
    assert await _listed_invite(client, admin.headers, email) is None  # no longer waiting: it cannot be used
    resent = await client.post(f"/api/v1/users/{created['id']}/invite", headers=admin.headers)
    assert await _listed_invite(client, admin.headers, email) == resent.json()["invite_expires_at"]


async def test_password_reset_does_not_tell_whether_an_account_exists(
        world: World, client: httpx.AsyncClient, state: AppState) -> None:
    dealership = await world.dealership()
    user = await world.account(Role.user, dealership)
    root = await world.root()
    known = await client.post("/api/v1/auth/password-reset", json={"email": user.email})
    unknown = await client.post("/api/v1/auth/password-reset", json={"email": "nobody-here@example.com"})
    assert known.status_code == unknown.status_code == 202
    assert known.content == unknown.content
    assert set(known.headers) == set(unknown.headers)
    # Only the known address gets an email (written after the answer, for both).
    await _reset_requests_done(state, 2)
    assert [m["template"] for m in await _mails(client, root.headers, user.email, 1)] == ["password_reset"]
    assert await _outbox(client, root.headers, to="nobody-here@example.com") == []


async def test_password_reset_is_single_use_and_signs_out_everywhere(
        world: World, client: httpx.AsyncClient, state: AppState) -> None:
    dealership = await world.dealership()
    user = await world.account(Role.user, dealership)
    root = await world.root()
    assert (await client.post("/api/v1/auth/password-reset", json={"email": user.email.upper()})).status_code == 202
    first = _token((await _mails(client, root.headers, user.email, 1))[0], "/reset-password", state.settings)
    assert (await client.post("/api/v1/auth/password-reset", json={"email": user.email})).status_code == 202
    mails = await _mails(client, root.headers, user.email, 2)
    latest = _token(mails[0], "/reset-password", state.settings)

    # Asking again voided the first link.
    stale = await client.post("/api/v1/auth/password-reset/confirm", json={"token": first, "password": NEW_PASSWORD})
    assert stale.status_code == 400 and stale.json()["error"]["code"] == "invalid_token"
    # An invite's endpoint does not take a reset token.
    wrong = await client.post("/api/v1/auth/invite/accept", json={"token": latest, "password": NEW_PASSWORD})
    assert wrong.status_code == 400

    done = await client.post("/api/v1/auth/password-reset/confirm", json={"token": latest, "password": NEW_PASSWORD})
    assert done.status_code == 200, done.text
    # Every earlier sign-in ends: its access token and its refresh token.
    assert (await client.get("/api/v1/auth/me", headers=user.headers)).status_code == 401
    refresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert refresh.status_code == 401
    assert (await client.post("/api/v1/auth/login", json={"email": user.email, "password": TEST_PASSWORD})
            ).status_code == 401
    await world.login(user.email, NEW_PASSWORD)

    again = await client.post("/api/v1/auth/password-reset/confirm", json={"token": latest, "password": "x" * 12})
    assert again.status_code == 400 and again.json()["error"]["code"] == "invalid_token"


async def test_a_reset_link_expires_after_its_ttl(world: World, client: httpx.AsyncClient, state: AppState) -> None:
    dealership = await world.dealership()
    user = await world.account(Role.user, dealership)
    root = await world.root()
    await client.post("/api/v1/auth/password-reset", json={"email": user.email})
    token = _token((await _mails(client, root.headers, user.email, 1))[0], "/reset-password", state.settings)
    async with state.sessionmaker() as db:
        row = (await db.execute(select(AccountToken).where(AccountToken.used_at.is_(None)))).scalar_one()
    assert row.expires_at - row.created_at == timedelta(minutes=30)
    async with state.sessionmaker() as db, db.begin():
        await db.execute(update(AccountToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    expired = await client.post("/api/v1/auth/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD})
    assert expired.status_code == 400 and expired.json()["error"]["code"] == "token_expired"
    await world.login(user.email)  # the old password still works


async def test_a_password_set_otherwise_voids_an_emailed_reset_link(
        world: World, client: httpx.AsyncClient, state: AppState) -> None:
    dealership = await world.dealership()
    admin = await world.account(Role.dealership_admin, dealership)
    user = await world.account(Role.user, dealership)
    await client.post("/api/v1/auth/password-reset", json={"email": user.email})
    token = _token((await _mails(client, admin.headers, user.email, 1))[0], "/reset-password", state.settings)
    # The admin sets the password directly (still possible; the web app prefers an invite).
    set_directly = await client.patch(f"/api/v1/users/{user.id}", headers=admin.headers,
                                      json={"password": "set-by-the-admin"})
    assert set_directly.status_code == 200, set_directly.text
    late = await client.post("/api/v1/auth/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD})
    assert late.status_code == 400
    await world.login(user.email, "set-by-the-admin")


async def test_password_reset_is_rate_limited_alike_for_known_and_unknown_emails(
        world: World, client: httpx.AsyncClient) -> None:
    dealership = await world.dealership()
    user = await world.account(Role.user, dealership)
    await inside_one_rate_window(3600, 120)
    answers = {}
    for email in (user.email, "nobody-here@example.com"):
        statuses = [(await client.post("/api/v1/auth/password-reset", json={"email": email})).status_code
                    for _ in range(6)]
        answers[email] = statuses
    assert answers[user.email] == answers["nobody-here@example.com"] == [202] * 5 + [429]


async def test_outbox_rbac_and_isolation(world: World, client: httpx.AsyncClient, database_url: str,
                                         settings: Settings) -> None:
    one, two = await world.dealership(), await world.dealership()
    admin_one = await world.account(Role.dealership_admin, one)
    admin_two = await world.account(Role.dealership_admin, two)
    trainee = await world.account(Role.user, one)
    email, created = await _invite(world, admin_one.headers)
    root = await world.root()

    assert [m["to"] for m in await _outbox(client, admin_one.headers)] == [email]
    assert await _outbox(client, admin_two.headers) == []
    assert [m["to"] for m in await _outbox(client, root.headers)] == [email]
    assert (await client.get("/api/v1/outbox", headers=trainee.headers)).status_code == 403
    assert (await client.get("/api/v1/outbox")).status_code == 401
    # Another dealership's user: 404, whether or not the role could act.
    assert (await client.post(f"/api/v1/users/{created['id']}/invite", headers=admin_two.headers)).status_code == 404
    assert (await client.post(f"/api/v1/users/{created['id']}/invite", headers=trainee.headers)).status_code == 404
    assert (await client.post(f"/api/v1/users/{trainee.id}/invite", headers=trainee.headers)).status_code == 403
    # A dealership admin's invite always lands in their own dealership.
    _, elsewhere = await _invite(world, admin_one.headers, dealership_id=two)
    assert elsewhere["dealership_id"] == str(one)


async def test_outbox_is_not_served_in_production(database_url: str, world: World) -> None:
    from server.app import create_app

    app = create_app(make_settings(database_url, environment="production", rag_workers=0,
                                   jwt_secret=world.state.settings.jwt_secret))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as prod:
            root = await world.root()
            response = await prod.get("/api/v1/outbox", headers=root.headers)
    assert response.status_code == 404


async def test_sparring_outbox_prints_kept_emails(world: World, client: httpx.AsyncClient,
                                                  settings: Settings) -> None:
    dealership = await world.dealership("Cli Cars")
    admin = await world.account(Role.dealership_admin, dealership)
    email, _ = await _invite(world, admin.headers)
    done = sparring(settings, "outbox", "--to", email)
    assert done.returncode == 0, done.stderr
    assert f"To: {email}" in done.stdout and "kept" in done.stdout
    assert f"{settings.public_url}/invite?token=" in done.stdout
