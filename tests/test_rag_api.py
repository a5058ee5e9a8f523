"""Documents through the API: upload -> queued -> ready, listing, search with citations, delete,
re-index, duplicates and the upload checks (type by content, size, empty, names, roles)."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, func, select

from server.db.models import Role
from server.rag.models import Chunk, Document
from server.rag.upload import sanitize_filename
from server.state import AppState
from tests.conftest import World
from tests.fixtures.make_documents import docx_bytes, pdf_bytes
from tests.rag_support import DOCS, ingest, query, upload, wait_for


async def test_pdf_docx_txt_become_ready_and_are_searchable_with_page_and_name(client, world: World) -> None:
    dealer = await world.dealership()
    admin = await world.account(Role.dealership_admin, dealer)
    trainee = await world.account(Role.user, dealer)
    files = [(p.name, p.read_bytes()) for p in sorted(DOCS.iterdir())]
    response = await upload(client, admin, *files)
    assert response.status_code == 202, response.text
    queued = response.json()["documents"]
    assert [d["status"] for d in queued] == ["queued"] * 3
    assert sorted(d["filename"] for d in queued) == sorted(name for name, _ in files)
    for item in queued:
        done = await wait_for(client, admin, item["id"])
        assert done["status"] == "ready", done
        assert done["chunks"] > 0 and done["error"] is None
        assert done["progress"]["chunks_done"] == done["chunks"]

    listing = (await client.get("/api/v1/rag/documents", headers=trainee.headers)).json()
    assert listing["total"] == 3
    assert {"id", "filename", "status", "error", "pages", "chunks", "size", "created_at",
            "updated_at"} <= set(listing["items"][0])
    pdf = next(i for i in listing["items"] if i["filename"].endswith(".pdf"))
    assert pdf["pages"] == 3

    results = await query(client, trainee, "customer says they want to talk to my spouse first")
    assert results[0]["filename"] == "objection-handling.pdf"
    assert results[0]["page"] == 3
    assert "spouse" in results[0]["text"]
    assert set(results[0]) >= {"document_id", "filename", "page", "text", "score"}

    results = await query(client, trainee, "What does GAP insurance cover?", top_k=2)
    assert results[0]["filename"] == "fi-products.docx"
    assert results[0]["heading"] == "GAP insurance" or "GAP" in results[0]["text"]
    assert len(results) <= 2


async def test_same_content_twice_is_409_with_existing_id_but_other_dealerships_are_independent(
        client, world: World) -> None:
    first, second = await world.dealership(), await world.dealership()
    admin_a = await world.account(Role.dealership_admin, first)
    admin_b = await world.account(Role.dealership_admin, second)
    content = (DOCS / "word-tracks.txt").read_bytes()
    original = await ingest(client, admin_a, "word-tracks.txt", content)
    again = await upload(client, admin_a, ("renamed.txt", content))
    assert again.status_code == 409
    assert again.json()["error"]["details"]["document_id"] == original["id"]
    assert (await upload(client, admin_b, ("word-tracks.txt", content))).status_code == 202


async def test_duplicate_passages_from_different_uploads_collapse_into_one_result(client, world: World) -> None:
    dealer = await world.dealership()
    admin = await world.account(Role.dealership_admin, dealer)
    passage = "Offer the tire and wheel package when the customer drives on low profile tires."
    await ingest(client, admin, "a.txt", f"{passage}\n".encode())
    await ingest(client, admin, "b.txt", f"{passage}\n\n".encode())  # other bytes, same text
    results = await query(client, admin, "tire and wheel package low profile tires")
    assert [r["text"] for r in results].count(passage) == 1


async def test_a_repeated_query_answers_the_same_from_the_cache(client, world: World, state: AppState) -> None:
    dealer = await world.dealership()
    admin = await world.account(Role.dealership_admin, dealer)
    await ingest(client, admin, "guide.pdf", (DOCS / "objection-handling.pdf").read_bytes())
    first = await query(client, admin, "customer wants to think about it")
    assert first
    async with state.sessionmaker() as session, session.begin():
        # Behind the API's back (so nothing invalidates the cache): only the cache can answer now.
        await session.execute(delete(Chunk).where(Chunk.dealership_id == dealer))
    second = await query(client, admin, "customer wants to think about it")
    assert second == first  # every field survives the round trip through the results cache


async def test_delete_removes_document_and_every_chunk(client, world: World, state: AppState) -> None:
    dealer = await world.dealership()
    admin = await world.account(Role.dealership_admin, dealer)
    doc = await ingest(client, admin, "tracks.txt", (DOCS / "word-tracks.txt").read_bytes())
    assert await query(client, admin, "credit union interest rate")
    response = await client.delete(f"/api/v1/rag/documents/{doc['id']}", headers=admin.headers)
    assert response.status_code == 204
    async with state.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Chunk)
                                    .where(Chunk.document_id == uuid.UUID(doc["id"]))) == 0
    assert (await client.get(f"/api/v1/rag/documents/{doc['id']}", headers=admin.headers)).status_code == 404
    assert await query(client, admin, "credit union interest rate") == []  # the cache was invalidated


async def test_reindex_uses_new_chunk_settings_without_duplicates(client, world: World, state: AppState) -> None:
    dealer = await world.dealership()
    admin = await world.account(Role.dealership_admin, dealer)
    doc = await ingest(client, admin, "guide.pdf", (DOCS / "objection-handling.pdf").read_bytes())
    root = await world.root()
    patch = await client.patch(f"/api/v1/dealerships/{dealer}", headers=root.headers,
                               json={"settings": {"chunk_size": 200, "chunk_overlap": 20}})
    assert patch.status_code == 200, patch.text
    response = await client.post(f"/api/v1/rag/documents/{doc['id']}/reindex", headers=admin.headers)
    assert response.status_code == 202
    assert response.json()["status"] == "queued"
    done = await wait_for(client, admin, doc["id"])
    assert done["status"] == "ready" and done["chunks"] > doc["chunks"]
    async with state.sessionmaker() as session:
        rows = (await session.execute(select(Chunk.position).where(
            Chunk.document_id == uuid.UUID(doc["id"])))).scalars().all()
    assert sorted(rows) == list(range(done["chunks"]))


async def test_type_is_decided_by_content_not_extension(client, world: World) -> None:
    dealer = await world.dealership()
    admin = await world.account(Role.dealership_admin, dealer)
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    response = await upload(client, admin, ("notes.txt", png))
    assert response.status_code == 415
    assert response.json()["error"]["details"]["filename"] == "notes.txt"
    zip_not_docx = docx_bytes()[:30] + b"\x00" * 100  # a zip header, but no Word document inside
    assert (await upload(client, admin, ("report.docx", zip_not_docx))).status_code == 415
    named_wrong = await upload(client, admin, ("guide.txt", pdf_bytes([("Close", ["Ask for the sale."])])))
    assert named_wrong.status_code == 202
    async with world.state.sessionmaker() as session:
        kind = await session.scalar(select(Document.kind).where(
            Document.id == uuid.UUID(named_wrong.json()["documents"][0]["id"])))
    assert kind == "pdf"


async def test_empty_file_is_422_and_nothing_is_stored(client, world: World, state: AppState) -> None:
    dealer = await world.dealership()
    admin = await world.account(Role.dealership_admin, dealer)
    response = await upload(client, admin, ("empty.txt", b""))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "empty_file"
    async with state.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Document)) == 0


async def test_each_file_of_an_upload_succeeds_or_fails_on_its_own(client, world: World, state: AppState) -> None:
    dealer = await world.dealership()
    admin = await world.account(Role.dealership_admin, dealer)
    known = await ingest(client, admin, "known.txt", b"Always ask for the sale.")
    pdf = pdf_bytes([("Close", ["Ask for the sale, then stop talking."])])
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    response = await upload(client, admin, ("closing.pdf", pdf), ("photo.png", png), ("empty.txt", b""),
                            ("again.txt", b"Always ask for the sale."), ("copy.pdf", pdf))
    assert response.status_code == 207, response.text
    body = response.json()
    results = body["results"]
    assert [(r["filename"], r["status"]) for r in results] == [
        ("closing.pdf", "queued"), ("photo.png", "refused"), ("empty.txt", "refused"), ("again.txt", "refused"),
        ("copy.pdf", "refused")]
    assert [r["error"]["code"] for r in results[1:]] == [
        "unsupported_media_type", "empty_file", "duplicate_document", "duplicate_document"]
    assert "photo.png is not a PDF" in results[1]["error"]["message"]
    assert results[3]["error"]["details"]["document_id"] == known["id"]
    assert results[4]["error"]["details"]["same_as"] == "closing.pdf"
    assert [d["filename"] for d in body["documents"]] == ["closing.pdf"]
    assert results[0]["document"] == body["documents"][0] and results[0]["error"] is None
    done = await wait_for(client, admin, body["documents"][0]["id"])
    assert done["status"] == "ready", done
    async with state.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Document)) == 2   # known.txt, closing.pdf

    # All refused: still one outcome per file, and nothing stored.
    refused = await upload(client, admin, ("photo.png", png), ("empty.txt", b""))
    assert refused.status_code == 207 and refused.json()["documents"] == []
    assert [r["status"] for r in refused.json()["results"]] == ["refused", "refused"]
    # All queued: 202, as before, with the per-file results beside `documents`.
    fine = await upload(client, admin, ("a.txt", b"Trial close one."), ("b.txt", b"Trial close two."))
    assert fine.status_code == 202
    assert [r["status"] for r in fine.json()["results"]] == ["queued", "queued"]


async def test_over_the_limit_is_413(client, world: World) -> None:
    dealer = await world.dealership()
    admin = await world.account(Role.dealership_admin, dealer)
    limit = world.state.settings.max_upload_mb * 1024 * 1024
    response = await upload(client, admin, ("big.txt", b"a" * (limit + 1)))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


async def test_streamed_upload_without_length_over_the_limit_is_413(client, world: World) -> None:
    dealer = await world.dealership()
    admin = await world.account(Role.dealership_admin, dealer)
    limit = world.state.settings.max_upload_mb * 1024 * 1024
    boundary = "sparringboundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.txt\"\r\n"
            "Content-Type: text/plain\r\n\r\n").encode()

    async def body():  # no Content-Length: the limit is enforced while reading
        yield head
        block = b"a" * (1024 * 1024)
        for _ in range(limit // len(block) + 2):
            yield block
        yield f"\r\n--{boundary}--\r\n".encode()

    response = await client.post("/api/v1/rag/upload", headers={
        **admin.headers, "content-type": f"multipart/form-data; boundary={boundary}"}, content=body())
    assert response.status_code == 413


async def test_filename_is_sanitized(client, world: World) -> None:
    dealer = await world.dealership()
    admin = await world.account(Role.dealership_admin, dealer)
    response = await upload(client, admin, ("..\\..\\etc/evil\u202ename.txt", b"Ask for the sale."))
    assert response.status_code == 202, response.text
    assert response.json()["documents"][0]["filename"] == "evilname.txt"
    assert sanitize_filename("a\x00b\x1f\x7fc.pdf") == "abc.pdf"
    assert sanitize_filename("../../") == "document"
    assert sanitize_filename("..hidden.txt") == "hidden.txt"
    long = sanitize_filename("x" * 400 + ".pdf")
    assert long.endswith(".pdf") and len(long.encode()) <= 255


async def test_roles_plain_user_cannot_upload_delete_or_reindex(client, world: World) -> None:
    dealer = await world.dealership()
    admin = await world.account(Role.dealership_admin, dealer)
    trainee = await world.account(Role.user, dealer)
    assert (await upload(client, trainee, ("a.txt", b"Ask for the sale."))).status_code == 403
    doc = await ingest(client, admin, "a.txt", b"Ask for the sale.")
    assert (await client.delete(f"/api/v1/rag/documents/{doc['id']}", headers=trainee.headers)).status_code == 403
    assert (await client.post(f"/api/v1/rag/documents/{doc['id']}/reindex",
                              headers=trainee.headers)).status_code == 403
    assert (await client.get(f"/api/v1/rag/documents/{doc['id']}", headers=trainee.headers)).status_code == 200


async def test_super_admin_names_the_dealership(client, world: World) -> None:
    dealer = await world.dealership()
    root = await world.root()
    missing = await upload(client, root, ("a.txt", b"Ask for the sale."))
    assert missing.status_code == 422
    done = await ingest(client, root, "a.txt", b"Always ask for the sale.", dealership_id=dealer)
    assert done["status"] == "ready"
    assert (await query(client, root, "ask for the sale", dealership_id=dealer))[0]["document_id"] == done["id"]
    response = await client.post("/api/v1/rag/query", headers=root.headers, json={"query": "sale"})
    assert response.status_code == 422


async def test_query_validation(client, world: World) -> None:
    dealer = await world.dealership()
    trainee = await world.account(Role.user, dealer)
    for body in ({"query": ""}, {"query": "x", "top_k": 0}, {"query": "x", "top_k": 21}, {}):
        response = await client.post("/api/v1/rag/query", headers=trainee.headers, json=body)
        assert response.status_code == 422, body
    assert await query(client, trainee, "anything at all") == []  # no documents yet
