"""Login floods (issue 15 item 3): password-hashing work is bounded per client address and in
total; beyond a small queue a login is refused at once (429, Retry-After) before any database
read or hash. Which address counts: the connecting one, unless it is a proxy in
FORWARDED_ALLOW_IPS. The time a real login takes during a flood is measured in
tests/bench/login_flood.py, not asserted here."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette

from server.app import create_app
from server.auth.admission import LoginAdmission
from server.db.models import AuditAction, AuditEvent, Role
from server.errors import RateLimited
from server.settings import Settings
from server.state import AppState
from tests.conftest import TEST_PASSWORD, World, inside_one_rate_window, make_settings

LOGIN = "/api/v1/auth/login"
PER_ADDRESS = 4  # LOGIN_MAX_PER_ADDRESS's default (half the CPUs), with room for larger machines


def _client(app: Starlette, address: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 40000)),
                             base_url="http://testserver")


async def _failed_logins(state: AppState) -> int:
    async with state.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == AuditAction.login_failed)) or 0)


async def test_a_flood_from_one_address_is_refused_at_once_before_any_hashing(
        app: Starlette, state: AppState, world: World) -> None:
    user = await world.account(Role.user, await world.dealership())
    flood = 40
    async with _client(app, "198.51.100.20") as attacker:
        answers = await asyncio.gather(*[
            attacker.post(LOGIN, json={"email": f"{uuid.uuid4().hex[:10]}@example.com", "password": "guess-1"})
            for _ in range(flood)])
        # The flood is over: the same address is admitted again.
        after = await attacker.post(LOGIN, json={"email": user.email, "password": TEST_PASSWORD})
    refused = [a for a in answers if a.status_code == 429]
    checked = [a for a in answers if a.status_code == 401]
    assert len(refused) + len(checked) == flood
    assert len(refused) >= flood - 2 * PER_ADDRESS, [a.status_code for a in answers]
    assert all(1 <= int(a.headers["Retry-After"]) <= 5 for a in refused)
    assert {a.json()["error"]["code"] for a in refused} == {"rate_limited"}
    # Only the admitted ones read an account and hashed (each records its failure).
    assert await _failed_logins(state) == len(checked)
    assert after.status_code == 200


async def test_failed_checks_per_address_are_bounded_whatever_the_email(app: Starlette, world: World) -> None:
    dealership = await world.dealership()
    staff = [await world.account(Role.user, dealership) for _ in range(3)]
    await inside_one_rate_window()   # exact counts below: 20 failures a minute per address (default)
    async with _client(app, "198.51.100.23") as office:
        # An office behind one address signing in: successes do not count.
        for _ in range(8):
            for account in staff:
                ok = await office.post(LOGIN, json={"email": account.email, "password": TEST_PASSWORD})
                assert ok.status_code == 200, ok.text
        for n in range(20):   # a different email each time: the per-email limit never applies
            bad = await office.post(LOGIN, json={"email": f"guess{n}@example.com", "password": "guess-1"})
            assert bad.status_code == 401, (n, bad.text)
        refused = await office.post(LOGIN, json={"email": "guess-next@example.com", "password": "guess-1"})
        assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 60
        right = await office.post(LOGIN, json={"email": staff[0].email, "password": TEST_PASSWORD})
        assert right.status_code == 429   # the address is held back for a while, whoever it is
    async with _client(app, "198.51.100.24") as elsewhere:
        other = await elsewhere.post(LOGIN, json={"email": staff[0].email, "password": TEST_PASSWORD})
        assert other.status_code == 200


async def test_forwarded_for_is_not_believed_by_default(app: Starlette, world: World) -> None:
    await world.root()
    flood = 30
    async with _client(app, "198.51.100.21") as attacker:
        answers = await asyncio.gather(*[
            attacker.post(LOGIN, headers={"X-Forwarded-For": f"192.0.2.{n}"},
                          json={"email": f"{uuid.uuid4().hex[:10]}@example.com", "password": "guess-1"})
            for n in range(flood)])
    # Every request counted against the connecting address, whatever it claimed.
    assert sum(a.status_code == 429 for a in answers) >= flood - 4


@pytest.fixture
async def behind_proxy(database_url: str, settings: Settings) -> AsyncIterator[Starlette]:
    proxied = make_settings(database_url, jwt_secret=settings.jwt_secret, forwarded_allow_ips="10.0.0.0/8",
                            rag_workers=0)
    application = create_app(proxied)
    async with application.router.lifespan_context(application):
        yield application


async def test_forwarded_for_from_a_trusted_proxy_names_the_client(behind_proxy: Starlette, world: World) -> None:
    root = await world.root()
    state: AppState = behind_proxy.state.sparring
    async with _client(behind_proxy, "10.1.2.3") as proxy, _client(behind_proxy, "198.51.100.22") as direct:
        via_proxy = await proxy.post(LOGIN, headers={"X-Forwarded-For": "203.0.113.50, 10.9.9.9"},
                                     json={"email": root.email, "password": "wrong-password"})
        spoofed = await direct.post(LOGIN, headers={"X-Forwarded-For": "203.0.113.51"},
                                    json={"email": root.email, "password": "wrong-password"})
    assert via_proxy.status_code == spoofed.status_code == 401
    async with state.sessionmaker() as session:
        ips = set((await session.execute(select(AuditEvent.ip).where(
            AuditEvent.action == AuditAction.login_failed))).scalars())
    # The proxy's own hop (10.9.9.9) is trusted too: the client is the first untrusted address.
    assert ips == {"203.0.113.50", "198.51.100.22"}


def test_forwarded_allow_ips_must_be_addresses(database_url: str) -> None:
    assert make_settings(database_url, forwarded_allow_ips="127.0.0.1, ::1,10.0.0.0/8").forwarded_allow_ips == [
        "127.0.0.1", "::1", "10.0.0.0/8"]
    assert make_settings(database_url).forwarded_allow_ips == []
    with pytest.raises(ValueError, match="not an IP address"):
        make_settings(database_url, forwarded_allow_ips="proxy.internal")


async def test_admission_bounds_per_address_and_in_total() -> None:
    gate = LoginAdmission(per_address=2, total=3, running=3)
    async with gate.admit("a"), gate.admit("a"):
        with pytest.raises(RateLimited):
            async with gate.admit("a"):
                pass
        # Another address is admitted while the first is at its bound: it is not stuck behind it.
        async with gate.admit("b"):
            assert gate.admitted == 3
            with pytest.raises(RateLimited):   # the total bound
                async with gate.admit("c"):
                    pass
    assert gate.admitted == 0
    async with gate.admit("a"):   # places are given back on the way out, errors included
        pass
    with pytest.raises(KeyError):
        async with gate.admit("a"):
            raise KeyError
    assert gate.admitted == 0
