from __future__ import annotations

import httpx

from server.db.models import Role
from tests.conftest import TEST_PASSWORD, World


async def test_login_me_refresh_rotation_and_logout(client: httpx.AsyncClient, world: World) -> None:
    dealership = await world.dealership()
    trainee = await world.account(Role.user, dealership)

    me = await client.get("/api/v1/auth/me", headers=trainee.headers)
    assert me.status_code == 200
    assert me.json() == {"id": str(trainee.id), "email": trainee.email, "name": "user", "role": "user",
                         "dealership_id": str(dealership)}

    rotated = await client.post("/api/v1/auth/refresh", json={"refresh_token": trainee.refresh_token})
    assert rotated.status_code == 200
    new_refresh = rotated.json()["refresh_token"]
    assert new_refresh != trainee.refresh_token
    assert rotated.json()["token_type"] == "bearer"

    # The old token is spent; presenting it again revokes the whole family, newest included.
    reuse = await client.post("/api/v1/auth/refresh", json={"refresh_token": trainee.refresh_token})
    assert reuse.status_code == 401
    assert reuse.json()["error"]["code"] == "refresh_token_reused"
    after = await client.post("/api/v1/auth/refresh", json={"refresh_token": new_refresh})
    assert after.status_code == 401

    again = await world.login(trainee.email)
    assert (await client.post("/api/v1/auth/logout", json={"refresh_token": again.refresh_token})).status_code == 204
    gone = await client.post("/api/v1/auth/refresh", json={"refresh_token": again.refresh_token})
    assert gone.status_code == 401


async def test_unknown_email_and_wrong_password_answer_alike(client: httpx.AsyncClient, world: World) -> None:
    dealership = await world.dealership()
    trainee = await world.account(Role.user, dealership)
    wrong = await client.post("/api/v1/auth/login", json={"email": trainee.email, "password": "nope-nope"})
    unknown = await client.post("/api/v1/auth/login", json={"email": "ghost@example.com", "password": "nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


async def test_password_change_revokes_other_sessions(client: httpx.AsyncClient, world: World) -> None:
    dealership = await world.dealership()
    trainee = await world.account(Role.user, dealership)
    other = await world.login(trainee.email)
    changed = await client.post("/api/v1/auth/password", headers=trainee.headers,
                                json={"current_password": TEST_PASSWORD, "new_password": "a-new-password-1"})
    assert changed.status_code == 200, changed.text
    assert (await client.get("/api/v1/auth/me", headers=other.headers)).status_code == 401
    assert (await client.post("/api/v1/auth/refresh", json={"refresh_token": other.refresh_token})).status_code == 401
    fresh = {"Authorization": f"Bearer {changed.json()['access_token']}"}
    assert (await client.get("/api/v1/auth/me", headers=fresh)).status_code == 200
    await world.login(trainee.email, "a-new-password-1")
