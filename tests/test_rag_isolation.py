"""Nobody sees another dealership's documents, chunks or results: not by id, not by listing,
not by a query that matches only the other's text, not through a warm cache."""

from __future__ import annotations

import uuid

from server.db.models import Role
from server.rag.retrieval import search
from server.state import AppState
from tests.conftest import World
from tests.rag_support import ingest, query, upload

SECRET_B = "Northwind pay plan: the closer bonus is 400 dollars per unit above quota."
PUBLIC_A = "Greet every customer within thirty seconds and offer a test drive."


async def test_dealership_a_never_sees_dealership_b(client, world: World, state: AppState) -> None:
    a, b = await world.dealership(), await world.dealership()
    admin_a, user_a = await world.account(Role.dealership_admin, a), await world.account(Role.user, a)
    admin_b, user_b = await world.account(Role.dealership_admin, b), await world.account(Role.user, b)
    doc_a = await ingest(client, admin_a, "greeting.txt", PUBLIC_A.encode())
    doc_b = await ingest(client, admin_b, "pay-plan.txt", SECRET_B.encode())

    # Warm B's caches first with the exact query A will send.
    assert (await query(client, user_b, "closer bonus per unit above quota"))[0]["document_id"] == doc_b["id"]
    for account in (admin_a, user_a):
        assert await query(client, account, "closer bonus per unit above quota") == [] or all(
            r["document_id"] == doc_a["id"] for r in await query(client, account, "closer bonus per unit above quota"))
        listing = (await client.get("/api/v1/rag/documents", headers=account.headers)).json()
        assert [item["id"] for item in listing["items"]] == [doc_a["id"]] and listing["total"] == 1
        assert (await client.get(f"/api/v1/rag/documents/{doc_b['id']}", headers=account.headers)).status_code == 404
        filtered = await client.get("/api/v1/rag/documents", headers=account.headers,
                                    params={"dealership_id": str(b)})
        assert filtered.json()["total"] == 0
    assert (await client.delete(f"/api/v1/rag/documents/{doc_b['id']}", headers=admin_a.headers)).status_code == 404
    assert (await client.post(f"/api/v1/rag/documents/{doc_b['id']}/reindex",
                              headers=admin_a.headers)).status_code == 404
    # Asking for B's dealership explicitly does not help: a non-super-admin always gets their own.
    body = {"query": "closer bonus per unit above quota", "dealership_id": str(b)}
    results = (await client.post("/api/v1/rag/query", headers=user_a.headers, json=body)).json()["results"]
    assert all(r["document_id"] != doc_b["id"] for r in results)
    # ...and an upload naming B's dealership lands in A's.
    response = await upload(client, admin_a, ("x.txt", b"Always ask for the sale."), dealership_id=b)
    assert response.status_code == 202
    listing_b = (await client.get("/api/v1/rag/documents", headers=user_b.headers)).json()
    assert [item["id"] for item in listing_b["items"]] == [doc_b["id"]]

    # The Python API the conversation engine uses is scoped the same way.
    assert all(r.document_id != uuid.UUID(doc_b["id"]) for r in await search(state, a, SECRET_B, 5))
    assert [str(r.document_id) for r in await search(state, b, SECRET_B, 5)] == [doc_b["id"]]


async def test_dealership_delete_removes_its_documents(client, world: World, state: AppState) -> None:
    a = await world.dealership()
    admin_a = await world.account(Role.dealership_admin, a)
    await ingest(client, admin_a, "pay-plan.txt", SECRET_B.encode())
    root = await world.root()
    assert (await client.delete(f"/api/v1/dealerships/{a}", headers=root.headers)).status_code == 204
    assert await search(state, a, SECRET_B, 5) == []
