"""Benchmark: how much the server adds to the time to first token of a streaming chat.

A fake OpenAI-compatible provider (its own process) answers every request with a fixed time
to first token. We measure, from a client, the time to the first token
  1. straight from the fake provider (the floor), and
  2. through one uvicorn process of the server (`POST /api/v1/chat`, SSE, training mode:
     auth, rate limit, session and message writes, retrieval, prompt building included),
with CONCURRENCY chats in flight at once, and report the difference of the p50 and p95.

    .venv/bin/python tests/bench/chat_load.py [--concurrency 50] [--rounds 6] [--ttft 0.2] [--words 10]

Uses DATABASE_URL if set, else an embedded PostgreSQL in a temporary folder.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from server.accounts import create_user  # noqa: E402
from server.db.embedded import start_embedded, to_asyncpg_url  # noqa: E402
from server.db.engine import create_engine, create_sessionmaker  # noqa: E402
from server.db.migrate import upgrade_head_async  # noqa: E402
from server.db.models import Dealership, Role  # noqa: E402
from tests.conftest import free_port  # noqa: E402

PASSWORD = "bench-password-123"


def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited early")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not start")


async def seed(database_url: str, users: int) -> list[str]:
    await upgrade_head_async(database_url)
    engine = create_engine(database_url)
    emails = [f"bench-{uuid.uuid4().hex[:8]}@example.com" for _ in range(users)]
    async with create_sessionmaker(engine)() as db:
        dealership = Dealership(name="Bench Motors", slug=f"bench-{uuid.uuid4().hex[:8]}")
        db.add(dealership)
        await db.flush()
        for email in emails:
            await create_user(db, email=email, password=PASSWORD, name="Bench", role=Role.user,
                              dealership_id=dealership.id, bcrypt_rounds=4)
        await db.commit()
    await engine.dispose()
    return emails


async def first_token_direct(client: httpx.AsyncClient, url: str) -> float:
    started = time.perf_counter()
    body = {"model": "gpt-4o", "stream": True, "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": "hi"}]}
    ttft = 0.0
    async with client.stream("POST", url + "/v1/chat/completions", json=body) as response:
        async for line in response.aiter_lines():
            if '"content": "' in line and '"content": ""' not in line and not ttft:
                ttft = time.perf_counter() - started
    return ttft


async def first_token_server(client: httpx.AsyncClient, url: str, token: str) -> float:
    started = time.perf_counter()
    ttft = 0.0
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    body = {"mode": "training", "message": "The customer says the monthly payment is too high."}
    async with client.stream("POST", url + "/api/v1/chat", json=body, headers=headers) as response:
        assert response.status_code == 200, response.status_code
        async for line in response.aiter_lines():
            if line == "event: delta" and not ttft:
                ttft = time.perf_counter() - started
            if line == "event: error":
                raise RuntimeError("chat failed")
    return ttft


def summary(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered) * 1000, ordered[int(0.95 * (len(ordered) - 1))] * 1000


async def measure(args: argparse.Namespace, fake_url: str, server_url: str, tokens: list[str]) -> None:
    limits = httpx.Limits(max_connections=args.concurrency * 3, max_keepalive_connections=args.concurrency * 3)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        direct: list[float] = []
        through: list[float] = []
        for round_ in range(args.rounds + 1):
            if args.separate:
                # One kind at a time, and each of the N clients chats back to back (a closed loop),
                # so N chats are in flight without all starting in the same millisecond.
                async def loop(one: Callable[[], Awaitable[float]]) -> list[float]:
                    return [await one() for _ in range(args.rounds)]

                first = await asyncio.gather(*[loop(lambda: first_token_direct(client, fake_url))
                                               for _ in range(args.concurrency)])
                second = await asyncio.gather(*[loop(lambda i=i: first_token_server(client, server_url,
                                                                                     tokens[i % len(tokens)]))
                                                for i in range(args.concurrency)])
                direct += [v for per in first for v in per]
                through += [v for per in second for v in per]
                break
            else:
                # Both kinds run at once, so they share whatever else loads the machine.
                results = await asyncio.gather(
                    *[first_token_direct(client, fake_url) for _ in range(args.concurrency)],
                    *[first_token_server(client, server_url, tokens[i % len(tokens)])
                      for i in range(args.concurrency)])
            if round_:  # the first round warms connections and caches up
                direct += results[: args.concurrency]
                through += results[args.concurrency:]
    d50, d95 = summary(direct)
    s50, s95 = summary(through)
    print(f"concurrency {args.concurrency} chats (+{args.concurrency} direct), {len(through)} chats measured, "
          f"provider TTFT {args.ttft * 1000:.0f} ms")
    print(f"direct to provider : p50 {d50:7.1f} ms   p95 {d95:7.1f} ms")
    print(f"through the server : p50 {s50:7.1f} ms   p95 {s95:7.1f} ms")
    print(f"added by the server: p50 {s50 - d50:7.1f} ms   p95 {s95 - d95:7.1f} ms   (client view)")


async def server_side(database_url: str) -> None:
    """The server's own share of each answer's TTFT: from the handler's start to the first token,
    minus the time the model took from being asked (both recorded with every message)."""
    engine = create_engine(database_url)
    async with engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT ttft_ms - (metrics->>'model_ttft_ms')::float FROM conversation_message "
            "WHERE role = 'assistant' AND metrics ? 'model_ttft_ms' AND metrics->>'model_ttft_ms' IS NOT NULL"
        ))).scalars().all()
    await engine.dispose()
    p50, p95 = summary([r / 1000 for r in rows])
    print(f"server-side share  : p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   ({len(rows)} answers, recorded per message)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--ttft", type=float, default=0.2)
    parser.add_argument("--words", type=int, default=10, help="words per fake answer")
    parser.add_argument("--tps", type=float, default=100, help="the fake's tokens per second after the first")
    parser.add_argument("--separate", action="store_true",
                        help="measure direct and through-server chats one after the other, not at once")
    args = parser.parse_args()
    database_url = to_asyncpg_url(os.environ["DATABASE_URL"]) if os.environ.get("DATABASE_URL") \
        else start_embedded(Path(tempfile.mkdtemp(prefix="bench-pg-")))
    emails = asyncio.run(seed(database_url, args.concurrency))
    fake_port, server_port = free_port(), free_port()
    fake = subprocess.Popen([sys.executable, "-m", "tests.fakes.openai_chat", "--port", str(fake_port),
                             "--ttft", str(args.ttft), "--tps", str(args.tps), "--words", str(args.words)], cwd=ROOT)
    env = {**os.environ, "DATABASE_URL": database_url, "OPENAI_API_KEY": "bench",
           "OPENAI_BASE_URL": f"http://127.0.0.1:{fake_port}/v1", "RATE_LIMIT_CHAT": "100000/minute",
           "RATE_LIMIT_LOGIN": "100000/minute", "REDIS_URL": "", "LOG_LEVEL": "WARNING",
           "ENVIRONMENT": "development", "BCRYPT_ROUNDS": "4", "JWT_SECRET": "bench-" + uuid.uuid4().hex * 2}
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "server.app:asgi_factory", "--factory",
                               "--host", "127.0.0.1", "--port", str(server_port), "--no-access-log"], cwd=ROOT, env=env)
    fake_url, server_url = f"http://127.0.0.1:{fake_port}", f"http://127.0.0.1:{server_port}"
    try:
        wait_ready(fake_url + "/v1/models", fake)
        wait_ready(server_url + "/api/ready", server)
        tokens = [httpx.post(server_url + "/api/v1/auth/login", json={"email": e, "password": PASSWORD})
                  .json()["access_token"] for e in emails]
        asyncio.run(measure(args, fake_url, server_url, tokens))
        asyncio.run(server_side(database_url))
    finally:
        for process in (server, fake):
            process.terminate()
            process.wait(timeout=10)


if __name__ == "__main__":
    main()
