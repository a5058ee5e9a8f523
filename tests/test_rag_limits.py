"""Hostile files cannot stall ingestion (issue 15): each file is read in a child process with a
wall clock per document and per page and a memory cap, ends `failed` with a readable reason when
over one, stops at once when deleted, and one dealership's slow file leaves other dealerships'
documents moving. The hostile files are built here: a 47 KB PDF whose 200 pages share one 5 MB
content stream, a 120 KB DOCX that unpacks to 40 MB of XML."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from server.app import create_app
from server.db.models import Role
from server.rag import presence
from server.rag.models import Chunk
from server.state import AppState
from tests.conftest import Account, World, make_settings
from tests.fixtures.make_documents import cpu_bomb_pdf, expanding_docx
from tests.rag_support import own_database, upload, wait_for  # noqa: F401  (fixture)

SMALL = ("note.txt", b"Acknowledge, then ask why.\n")  # the other dealership's 30-byte file


@asynccontextmanager
async def serving(database_url: str, **settings: Any) -> AsyncIterator[tuple[httpx.AsyncClient, World]]:
    application = create_app(make_settings(database_url, rag_worker_heartbeat_seconds=0.5, **settings))
    async with application.router.lifespan_context(application):
        state: AppState = application.state.sparring
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client, World(client, state)


async def _admin(world: World) -> Account:
    return await world.account(Role.dealership_admin, await world.dealership())


async def _upload_one(client: httpx.AsyncClient, account: Account, name: str, content: bytes) -> str:
    response = await upload(client, account, (name, content))
    assert response.status_code == 202, response.text
    return str(response.json()["documents"][0]["id"])


async def _chunks(state: AppState, document_id: str) -> int:
    async with state.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Chunk).where(
            Chunk.document_id == uuid.UUID(document_id))) or 0)


def _reader_pids(state: AppState) -> list[int]:
    assert state.rag is not None
    return state.rag.extractors.busy_pids


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


async def _until(condition: Any, limit_s: float, what: str) -> None:
    deadline = time.monotonic() + limit_s
    while not await condition():
        assert time.monotonic() < deadline, f"not within {limit_s} s: {what}"
        await asyncio.sleep(0.05)


async def test_a_cpu_bomb_pdf_fails_as_too_slow_to_read(own_database: str) -> None:  # noqa: F811
    async with serving(own_database, rag_extract_page_seconds=2.0, rag_extract_seconds=120.0) as (client, world):
        admin = await _admin(world)
        bomb = cpu_bomb_pdf()
        assert len(bomb) < 50_000
        document_id = await _upload_one(client, admin, "bomb.pdf", bomb)
        # Without limits each of its 200 pages takes 15-25 s of CPU: over an hour.
        done = await wait_for(client, admin, document_id, limit_s=90)
        assert done["status"] == "failed"
        assert "took too long to read" in done["error"] and "page 1" in done["error"], done["error"]
        assert done["chunks"] == 0 and await _chunks(world.state, document_id) == 0
        assert _reader_pids(world.state) == []


async def test_a_slow_document_holds_neither_other_dealerships_nor_its_deletion(
        own_database: str) -> None:  # noqa: F811
    # Limits far away: only the scheduling and the cancellation can free the others here.
    async with serving(own_database, rag_extract_page_seconds=600.0, rag_extract_seconds=600.0) as (client, world):
        slow_admin, other_admin = await _admin(world), await _admin(world)
        bomb = await _upload_one(client, slow_admin, "bomb.pdf", cpu_bomb_pdf())
        await wait_for(client, slow_admin, bomb, statuses=("processing",))
        behind = await _upload_one(client, slow_admin, "next.txt", b"Ask about the monthly budget first.\n")

        # Another dealership's small file is read while the bomb still is.
        small = await _upload_one(client, other_admin, *SMALL)
        done = await wait_for(client, other_admin, small, limit_s=60)
        assert done["status"] == "ready", done
        assert (await client.get(f"/api/v1/rag/documents/{bomb}", headers=slow_admin.headers)).json()["status"] \
            == "processing"

        # The bomb's own dealership waits behind it, and is told why.
        waiting = (await client.get(f"/api/v1/rag/documents/{behind}", headers=slow_admin.headers)).json()
        assert waiting["status"] == "queued" and waiting["waiting_behind"] == 1
        assert waiting["status_reason"] == presence.READING_OWN.format(filename="bomb.pdf")
        # The other dealership sees its own list only: nothing of the bomb, no reason on its ready file.
        listed = (await client.get("/api/v1/rag/documents", headers=other_admin.headers)).json()["items"]
        assert [(d["id"], d["status_reason"]) for d in listed] == [(small, None)]

        # Deleting the bomb kills its reader at once and frees the queue.
        [reader] = _reader_pids(world.state)
        assert _alive(reader)
        deleted = await client.delete(f"/api/v1/rag/documents/{bomb}", headers=slow_admin.headers)
        assert deleted.status_code == 204

        async def reader_gone() -> bool:
            return not _alive(reader)

        await _until(reader_gone, 10, "the deleted document's reader was not killed")
        assert (await wait_for(client, slow_admin, behind, limit_s=60))["status"] == "ready"


async def test_an_expanding_docx_is_read_in_bounded_memory(own_database: str) -> None:  # noqa: F811
    statm = Path("/proc/self/statm")
    page = os.sysconf("SC_PAGE_SIZE")

    def rss() -> int:
        return int(statm.read_text().split()[1]) * page

    async with serving(own_database) as (client, world):
        admin = await _admin(world)
        docx = expanding_docx()
        assert len(docx) < 150_000  # 40 MB of XML, 1.2 million paragraphs, once unpacked
        before = peak = rss()
        document_id = await _upload_one(client, admin, "expanding.docx", docx)
        child_peak = 0

        async def finished() -> bool:
            nonlocal peak, child_peak
            peak = max(peak, rss())
            # The server holds none of it (it grew by over 800 MB when it parsed the file itself).
            assert peak - before < 150 * 1024 * 1024, f"server grew by {(peak - before) >> 20} MB"
            for pid in _reader_pids(world.state):
                child_peak = max(child_peak, _peak_rss(pid))
            body = (await client.get(f"/api/v1/rag/documents/{document_id}", headers=admin.headers)).json()
            return bool(body["status"] in ("ready", "failed"))

        await _until(finished, 300, "the DOCX was not read")
        done = (await client.get(f"/api/v1/rag/documents/{document_id}", headers=admin.headers)).json()
        assert done["status"] == "ready", done
        assert done["chunks"] > 1000
        # The reader's parse is streamed: memory follows the text, not the XML tree.
        assert 0 < child_peak < 900 * 1024 * 1024, f"reader peaked at {child_peak >> 20} MB"


def _peak_rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


async def test_a_file_over_the_memory_limit_fails_as_too_large_to_read(own_database: str) -> None:  # noqa: F811
    async with serving(own_database, rag_extract_memory_mb=256) as (client, world):
        admin = await _admin(world)
        text = b"price trade budget warranty payment " * 600_000  # 21 MB on one line: ~650 MB to read
        document_id = await _upload_one(client, admin, "huge.txt", text)
        done = await wait_for(client, admin, document_id, limit_s=90)
        assert done["status"] == "failed", done
        assert "too large to read" in done["error"] and "256 MB" in done["error"], done["error"]
        assert await _chunks(world.state, document_id) == 0
        # One paragraph of 1.7 million runs: the streaming parse must hold that paragraph whole.
        docx = expanding_docx(1_700_000, runs_in_one_paragraph=True)
        done = await wait_for(client, admin, await _upload_one(client, admin, "one-paragraph.docx", docx), limit_s=90)
        assert done["status"] == "failed" and "too large to read" in done["error"], done
        # The next file gets a fresh reader and is read normally.
        assert (await wait_for(client, admin, await _upload_one(client, admin, *SMALL)))["status"] == "ready"


def test_a_memory_limit_too_small_for_the_reader_itself_is_refused(database_url: str) -> None:
    import pydantic

    with pytest.raises(pydantic.ValidationError, match="at least 256"):
        make_settings(database_url, rag_extract_memory_mb=100)
    assert make_settings(database_url, rag_extract_memory_mb=0).rag_extract_memory_mb == 0  # no limit
