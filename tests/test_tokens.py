"""Token attacks: forged, expired and tampered access tokens, refresh reuse and revocation,
and deactivation (at once on this instance, within the cache TTL on another)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
import warnings
from pathlib import Path

import httpx
import jwt
import pytest
from sqlalchemy import select

from server.db.models import AuditAction, AuditEvent, RefreshToken, Role
from server.settings import Settings
from server.state import AppState
from tests.conftest import Account, World, another_instance

ME = "/api/v1/auth/me"


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(account: Account, **changes: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {"sub": str(account.id), "role": account.role.value, "dealership_id": None,
                                 "ver": 0, "jti": uuid.uuid4().hex, "iat": now, "exp": now + 600}
    claims.update(changes)
    return claims


async def _status(client: httpx.AsyncClient, token: str) -> tuple[int, str]:
    response = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
    return response.status_code, response.json().get("error", {}).get("code", "")


async def test_forged_access_tokens_are_refused(client: httpx.AsyncClient, world: World, settings: Settings) -> None:
    root = await world.root()
    assert (await _status(client, root.token))[0] == 200
    header, payload, signature = root.token.split(".")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # pyjwt warns that this key is short for HS512; that is the point
        hs512 = jwt.encode(_claims(root), settings.jwt_secret, algorithm="HS512")
    elevated = {**jwt.decode(root.token, options={"verify_signature": False}), "sub": str(uuid.uuid4())}
    forged = {
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.",
        "alg none, original signature": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.{signature}",
        "wrong key": jwt.encode(_claims(root), "another-secret-of-sufficient-length-123", algorithm="HS256"),
        "HS512 with the right key": hs512,
        "tampered payload": f"{header}.{_b64(elevated)}.{signature}",
        "tampered signature": f"{header}.{payload}.{signature[:-4]}AAAA",
        "no exp": jwt.encode({k: v for k, v in _claims(root).items() if k != "exp"}, settings.jwt_secret),
        "garbage": "not.a.jwt",
        "unknown user": jwt.encode(_claims(root, sub=str(uuid.uuid4())), settings.jwt_secret, algorithm="HS256"),
        "sub not a uuid": jwt.encode(_claims(root, sub="root"), settings.jwt_secret, algorithm="HS256"),
    }
    for label, token in forged.items():
        status, code = await _status(client, token)
        assert status == 401, label
        assert code in {"invalid_token", "account_inactive"}, (label, code)
    expired = jwt.encode(_claims(root, exp=int(time.time()) - 5), settings.jwt_secret, algorithm="HS256")
    assert await _status(client, expired) == (401, "token_expired")
    # The signing key itself works: a well-formed token for the same account is accepted.
    valid = jwt.encode(_claims(root), settings.jwt_secret, algorithm="HS256")
    assert (await _status(client, valid))[0] == 200
    for header_value in ("", "Bearer", "Basic abc", f"Token {root.token}"):
        response = await client.get(ME, headers={"Authorization": header_value})
        assert response.status_code == 401


async def test_access_token_claims(world: World, settings: Settings) -> None:
    dealership = await world.dealership()
    user = await world.account(Role.user, dealership)
    header = jwt.get_unverified_header(user.token)
    claims = jwt.decode(user.token, settings.jwt_secret, algorithms=["HS256"])
    assert header["alg"] == "HS256"
    assert {"sub", "role", "dealership_id", "jti", "exp"} <= set(claims)
    assert claims["sub"] == str(user.id) and claims["role"] == "user"
    assert claims["dealership_id"] == str(dealership)
    assert claims["exp"] - claims["iat"] == 30 * 60


async def test_refresh_reuse_revokes_the_family_and_is_audited(client: httpx.AsyncClient, world: World,
                                                              state: AppState) -> None:
    dealership = await world.dealership()
    user = await world.account(Role.user, dealership)
    unrelated = await world.login(user.email)   # another session of the same account: another family
    first = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    second = await client.post("/api/v1/auth/refresh", json={"refresh_token": first.json()["refresh_token"]})
    assert first.status_code == second.status_code == 200
    newest = second.json()["refresh_token"]

    stolen = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert stolen.status_code == 401
    assert stolen.json()["error"]["code"] == "refresh_token_reused"
    assert (await client.post("/api/v1/auth/refresh", json={"refresh_token": newest})).status_code == 401
    async with state.sessionmaker() as session:
        events = (await session.execute(select(AuditEvent).where(
            AuditEvent.action == AuditAction.refresh_reuse))).scalars().all()
        family = (await session.execute(select(RefreshToken).where(
            RefreshToken.user_id == user.id))).scalars().all()
    assert [event.subject_id for event in events] == [user.id]
    assert events[0].dealership_id == dealership and events[0].ip == "203.0.113.7"
    revoked = {token.family_id for token in family if token.revoked_at is not None}
    assert len(revoked) == 1 and len(family) == 4
    assert all(token.token_hash != user.refresh_token for token in family)   # stored hashed only
    # The other family (another device) is untouched.
    still = await client.post("/api/v1/auth/refresh", json={"refresh_token": unrelated.refresh_token})
    assert still.status_code == 200


async def test_refresh_after_logout_and_unknown_tokens(client: httpx.AsyncClient, world: World) -> None:
    dealership = await world.dealership()
    user = await world.account(Role.user, dealership)
    rotated = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    newest = rotated.json()["refresh_token"]
    assert (await client.post("/api/v1/auth/logout", json={"refresh_token": newest})).status_code == 204
    after = await client.post("/api/v1/auth/refresh", json={"refresh_token": newest})
    assert after.status_code == 401 and after.json()["error"]["code"] == "invalid_refresh_token"
    unknown = await client.post("/api/v1/auth/logout", json={"refresh_token": "never-issued"})
    assert unknown.status_code == 204
    assert (await client.post("/api/v1/auth/refresh", json={"refresh_token": "never-issued"})).status_code == 401


async def test_deactivated_and_deleted_accounts_lose_access_at_once(client: httpx.AsyncClient, world: World) -> None:
    root = await world.root()
    dealership = await world.dealership()
    user = await world.account(Role.user, dealership)
    other = await world.account(Role.user, dealership)
    assert (await _status(client, user.token))[0] == 200   # now cached
    response = await client.patch(f"/api/v1/users/{user.id}", headers=root.headers, json={"active": False})
    assert response.status_code == 200
    assert (await _status(client, user.token))[0] == 401
    assert (await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})).status_code == 401
    login = await client.post("/api/v1/auth/login", json={"email": user.email, "password": "correct-horse-battery"})
    assert login.status_code == 401
    # Reactivation does not revive old tokens (their version was bumped).
    await client.patch(f"/api/v1/users/{user.id}", headers=root.headers, json={"active": True})
    assert (await _status(client, user.token))[0] == 401
    assert (await client.delete(f"/api/v1/users/{other.id}", headers=root.headers)).status_code == 204
    assert (await _status(client, other.token))[0] == 401


@pytest.mark.e2e
async def test_deactivation_reaches_another_instance_within_the_cache_ttl(
    client: httpx.AsyncClient, world: World, settings: Settings, database_url: str, tmp_path: Path,
) -> None:
    ttl = 1.0
    with another_instance(settings, database_url, tmp_path, PRINCIPAL_CACHE_SECONDS=str(ttl)) as other:
        root = await world.root()
        user = await world.account(Role.user, await world.dealership())
        async with httpx.AsyncClient(base_url=other.url) as remote:
            headers = {"Authorization": f"Bearer {user.token}"}
            assert (await remote.get(ME, headers=headers)).status_code == 200   # cached over there now
            deactivated = await client.patch(f"/api/v1/users/{user.id}", headers=root.headers, json={"active": False})
            assert deactivated.status_code == 200
            changed_at = time.monotonic()
            while (status := (await remote.get(ME, headers=headers)).status_code) == 200:
                assert time.monotonic() - changed_at < ttl + 2.0, "the other instance kept accepting the token"
                await asyncio.sleep(0.05)
            assert status == 401
