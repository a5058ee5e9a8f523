"""Every voice turn is judged like a REST request (issue 15 items 6, 7, 8, 9): an open socket
ends once its account is deactivated, its dealership suspended or its sign-in logged out, and
typed turns count against the same per-user chat limit as REST `/chat`.

A real uvicorn server with the offline engine (no providers needed for typed turns); the
changes are made through that server's own REST API, so its caches drop them at once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from server.db.models import Role
from server.settings import Settings
from server.voice.client import VoiceClient
from tests.conftest import Account, LiveServer, World, inside_one_rate_window, start_live_server, stop_live_server

pytestmark = pytest.mark.e2e

TURN = {"type": "text", "text": "Can you do better on the price?"}


@pytest.fixture(scope="module")
def server(database_url: str, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {"DATABASE_URL": database_url, "ENVIRONMENT": "test", "JWT_SECRET": settings.jwt_secret,
           "BCRYPT_ROUNDS": "4", "REDIS_URL": "", "OPENAI_API_KEY": "", "ELEVENLABS_API_KEY": "",
           "PINECONE_API_KEY": "", "RAG_WORKERS": "0", "RATE_LIMIT_CHAT": "3/minute",
           "RATE_LIMIT_VOICE": "1000/minute"}
    live = start_live_server(env, tmp_path_factory.mktemp("voice-guard") / "server.log")
    yield live
    stop_live_server(live)


async def _talking(server: LiveServer, account: Account) -> VoiceClient:
    client = await VoiceClient.connect(server.url, account.token)
    await client.start("roleplay", wait_s=20)
    await client.send(TURN)
    await client.wait_for("metrics", wait_s=30)   # a turn goes through before the change
    return client


async def _as_root(server: LiveServer, world: World, method: str, path: str, body: dict[str, Any]) -> None:
    root = await world.root()
    async with httpx.AsyncClient(base_url=server.url, headers=root.headers) as rest:
        response = await rest.request(method, "/api/v1" + path, json=body)
    assert response.status_code in (200, 204), response.text


async def _ends_at_next_turn(client: VoiceClient, reason: str) -> None:
    await client.send(TURN)
    ended = await client.wait_for("session.ended", wait_s=20)
    assert ended["reason"] == reason
    assert await client.closed() == 1000


async def test_deactivated_users_socket_ends_at_the_next_turn(server: LiveServer, world: World) -> None:
    user = await world.account(Role.user, await world.dealership())
    client = await _talking(server, user)
    await _as_root(server, world, "PATCH", f"/users/{user.id}", {"active": False})
    await _ends_at_next_turn(client, "account_inactive")


async def test_suspended_dealerships_socket_ends_at_the_next_turn(server: LiveServer, world: World) -> None:
    dealership = await world.dealership()
    user = await world.account(Role.user, dealership)
    client = await _talking(server, user)
    await _as_root(server, world, "PATCH", f"/dealerships/{dealership}", {"active": False})
    await _ends_at_next_turn(client, "suspended")
    await _as_root(server, world, "PATCH", f"/dealerships/{dealership}", {"active": True})
    again = await _talking(server, user)   # reactivation restores it, with the same token
    await again.close()


async def test_logging_out_ends_the_socket_of_that_sign_in(server: LiveServer, world: World) -> None:
    user = await world.account(Role.user, await world.dealership())
    client = await _talking(server, user)
    async with httpx.AsyncClient(base_url=server.url) as rest:
        out = await rest.post("/api/v1/auth/logout", json={"refresh_token": user.refresh_token})
    assert out.status_code == 204
    await _ends_at_next_turn(client, "token_revoked")


async def test_typed_turns_count_against_the_chat_limit_shared_with_rest(server: LiveServer, world: World) -> None:
    user = await world.account(Role.user, await world.dealership())
    await inside_one_rate_window()   # exact counts below: 3 turns a minute on this server
    async with httpx.AsyncClient(base_url=server.url, headers=user.headers, timeout=30) as rest:
        first = await rest.post("/api/v1/chat", json={"message": "Hello", "mode": "training"})
        assert first.status_code == 200, first.text
        client = await _talking(server, user)   # the second turn
        await client.send(TURN)
        await client.wait_for("metrics", wait_s=30)   # the third
        for _ in range(3):   # over the limit: refused before the model, the session goes on
            await client.send(TURN)
            error = await client.wait_for("error", wait_s=20)
            assert error["code"] == "rate_limited" and error["retryable"] is True
        assert (await rest.post("/api/v1/chat", json={"message": "Hello", "mode": "training"})).status_code == 429
    assert len(client.events(["metrics"])) == 2 and len(client.events(["transcript"])) == 2
    await client.send({"type": "end"})
    assert (await client.wait_for("session.ended"))["reason"] == "client_end"
