"""Fairness across dealerships under hostile uploads: dealership A uploads ten slow or hostile
documents (CPU-bomb PDFs whose pages all share one 5 MB content stream, DOCX files that unpack
to 40 MB of XML); once one is being read, dealership B uploads a 30-byte text file every few
seconds for a minute. Reported: how long each of B's files takes from upload to ready (target:
under 10 s), the server's event-loop lag all the while, what became of A's files, then how long
deleting A's documents takes to stop their readers.

    .venv/bin/python -m tests.bench.ingest_fairness [--rounds 12] [--spacing 5] [--give-up 120]

Runs the real HTTP API in process (the event loop measured is the server's) with the server's
default ingestion settings (RAG_WORKERS, RAG_EXTRACT_*), offline embedder, embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from typing import Any

import httpx

from server.accounts import create_user
from server.app import create_app
from server.db.models import Role
from server.settings import Settings
from tests.bench.rag_common import bench_settings, machine, new_dealership, start_database
from tests.fixtures.make_documents import cpu_bomb_pdf, expanding_docx

PASSWORD = "bench-password-1"
SMALL = b"Acknowledge, then ask why.\n"


def hostile_documents() -> list[tuple[str, bytes]]:
    """Ten distinct files (distinct content: duplicates are refused)."""
    pdfs = [(f"bomb-{n}.pdf", cpu_bomb_pdf(pages=200 - n)) for n in range(5)]
    docxs = [(f"expanding-{n}.docx", expanding_docx(1_200_000 - 10_000 * n)) for n in range(5)]
    return [item for pair in zip(pdfs, docxs, strict=True) for item in pair]


class LagProbe:
    """How late a 10 ms sleep wakes up on the server's loop."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(0.01)
            self.samples.append(time.perf_counter() - started - 0.01)

    def start(self) -> None:
        self.samples.clear()
        self._task = asyncio.create_task(self._run())

    def stop(self) -> list[float]:
        assert self._task is not None
        self._task.cancel()
        return sorted(self.samples)


async def _account(state: Any, email: str) -> None:
    dealer = await new_dealership(state.rag, email.split("@")[0])
    async with state.sessionmaker() as session:
        await create_user(session, email=email, password=PASSWORD, name="Bench", role=Role.dealership_admin,
                          dealership_id=dealer, bcrypt_rounds=4)
        await session.commit()


async def _login(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    login = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


async def _upload(client: httpx.AsyncClient, headers: dict[str, str], name: str, content: bytes) -> str:
    response = await client.post("/api/v1/rag/upload", headers=headers,
                                 files=[("file", (name, content, "application/octet-stream"))])
    assert response.status_code == 202, response.text
    return str(response.json()["documents"][0]["id"])


async def _status(client: httpx.AsyncClient, headers: dict[str, str], document_id: str) -> dict[str, Any]:
    body: dict[str, Any] = (await client.get(f"/api/v1/rag/documents/{document_id}", headers=headers)).json()
    return body


def _percentile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


async def main(rounds: int, spacing: float, give_up: float) -> None:
    url = start_database()
    # The server's own defaults for ingestion (bench_settings turns the in-process workers off).
    settings = bench_settings(url, bcrypt_rounds=4, rag_workers=Settings.model_fields["rag_workers"].default)
    app = create_app(settings)
    hostile = hostile_documents()
    print(f"machine: {machine()}; load average at start {os.getloadavg()[0]:.2f}")
    print(f"settings: RAG_WORKERS={settings.rag_workers}, RAG_EXTRACT_SECONDS="
          f"{getattr(settings, 'rag_extract_seconds', '-')}, RAG_EXTRACT_PAGE_SECONDS="
          f"{getattr(settings, 'rag_extract_page_seconds', '-')}, RAG_EXTRACT_MEMORY_MB="
          f"{getattr(settings, 'rag_extract_memory_mb', '-')}")
    print(f"dealership A uploads: {', '.join(f'{n} ({len(c) // 1024} KB)' for n, c in hostile)}")
    async with app.router.lifespan_context(app):
        state = app.state.sparring
        await _account(state, "a@example.com")
        await _account(state, "b@example.com")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench",
                                     timeout=60) as client:
            a, b = await _login(client, "a@example.com"), await _login(client, "b@example.com")
            a_ids = [await _upload(client, a, name, content) for name, content in hostile]
            while True:  # until one of A's files is being read
                if "processing" in [(await _status(client, a, i))["status"] for i in a_ids]:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(2.0)  # the first hostile file is in full swing
            waits: list[float] = []
            probe = LagProbe()
            probe.start()
            for n in range(rounds):  # one small file every `spacing` seconds, each timed alone
                round_started = started = time.perf_counter()
                small = await _upload(client, b, f"note-{n}.txt", SMALL + str(n).encode())
                while (body := await _status(client, b, small))["status"] not in ("ready", "failed"):
                    if time.perf_counter() - started > give_up:
                        break
                    await asyncio.sleep(0.02)
                waits.append(time.perf_counter() - started)
                a_now = [(await _status(client, a, i))["status"] for i in a_ids]
                print(f"  round {n + 1}: B's file {body['status']} after {waits[-1]:.2f} s "
                      f"(A: {', '.join(f'{s} {a_now.count(s)}' for s in sorted(set(a_now)))})", flush=True)
                await asyncio.sleep(max(0.0, spacing - (time.perf_counter() - round_started)))
            lags = probe.stop()
            statuses = [(await _status(client, a, i))["status"] for i in a_ids]
            lags.sort()
            print(f"B's 30-byte file, upload -> ready: median {statistics.median(waits):.2f} s, "
                  f"max {max(waits):.2f} s over {rounds} rounds "
                  f"({'PASS' if max(waits) < 10 else 'FAIL'} target < 10 s)")
            print(f"server loop lag meanwhile ({len(lags)} probes of 10 ms): "
                  f"p50 {_percentile(lags, 0.5) * 1e3:.1f} ms, p99 {_percentile(lags, 0.99) * 1e3:.1f} ms, "
                  f"max {max(lags) * 1e3:.1f} ms")
            print(f"A's documents then: {', '.join(f'{s} {statuses.count(s)}' for s in sorted(set(statuses)))}")
            failed = [(await _status(client, a, i)) for i in a_ids]
            for body in failed:
                if body["status"] == "failed":
                    print(f"  {body['filename']}: {body['error']}")
            started = time.perf_counter()
            for i in a_ids:
                await client.delete(f"/api/v1/rag/documents/{i}", headers=a)
            deleted = time.perf_counter() - started
            extractors = getattr(state.rag, "extractors", None)
            while True:  # until no reader process is busy
                if extractors is None or not extractors.busy_pids or time.perf_counter() - started > give_up:
                    break
                await asyncio.sleep(0.02)
            print(f"deleting A's ten documents: {deleted:.2f} s for the requests, readers stopped "
                  f"{time.perf_counter() - started:.2f} s after the first delete")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--spacing", type=float, default=5.0, help="seconds between B's uploads")
    parser.add_argument("--give-up", type=float, default=120.0, help="stop waiting for B's file after this long")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.rounds, arguments.spacing, arguments.give_up))
