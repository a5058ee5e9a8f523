"""What a stolen access token can do, and what signing out and suspending take away:
own email/password changes need the current password (issue 15 item 5), logout revokes the
sign-in's access tokens (item 8), a suspended dealership's users lose access and get it back on
reactivation, and its documents wait (item 6)."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select, update

from server.db.engine import create_engine, create_sessionmaker
from server.db.models import AuditAction, AuditEvent, Dealership, Role
from server.rag import presence, queue
from server.rag.documents import add_documents
from server.rag.models import Document
from server.rag.services import RagServices, build_services
from server.rag.upload import check_upload
from server.state import AppState
from tests.conftest import TEST_PASSWORD, Account, World, make_settings
from tests.rag_support import own_database  # noqa: F401  (fixture)

ME = "/api/v1/auth/me"


async def _me(client: httpx.AsyncClient, account: Account | str) -> tuple[int, str]:
    token = account if isinstance(account, str) else account.token
    response = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
    return response.status_code, response.json().get("error", {}).get("code", "")


async def _login(client: httpx.AsyncClient, email: str, password: str = TEST_PASSWORD) -> httpx.Response:
    return await client.post("/api/v1/auth/login", json={"email": email, "password": password})


# -- item 5: own password or email only with the current password -----------------------------------
@pytest.mark.parametrize("role", [Role.dealership_admin, Role.super_admin])
async def test_own_password_change_needs_the_current_password(client: httpx.AsyncClient, world: World,
                                                              role: Role) -> None:
    dealership = await world.dealership()
    me = await world.account(role, dealership if role is not Role.super_admin else None)
    path = f"/api/v1/users/{me.id}"
    missing = await client.patch(path, headers=me.headers, json={"password": "stolen-token-pw-1"})
    assert missing.status_code == 422, missing.text
    assert [d["field"] for d in missing.json()["error"]["details"]] == ["current_password"]
    wrong = await client.patch(path, headers=me.headers,
                               json={"password": "stolen-token-pw-1", "current_password": "a-guess-1"})
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "invalid_credentials"
    assert (await _me(client, me))[0] == 200   # a wrong guess does not sign the holder out
    assert (await _login(client, me.email)).status_code == 200   # nothing changed
    changed = await client.patch(path, headers=me.headers,
                                 json={"password": "a-new-password-1", "current_password": TEST_PASSWORD})
    assert changed.status_code == 200, changed.text
    assert (await _login(client, me.email)).status_code == 401
    assert (await _login(client, me.email, "a-new-password-1")).status_code == 200


async def test_own_email_change_needs_the_current_password(client: httpx.AsyncClient, world: World) -> None:
    admin = await world.account(Role.dealership_admin, await world.dealership())
    path = f"/api/v1/users/{admin.id}"
    taken = f"taken-{uuid.uuid4().hex[:6]}@example.com"
    missing = await client.patch(path, headers=admin.headers, json={"email": taken})
    assert missing.status_code == 422
    wrong = await client.patch(path, headers=admin.headers, json={"email": taken, "current_password": "nope-nope"})
    assert wrong.status_code == 403
    assert (await _login(client, admin.email)).status_code == 200   # still the old email
    ok = await client.patch(path, headers=admin.headers, json={"email": taken, "current_password": TEST_PASSWORD})
    assert ok.status_code == 200 and ok.json()["email"] == taken
    # Unchanged email, and other fields, need no password.
    same = await client.patch(path, headers=admin.headers, json={"email": taken.upper(), "name": "Renamed"})
    assert same.status_code == 200, same.text


async def test_admin_may_still_set_another_users_password(client: httpx.AsyncClient, world: World) -> None:
    # No email outbox exists yet to send a reset link instead: the admin sets it, the user's
    # sessions end (see docs/security.md ("Accounts and tokens")).
    dealership = await world.dealership()
    admin = await world.account(Role.dealership_admin, dealership)
    colleague = await world.account(Role.user, dealership)
    reset = await client.patch(f"/api/v1/users/{colleague.id}", headers=admin.headers,
                               json={"password": "temporary-pw-1"})
    assert reset.status_code == 200
    assert (await _me(client, colleague)) == (401, "token_revoked")
    # A plain user still cannot change their own password here (only through /auth/password).
    user = await world.account(Role.user, dealership)
    own = await client.patch(f"/api/v1/users/{user.id}", headers=user.headers,
                             json={"password": "new-pass-word-1", "current_password": TEST_PASSWORD})
    assert own.status_code == 403


# -- item 8: logout revokes the sign-in's access tokens ----------------------------------------------
async def test_logout_revokes_the_access_token_of_that_sign_in(client: httpx.AsyncClient, world: World,
                                                              state: AppState) -> None:
    user = await world.account(Role.user, await world.dealership())
    other_device = await world.login(user.email)
    assert (await _me(client, user))[0] == 200   # cached now
    rotated = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    newer_access = rotated.json()["access_token"]
    assert (await _me(client, newer_access))[0] == 200
    out = await client.post("/api/v1/auth/logout", json={"refresh_token": rotated.json()["refresh_token"]})
    assert out.status_code == 204
    # Both access tokens of that sign-in (before and after rotation) stop working at once...
    assert await _me(client, user) == (401, "token_revoked")
    assert await _me(client, newer_access) == (401, "token_revoked")
    # ...and on another instance within the cache TTL (here: a fresh cache).
    state.authenticator.clear()
    assert await _me(client, newer_access) == (401, "token_revoked")
    # The other sign-in of the same account is untouched.
    assert (await _me(client, other_device))[0] == 200


# -- item 6: suspending a dealership -----------------------------------------------------------------
async def test_suspended_dealership_users_lose_access_and_get_it_back(client: httpx.AsyncClient, world: World,
                                                                     state: AppState) -> None:
    root = await world.root()
    dealership = await world.dealership()
    other = await world.dealership()
    admin = await world.account(Role.dealership_admin, dealership)
    user = await world.account(Role.user, dealership)
    bystander = await world.account(Role.user, other)
    assert (await _me(client, user))[0] == 200   # cached now
    path = f"/api/v1/dealerships/{dealership}"
    suspended = await client.patch(path, headers=root.headers, json={"active": False})
    assert suspended.status_code == 200 and suspended.json()["active"] is False

    assert await _me(client, user) == (401, "dealership_suspended")
    created = await client.post("/api/v1/users", headers=admin.headers,
                                json={"email": "new@example.com", "password": TEST_PASSWORD, "name": "N"})
    assert created.status_code == 401
    chat = await client.post("/api/v1/chat", headers=user.headers, json={"message": "hi", "mode": "training"})
    assert chat.status_code == 401
    login = await _login(client, user.email)
    assert login.status_code == 401 and login.json()["error"]["code"] == "dealership_suspended"
    # Only whoever knows the password learns of the suspension.
    guess = await _login(client, user.email, "a-guess-1")
    assert guess.json()["error"]["code"] == "invalid_credentials"
    refresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert refresh.status_code == 401 and refresh.json()["error"]["code"] == "dealership_suspended"
    # Another dealership and the super admin carry on.
    assert (await _me(client, bystander))[0] == 200
    assert (await _me(client, root))[0] == 200
    # Another instance notices within its cache's TTL (here: a fresh cache).
    state.authenticator.clear()
    assert await _me(client, admin) == (401, "dealership_suspended")

    assert (await client.patch(path, headers=root.headers, json={"active": True})).status_code == 200
    assert (await _me(client, user))[0] == 200   # the same token works again
    assert (await _login(client, user.email)).status_code == 200
    async with state.sessionmaker() as session:
        actions = (await session.execute(select(AuditEvent.action).where(
            AuditEvent.dealership_id == dealership, AuditEvent.action.in_(
                [AuditAction.dealership_suspended, AuditAction.dealership_reactivated])))).scalars().all()
    assert sorted(actions) == [AuditAction.dealership_reactivated, AuditAction.dealership_suspended]


@pytest.fixture
async def services(own_database: str) -> AsyncIterator[RagServices]:  # noqa: F811
    engine = create_engine(own_database, pool_size=2)
    yield build_services(make_settings(own_database, rag_workers=0), engine, create_sessionmaker(engine), None)
    await engine.dispose()


async def _dealer_with_a_document(services: RagServices, slug: str) -> uuid.UUID:
    async with services.sessionmaker() as session, session.begin():
        dealership = Dealership(name=slug, slug=slug, settings={})
        session.add(dealership)
        await session.flush()
        upload = await check_upload(io.BytesIO(f"{slug} document".encode()), "a.txt", max_bytes=1024)
        await add_documents(session, services, dealership.id, [upload], None)
        return dealership.id


async def _claim(services: RagServices) -> uuid.UUID | None:
    async with services.sessionmaker() as session, session.begin():
        job = await queue.claim(session, lease_seconds=60)
    return job.dealership_id if job else None


async def _set_active(services: RagServices, dealership: uuid.UUID, active: bool) -> None:
    async with services.sessionmaker() as session, session.begin():
        await session.execute(update(Dealership).where(Dealership.id == dealership).values(active=active))


async def test_a_suspended_dealerships_documents_wait(services: RagServices) -> None:
    suspended = await _dealer_with_a_document(services, "suspended")
    await _set_active(services, suspended, False)
    running = await _dealer_with_a_document(services, "running")
    assert await _claim(services) == running
    assert await _claim(services) is None   # the suspended one's document is left queued
    async with services.sessionmaker() as session:
        queued = list((await session.execute(select(Document.id).where(
            Document.dealership_id == suspended))).scalars())
        why = await presence.explain(session, queued, heartbeat_seconds=2)
    assert [w.reason for w in why.values()] == [presence.SUSPENDED]   # and says why
    await _set_active(services, suspended, True)
    assert await _claim(services) == suspended
