"""Helpers for the document tests: upload through the API and wait for the in-process worker."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from server.db.engine import create_engine
from server.db.migrate import upgrade_head_async
from tests.conftest import Account

DOCS = Path(__file__).resolve().parent / "fixtures" / "documents"


async def upload(client: httpx.AsyncClient, account: Account, *files: tuple[str, bytes],
                 dealership_id: uuid.UUID | None = None) -> httpx.Response:
    data = {"dealership_id": str(dealership_id)} if dealership_id else None
    return await client.post("/api/v1/rag/upload", headers=account.headers, data=data,
                             files=[("file", (name, content, "application/octet-stream")) for name, content in files])


async def wait_for(client: httpx.AsyncClient, account: Account, document_id: str, *,
                   statuses: tuple[str, ...] = ("ready", "failed"), limit_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + limit_s
    while True:
        response = await client.get(f"/api/v1/rag/documents/{document_id}", headers=account.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] in statuses:
            return body
        assert time.monotonic() < deadline, f"document still {body['status']}: {body}"
        await asyncio.sleep(0.05)


async def ingest(client: httpx.AsyncClient, account: Account, name: str, content: bytes,
                 dealership_id: uuid.UUID | None = None) -> dict[str, Any]:
    response = await upload(client, account, (name, content), dealership_id=dealership_id)
    assert response.status_code == 202, response.text
    return await wait_for(client, account, response.json()["documents"][0]["id"])


async def query(client: httpx.AsyncClient, account: Account, text: str, top_k: int = 5,
                dealership_id: uuid.UUID | None = None) -> list[dict[str, Any]]:
    body: dict[str, Any] = {"query": text, "top_k": top_k}
    if dealership_id:
        body["dealership_id"] = str(dealership_id)
    response = await client.post("/api/v1/rag/query", headers=account.headers, json=body)
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


@pytest.fixture
async def own_database(database_url: str) -> AsyncIterator[str]:
    """A fresh, migrated database on the test server, where the test app's worker never looks."""
    from sqlalchemy.engine import make_url

    name = f"rag_{uuid.uuid4().hex[:10]}"
    admin = create_engine(database_url, pool_size=1)
    async with admin.connect() as conn:
        await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(text(f"CREATE DATABASE {name}"))
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    await upgrade_head_async(url)
    try:
        yield url
    finally:
        async with admin.connect() as conn:
            auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await auto.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        await admin.dispose()
