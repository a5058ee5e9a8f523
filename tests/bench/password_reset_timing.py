"""Password reset: does the answer's time tell whether an account exists?

`POST /api/v1/auth/password-reset` for a known and for an unknown email, interleaved at random,
through the whole ASGI stack in process (middleware, endpoint, embedded PostgreSQL), no mail
transport (emails kept). Prints each side's latency percentiles and the gap between medians.

Run:  .venv/bin/python tests/bench/password_reset_timing.py [--requests 300]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from server.accounts import create_user
from server.app import create_app
from server.db.embedded import start_embedded
from server.db.models import Role
from server.settings import Settings


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return (f"p50 {pick(0.5):6.2f} ms  p90 {pick(0.9):6.2f} ms  p99 {pick(0.99):6.2f} ms  "
            f"mean {statistics.fmean(ordered):6.2f} ms")


async def main(requests: int) -> None:
    url = start_embedded(Path(tempfile.mkdtemp(prefix="sparring-bench-reset-")))
    settings = Settings(_env_file=None, environment="test", database_url=url,  # type: ignore[call-arg]
                        jwt_secret="bench-" + secrets.token_urlsafe(40), bcrypt_rounds=4, rag_workers=0,
                        redis_url=None, openai_api_key=None, elevenlabs_api_key=None,
                        rate_limit_password_reset="1000000/hour", rate_limit_password_reset_address="1000000/hour")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        state = app.state.sparring
        async with state.sessionmaker() as db:
            await create_user(db, email="known@example.com", password=None, name="Known", role=Role.super_admin,
                              dealership_id=None, bcrypt_rounds=4)
            await db.commit()
        transport = httpx.ASGITransport(app=app, client=("203.0.113.1", 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            times: dict[str, list[float]] = {"known": [], "unknown": []}
            order = ["known", "unknown"] * (requests + 20)
            random.Random(7).shuffle(order)
            for n, kind in enumerate(order):
                email = "known@example.com" if kind == "known" else f"nobody-{n}@example.com"
                started = time.perf_counter()
                response = await client.post("/api/v1/auth/password-reset", json={"email": email})
                elapsed = (time.perf_counter() - started) * 1000
                assert response.status_code == 202, response.text
                if n >= 40:  # warm-up
                    times[kind].append(elapsed)
    for kind, samples in times.items():
        print(f"{kind:8} n={len(samples):4}  {percentiles(samples)}")
    gap = statistics.median(times["known"]) - statistics.median(times["unknown"])
    print(f"median gap (known - unknown): {gap:+.2f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    asyncio.run(main(parser.parse_args().requests))
