"""Helpers for the document tests: upload through the API and wait for the in-process worker."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

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
