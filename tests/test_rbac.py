"""Every RBAC rule as one table: each role against each endpoint, on its own dealership's
resources and on another dealership's. Another dealership's resource answers 404, never 403,
and a refused request changes nothing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from server.db.models import Role
from server.state import AppState
from tests.conftest import Account, World
from tests.snapshot import snapshot

SUPER, ADMIN, USER = "super_admin", "dealership_admin", "user"


@dataclass
class Scene:
    own: uuid.UUID      # dealership A: the admin's and the user's
    other: uuid.UUID    # dealership B
    actors: dict[str, Account]
    colleague: Account  # another plain user in A
    stranger: Account   # a plain user in B

    def resolve(self, target: str, actor: Account) -> str:
        return str({
            "own": self.own, "other": self.other, "self": actor.id,
            "colleague": self.colleague.id, "stranger": self.stranger.id,
        }[target])


@pytest.fixture
async def scene(world: World) -> Scene:
    own, other = await world.dealership("Alpha Autos"), await world.dealership("Beta Cars")
    return Scene(
        own=own, other=other,
        actors={SUPER: await world.root(), ADMIN: await world.account(Role.dealership_admin, own),
                USER: await world.account(Role.user, own)},
        colleague=await world.account(Role.user, own), stranger=await world.account(Role.user, other),
    )


def new_user(dealership: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"email": f"new-{uuid.uuid4().hex[:8]}@example.com", "password": "long-enough-pw",
                            "name": "New Person"}
    if dealership:
        body["dealership_id"] = dealership
    return body


# (role, method, path with {target}, target, body, expected status)
RULES: list[tuple[str, str, str, str | None, Any, int]] = [
    *[(role, "GET", "/auth/me", None, None, 200) for role in (SUPER, ADMIN, USER)],
    (SUPER, "POST", "/dealerships", None, {"name": "Gamma"}, 201),
    (ADMIN, "POST", "/dealerships", None, {"name": "Gamma"}, 403),
    (USER, "POST", "/dealerships", None, {"name": "Gamma"}, 403),
    *[(role, "GET", "/dealerships", None, None, 200) for role in (SUPER, ADMIN, USER)],
    *[(role, "GET", "/dealerships/{}", "own", None, 200) for role in (SUPER, ADMIN, USER)],
    (SUPER, "GET", "/dealerships/{}", "other", None, 200),
    (ADMIN, "GET", "/dealerships/{}", "other", None, 404),
    (USER, "GET", "/dealerships/{}", "other", None, 404),
    (SUPER, "PATCH", "/dealerships/{}", "own", {"name": "Renamed"}, 200),
    (ADMIN, "PATCH", "/dealerships/{}", "own", {"name": "Renamed"}, 200),
    (ADMIN, "PATCH", "/dealerships/{}", "own", {"slug": "new-slug"}, 403),
    (ADMIN, "PATCH", "/dealerships/{}", "own", {"active": False}, 403),
    (USER, "PATCH", "/dealerships/{}", "own", {"name": "Renamed"}, 403),
    (SUPER, "PATCH", "/dealerships/{}", "other", {"name": "Renamed"}, 200),
    (ADMIN, "PATCH", "/dealerships/{}", "other", {"name": "Renamed"}, 404),
    (USER, "PATCH", "/dealerships/{}", "other", {"name": "Renamed"}, 404),
    (SUPER, "DELETE", "/dealerships/{}", "other", None, 204),
    (ADMIN, "DELETE", "/dealerships/{}", "own", None, 403),
    (USER, "DELETE", "/dealerships/{}", "own", None, 403),
    (ADMIN, "DELETE", "/dealerships/{}", "other", None, 404),
    (USER, "DELETE", "/dealerships/{}", "other", None, 404),
    (SUPER, "POST", "/users", "own", "user", 201),
    (SUPER, "POST", "/users", "other", "user", 201),
    (SUPER, "POST", "/users", None, "super_admin", 201),
    (ADMIN, "POST", "/users", "own", "user", 201),
    (ADMIN, "POST", "/users", "own", "dealership_admin", 201),
    (ADMIN, "POST", "/users", None, "super_admin", 403),
    (USER, "POST", "/users", "own", "user", 403),
    *[(role, "GET", "/users", None, None, 200) for role in (SUPER, ADMIN, USER)],
    *[(role, "GET", "/users/{}", "self", None, 200) for role in (SUPER, ADMIN, USER)],
    (SUPER, "GET", "/users/{}", "stranger", None, 200),
    (ADMIN, "GET", "/users/{}", "colleague", None, 200),
    (ADMIN, "GET", "/users/{}", "stranger", None, 404),
    (USER, "GET", "/users/{}", "colleague", None, 404),
    (USER, "GET", "/users/{}", "stranger", None, 404),
    *[(role, "PATCH", "/users/{}", "self", {"name": "Me Renamed"}, 200) for role in (SUPER, ADMIN, USER)],
    (USER, "PATCH", "/users/{}", "self", {"role": "dealership_admin"}, 403),
    (USER, "PATCH", "/users/{}", "self", {"email": "me-new@example.com"}, 403),
    (ADMIN, "PATCH", "/users/{}", "self", {"active": False}, 409),
    (SUPER, "PATCH", "/users/{}", "stranger", {"name": "Renamed"}, 200),
    (ADMIN, "PATCH", "/users/{}", "colleague", {"role": "dealership_admin"}, 200),
    (ADMIN, "PATCH", "/users/{}", "colleague", {"role": "super_admin"}, 403),
    (ADMIN, "PATCH", "/users/{}", "colleague", {"dealership_id": "OTHER"}, 403),
    (ADMIN, "PATCH", "/users/{}", "stranger", {"name": "Renamed"}, 404),
    (USER, "PATCH", "/users/{}", "colleague", {"name": "Renamed"}, 404),
    (USER, "PATCH", "/users/{}", "stranger", {"name": "Renamed"}, 404),
    (SUPER, "DELETE", "/users/{}", "stranger", None, 204),
    (SUPER, "DELETE", "/users/{}", "self", None, 409),
    (ADMIN, "DELETE", "/users/{}", "colleague", None, 204),
    (ADMIN, "DELETE", "/users/{}", "stranger", None, 404),
    (USER, "DELETE", "/users/{}", "self", None, 403),
    (USER, "DELETE", "/users/{}", "colleague", None, 404),
    (USER, "DELETE", "/users/{}", "stranger", None, 404),
]


def _id(rule: tuple[str, str, str, str | None, Any, int]) -> str:
    role, method, path, target, body, status = rule
    extra = body if isinstance(body, str) else ",".join(body) if isinstance(body, dict) else ""
    return f"{role}-{method}-{path.replace('{}', target or '')}-{extra}-{status}"


@pytest.mark.parametrize("rule", RULES, ids=[_id(r) for r in RULES])
async def test_rbac(rule: tuple[str, str, str, str | None, Any, int], client: httpx.AsyncClient, scene: Scene,
                    state: AppState) -> None:
    role, method, path, target, body, expected = rule
    actor = scene.actors[role]
    url = "/api/v1" + (path.format(scene.resolve(target, actor)) if "{}" in path else path)
    if method == "POST" and path == "/users":
        # The body names the role to create; the target names the dealership it asks for.
        body = {**new_user(scene.resolve(target, actor) if target else None), "role": body}
    elif isinstance(body, dict) and body.get("dealership_id") == "OTHER":
        body = {"dealership_id": str(scene.other)}
    before = await snapshot(state)
    response = await client.request(method, url, headers=actor.headers, json=body)
    assert response.status_code == expected, response.text
    if expected >= 400:
        assert set(response.json()["error"]) == {"code", "message", "details"}
        assert await snapshot(state) == before, "a refused request changed the database"


async def test_lists_show_only_what_the_role_may_see(client: httpx.AsyncClient, scene: Scene) -> None:
    async def listing(role: str, path: str) -> set[str]:
        response = await client.get(f"/api/v1/{path}", headers=scene.actors[role].headers)
        assert response.status_code == 200
        body = response.json()
        assert body["total"] == len(body["items"])
        return {item["id"] for item in body["items"]}

    assert await listing(SUPER, "dealerships") == {str(scene.own), str(scene.other)}
    assert await listing(ADMIN, "dealerships") == {str(scene.own)}
    assert await listing(USER, "dealerships") == {str(scene.own)}
    a_users = {str(scene.actors[ADMIN].id), str(scene.actors[USER].id), str(scene.colleague.id)}
    assert await listing(SUPER, "users") == a_users | {str(scene.actors[SUPER].id), str(scene.stranger.id)}
    assert await listing(ADMIN, "users") == a_users
    assert await listing(USER, "users") == {str(scene.actors[USER].id)}
    # A filter for another dealership cannot widen the scope.
    response = await client.get(f"/api/v1/users?dealership_id={scene.other}", headers=scene.actors[ADMIN].headers)
    assert response.json() == {"items": [], "total": 0}


async def test_admin_creates_users_only_in_own_dealership(client: httpx.AsyncClient, scene: Scene) -> None:
    response = await client.post("/api/v1/users", headers=scene.actors[ADMIN].headers,
                                 json={**new_user(str(scene.other)), "role": "user"})
    assert response.status_code == 201
    assert response.json()["dealership_id"] == str(scene.own)


async def test_list_filters(client: httpx.AsyncClient, scene: Scene) -> None:
    root = scene.actors[SUPER]
    admins = (await client.get("/api/v1/users?role=dealership_admin", headers=root.headers)).json()
    assert [item["id"] for item in admins["items"]] == [str(scene.actors[ADMIN].id)]
    await client.patch(f"/api/v1/users/{scene.colleague.id}", headers=root.headers, json={"active": False})
    inactive = (await client.get("/api/v1/users?active=false", headers=root.headers)).json()
    assert [item["id"] for item in inactive["items"]] == [str(scene.colleague.id)]
    page = (await client.get("/api/v1/users?limit=2&offset=1", headers=root.headers)).json()
    assert len(page["items"]) == 2 and page["total"] == 5
