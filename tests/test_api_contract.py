"""The OpenAPI document and the server agree: what the schema allows is served, what the server
refuses the schema refuses too, and a 405 names every method a path has."""

from __future__ import annotations

import re
import sys
import uuid
from typing import Any

import httpx

from server.api.chat import ChatIn
from server.db.models import Role
from tests.conftest import World


async def _openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    document: dict[str, Any] = (await client.get("/api/openapi.json")).json()
    return document


async def test_a_405_lists_every_method_of_the_path(client: httpx.AsyncClient, world: World) -> None:
    root = await world.root()
    paths = (await _openapi(client))["paths"]
    several = {path: item for path, item in paths.items() if len(item) > 1}
    assert len(several) >= 8
    for path, item in paths.items():
        url = re.sub(r"\{\w+\}", lambda m: "adam" if m.group(0) == "{persona_id}" else str(uuid.uuid4()), path)
        response = await client.request("PUT", url, headers=root.headers)
        documented = {method.upper() for method in item} | ({"HEAD"} if "get" in item else set())
        assert response.status_code == 405, f"PUT {path}: {response.status_code}"
        assert set(response.headers["allow"].split(", ")) == documented, path


async def test_a_chat_message_the_schema_allows_is_taken_and_a_blank_one_is_refused_by_both(
        client: httpx.AsyncClient, world: World) -> None:
    user = await world.account(Role.user, await world.dealership())
    schema = (await _openapi(client))["components"]["schemas"]["ChatIn"]["properties"]["message"]
    pattern = re.compile(schema["pattern"])
    for message in ("\r\f", " \t\n", "\u3000\u2028", "\x1c\x1f"):
        assert pattern.search(message) is None, repr(message)
        response = await client.post("/api/v1/chat", headers=user.headers,
                                     json={"message": message, "mode": "training"})
        assert response.status_code == 422, repr(message)
    reply = await client.post("/api/v1/chat", headers=user.headers, json={"message": "\r\fOK?", "mode": "training"})
    assert pattern.search("\r\fOK?") and reply.status_code == 200, reply.text
    # Every character that may be blank (all of them lie below U+3100), and a few beyond: blank
    # to the schema exactly when blank to the server.
    for code in [*range(1, 0x3100), 0xFEFF, 0x1F697, sys.maxunicode]:
        char = chr(code)
        schema_refuses = pattern.search(char) is None
        try:
            ChatIn.model_validate({"message": char, "mode": "training"})
            server_refuses = False
        except ValueError:
            server_refuses = True
        assert schema_refuses == server_refuses, hex(code)


async def test_the_upload_schema_requires_the_multipart_body_the_server_requires(
        client: httpx.AsyncClient, world: World) -> None:
    admin = await world.account(Role.dealership_admin, await world.dealership())
    body = (await _openapi(client))["paths"]["/api/v1/rag/upload"]["post"]["requestBody"]
    assert body["required"] is True
    form = body["content"]["multipart/form-data"]["schema"]
    assert form["required"] == ["file"] and form["properties"]["file"]["items"]["format"] == "binary"
    response = await client.post("/api/v1/rag/upload", headers=admin.headers)
    assert response.status_code == 415 and response.json()["error"]["code"] == "unsupported_media_type"


async def test_null_in_a_persona_patch_leaves_the_field_as_it_is(client: httpx.AsyncClient, world: World) -> None:
    admin = await world.account(Role.dealership_admin, await world.dealership())
    spec = {"kind": "customer", "name": "Van Vera", "vehicle": "a cargo van", "voice": "alloy"}
    created = await client.post("/api/v1/personas", headers=admin.headers, json=spec)
    assert created.status_code == 201, created.text
    url = f"/api/v1/personas/{created.json()['id']}"
    patched = await client.patch(url, headers=admin.headers, json={"vehicle": None, "name": None, "active": None})
    assert patched.status_code == 200, patched.text
    assert (patched.json()["vehicle"], patched.json()["name"], patched.json()["active"]) == ("a cargo van", "Van Vera",
                                                                                             True)
    cleared = await client.patch(url, headers=admin.headers, json={"voice": None})  # a nullable field: cleared
    assert cleared.status_code == 200 and cleared.json()["voice"] is None


async def test_another_dealerships_id_is_replaced_by_the_callers_own_on_every_endpoint(
        client: httpx.AsyncClient, world: World) -> None:
    """One rule (Scope.dealership_for_write): only a super admin picks the dealership; anyone
    else acts on their own whatever they send, and learns nothing about the other one."""
    own, other = await world.dealership(), await world.dealership()
    admin = await world.account(Role.dealership_admin, own)
    user = await world.account(Role.user, own)
    for account in (admin, user):
        response = await client.post("/api/v1/chat", headers=account.headers,
                                     json={"message": "Hello", "mode": "training", "dealership_id": str(other)})
        assert response.status_code == 200, response.text
        session = await client.get(f"/api/v1/sessions/{response.json()['session_id']}", headers=account.headers)
        assert session.json()["dealership_id"] == str(own)
    persona = await client.post("/api/v1/personas", headers=admin.headers,
                                json={"kind": "customer", "name": "Elsewhere Ed", "dealership_id": str(other)})
    assert persona.status_code == 201 and persona.json()["dealership_id"] == str(own)
