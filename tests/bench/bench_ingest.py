"""A generated 200-page PDF from upload to ready, through the real HTTP API and the
in-process worker (offline embedder, pgvector). Target: at most 10 s.

    .venv/bin/python -m tests.bench.bench_ingest [--pages 200]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import httpx

from server.accounts import create_user
from server.app import create_app
from server.db.models import Role
from tests.bench.rag_common import bench_settings, machine, new_dealership, start_database
from tests.fixtures.make_documents import generated_pdf

PASSWORD = "bench-password-1"


async def main(pages: int) -> None:
    url = start_database()
    settings = bench_settings(url, rag_workers=1, bcrypt_rounds=4)
    app = create_app(settings)
    pdf = generated_pdf(pages)
    async with app.router.lifespan_context(app):
        state = app.state.sparring
        dealer = await new_dealership(state.rag)
        async with state.sessionmaker() as session:
            await create_user(session, email="bench@example.com", password=PASSWORD, name="Bench",
                              role=Role.dealership_admin, dealership_id=dealer, bcrypt_rounds=4)
            await session.commit()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            login = await client.post("/api/v1/auth/login", json={"email": "bench@example.com", "password": PASSWORD})
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            started = time.perf_counter()
            response = await client.post("/api/v1/rag/upload", headers=headers,
                                         files=[("file", ("bench.pdf", pdf, "application/pdf"))])
            assert response.status_code == 202, response.text
            document_id = response.json()["documents"][0]["id"]
            while True:
                body = (await client.get(f"/api/v1/rag/documents/{document_id}", headers=headers)).json()
                if body["status"] in ("ready", "failed"):
                    break
                await asyncio.sleep(0.02)
            seconds = time.perf_counter() - started
    assert body["status"] == "ready", body
    print(f"machine: {machine()}")
    print(f"{pages}-page PDF ({len(pdf) / 1e6:.2f} MB), upload -> ready: {seconds:.2f} s "
          f"({'PASS' if seconds <= 10 else 'FAIL'} target <= 10 s)")
    print(f"  {body['pages'] / seconds:.0f} pages/s, {body['chunks'] / seconds:.0f} chunks/s, {body['chunks']} chunks")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=200)
    asyncio.run(main(parser.parse_args().pages))
