"""Persona looks for the built-in avatar (`avatar_look`): the contract with the web client."""

from __future__ import annotations

import httpx

from server.avatar.looks import LOOKS, default_look
from server.conversation.personas import PersonaView, builtin_personas
from server.db.models import Role
from tests.conftest import World

CONTRACT = {"woman-young-casual", "woman-middle-business", "woman-senior-classic", "man-young-casual",
            "man-middle-business", "man-senior-classic", "man-middle-workwear", "woman-young-sporty"}


def test_the_looks_are_the_contract() -> None:
    assert set(LOOKS) == CONTRACT and len(LOOKS) == len(CONTRACT)


def test_every_builtin_persona_names_its_look() -> None:
    looks = {p.id: p.avatar_look for p in builtin_personas().values()}
    assert all(look in CONTRACT for look in looks.values())
    # Chosen in the files, not derived: at least six distinct faces among the built-ins.
    assert len(set(looks.values())) >= 6


def test_a_persona_without_a_look_gets_one_from_its_id() -> None:
    first = PersonaView(id="3f1e9a6c-1111-4d2e-9c1f-000000000001", builtin=False, kind="customer", name="A")
    again = PersonaView(id="3f1e9a6c-1111-4d2e-9c1f-000000000001", builtin=False, kind="customer", name="B")
    assert first.avatar_look == again.avatar_look == default_look(first.id)
    # Spread over the looks, not one face for everybody.
    assert len({default_look(f"persona-{n}") for n in range(200)}) == len(CONTRACT)


async def test_avatar_look_through_the_personas_api(client: httpx.AsyncClient, world: World) -> None:
    dealer = await world.dealership()
    admin = await world.account(Role.dealership_admin, dealer)
    spec = {"kind": "customer", "name": "Fleet Frank", "opening_line": "I need five vans."}
    assert (await client.post("/api/v1/personas", headers=admin.headers,
                              json={**spec, "avatar_look": "robot"})).status_code == 422
    created = await client.post("/api/v1/personas", headers=admin.headers, json=spec)
    assert created.status_code == 201, created.text
    persona_id = created.json()["id"]
    assert created.json()["avatar_look"] == default_look(persona_id)
    patched = await client.patch(f"/api/v1/personas/{persona_id}", headers=admin.headers,
                                 json={"avatar_look": "woman-senior-classic"})
    assert patched.status_code == 200 and patched.json()["avatar_look"] == "woman-senior-classic"
    got = await client.get(f"/api/v1/personas/{persona_id}", headers=admin.headers)
    assert got.json()["avatar_look"] == "woman-senior-classic"
    bad = await client.patch(f"/api/v1/personas/{persona_id}", headers=admin.headers, json={"avatar_look": "robot"})
    assert bad.status_code == 422
    reset = await client.patch(f"/api/v1/personas/{persona_id}", headers=admin.headers, json={"avatar_look": None})
    assert reset.json()["avatar_look"] == default_look(persona_id)
    adam = await client.get("/api/v1/personas/adam", headers=admin.headers)
    assert adam.json()["avatar_look"] == "man-middle-business"
