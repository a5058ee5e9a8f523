"""Every way a document can fail ends as `failed` with a reason a person understands, and no
chunks; text in any common encoding comes out right."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from server.db.models import Role
from server.rag.models import Chunk
from server.state import AppState
from tests.conftest import World
from tests.fixtures.make_documents import (
    PDF_PAGES,
    docx_bytes,
    encrypted_pdf,
    image_only_pdf,
    pdf_bytes,
    zip_bomb_docx,
)
from tests.rag_support import ingest, query


async def _chunks(state: AppState, document_id: str) -> int:
    async with state.sessionmaker() as session:
        count = await session.scalar(select(func.count()).select_from(Chunk).where(
            Chunk.document_id == uuid.UUID(document_id)))
    return int(count or 0)


CASES = [
    ("locked.pdf", encrypted_pdf, "password-protected"),
    ("scan.pdf", image_only_pdf, "no extractable text; is it a scanned image?"),
    ("cut.pdf", lambda: pdf_bytes(PDF_PAGES)[:1500], "corrupt or truncated"),
    ("cut.docx", lambda: docx_bytes()[:20000], "corrupt or truncated"),
    ("bomb.docx", lambda: zip_bomb_docx(201 * 1024 * 1024), "zip bomb"),
    ("blank.txt", lambda: b"   \n\n\t  \n", "no text"),
]


@pytest.mark.parametrize(("name", "make", "reason"), CASES, ids=[c[0] for c in CASES])
async def test_unreadable_documents_fail_with_a_reason_and_no_chunks(
        client, world: World, state: AppState, name, make, reason) -> None:
    dealer = await world.dealership()
    admin = await world.account(Role.dealership_admin, dealer)
    done = await ingest(client, admin, name, make())
    assert done["status"] == "failed"
    assert reason in done["error"]
    assert done["chunks"] == 0
    assert await _chunks(state, done["id"]) == 0


async def test_a_failed_reindex_leaves_no_old_chunks_behind(client, world: World, state: AppState) -> None:
    dealer = await world.dealership()
    admin = await world.account(Role.dealership_admin, dealer)
    done = await ingest(client, admin, "guide.txt", b"Always ask for the sale.")
    assert await _chunks(state, done["id"]) == 1
    # The stored file is damaged behind our back: re-indexing must fail cleanly, not keep stale chunks.
    async with state.sessionmaker() as session, session.begin():
        from server.rag.models import Document, DocumentFile

        await session.execute(DocumentFile.__table__.update().where(
            DocumentFile.document_id == uuid.UUID(done["id"])).values(data=b" \n "))
        await session.execute(Document.__table__.update().where(Document.id == uuid.UUID(done["id"])).values())
    response = await client.post(f"/api/v1/rag/documents/{done['id']}/reindex", headers=admin.headers)
    assert response.status_code == 202
    from tests.rag_support import wait_for

    again = await wait_for(client, admin, done["id"], statuses=("failed",))
    assert "no text" in again["error"]
    assert await _chunks(state, done["id"]) == 0
    assert await query(client, admin, "ask for the sale") == []


TEXT = "Café owners\u2019 \u201cbest\u201d offer: 5 € off \u2014 naïve résumé"  # cp1252 has all of these


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252"])
async def test_text_encodings_come_out_without_mojibake(client, world: World, encoding: str) -> None:
    dealer = await world.dealership()
    admin = await world.account(Role.dealership_admin, dealer)
    done = await ingest(client, admin, f"offer-{encoding}.txt", TEXT.encode(encoding))
    assert done["status"] == "ready", done
    results = await query(client, admin, "café owners best offer résumé")
    assert results and results[0]["text"] == TEXT


async def test_markdown_keeps_headings(client, world: World) -> None:
    dealer = await world.dealership()
    admin = await world.account(Role.dealership_admin, dealer)
    filler = "Base salary plus commission on front and back gross, paid monthly. " * 16
    body = f"# Pay plan\n\n{filler}\n\n## Spiffs\n\nA $50 spiff for every GAP contract sold.\n"
    done = await ingest(client, admin, "pay-plan.md", body.encode())
    assert done["status"] == "ready"
    assert done["kind"] == "markdown"
    results = await query(client, admin, "spiff for every GAP contract")
    assert results[0]["heading"] == "Spiffs"
    assert "## Spiffs" in results[0]["text"]
