"""Benchmark: how much the server adds to the time to first token of a streaming chat.

A fake OpenAI-compatible provider (its own process; chat completions and embeddings) answers
every chat with a fixed time to first token, then an answer of 30-90 words (`--words 60
--spread 0.5`: real answers vary in length, and equal ones would keep any clients that one
stall bunched together in step for the rest of the run). The dealership's documents (the test fixtures) are
ingested by the server first. We measure, from a client, the time to the first token
  1. straight from the fake provider (the floor), and
  2. through the server (`POST /api/v1/chat`, SSE, training mode: auth, rate limit, session and
     message writes, hybrid retrieval with the query's embedding, prompt building included),
with CONCURRENCY chats in flight at once, and report the difference of the p50 and p95, the
server's own share recorded with every answer and where it went (open, retrieval), its CPU per
chat and its event-loop lag, and the CPU the harness (this load generator, the fakes) burns.

    .venv/bin/python tests/bench/chat_load.py [--concurrency 50] [--ttft 0.2] [--words 60] [--spread 0.5]
                                               [--tps 60] [--arrivals staggered|separate|together] [--workers 1]
                                               [--redis URL] [--pin]

Arrivals (default `staggered`): CONCURRENCY clients chat back to back, each starting at a random
moment within one chat's length, so CONCURRENCY chats are in flight without all arriving in the
same millisecond; `separate` starts them together (they stay in step: bursts), `together` fires
rounds of CONCURRENCY direct and CONCURRENCY server chats at once.

Uses DATABASE_URL if set, else an embedded PostgreSQL in a temporary folder.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import psutil
import uvloop
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from server.accounts import create_user  # noqa: E402
from server.db.embedded import start_embedded, to_asyncpg_url  # noqa: E402
from server.db.engine import create_engine, create_sessionmaker  # noqa: E402
from server.db.migrate import upgrade_head_async  # noqa: E402
from server.db.models import Dealership, Role  # noqa: E402
from tests.bench.auth_load import lag_histogram  # noqa: E402
from tests.conftest import free_port  # noqa: E402

PASSWORD = "bench-password-123"
LAG_PROBE = 0.005
DOCUMENTS = ROOT / "tests" / "fixtures" / "documents"
# Questions vary (and carry a counter) so neither the query-embedding nor the results cache
# answers them: each chat pays for a full retrieval.
QUESTIONS = [
    "The customer says the monthly payment is too high.",
    "How do I handle a customer who wants to think about it?",
    "The customer says his spouse has to see the car first.",
    "What do I say when they have a better offer from another dealer?",
    "The customer declines the extended service contract.",
    "How do I answer a customer who thinks the trade-in value is too low?",
    "How should I present GAP insurance?",
    "The customer wants a lower interest rate.",
]
_asked = itertools.count()


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


async def seed(database_url: str, users: int) -> tuple[list[str], str]:
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
        admin = f"bench-admin-{uuid.uuid4().hex[:8]}@example.com"
        await create_user(db, email=admin, password=PASSWORD, name="Bench admin", role=Role.dealership_admin,
                          dealership_id=dealership.id, bcrypt_rounds=4)
        await db.commit()
    await engine.dispose()
    return emails, admin


def upload_documents(server_url: str, token: str) -> int:
    """The dealership's training documents (the test fixtures), ingested by the server itself, so
    every training chat runs real retrieval (full-text + vector + fusion) before the model."""
    headers = {"Authorization": f"Bearer {token}"}
    files = [("file", (path.name, path.read_bytes())) for path in sorted(DOCUMENTS.iterdir())]
    response = httpx.post(server_url + "/api/v1/rag/upload", files=files, headers=headers, timeout=30)
    response.raise_for_status()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        documents = httpx.get(server_url + "/api/v1/rag/documents", headers=headers).json()["items"]
        if documents and all(d["status"] == "ready" for d in documents):
            return sum(d["chunks"] for d in documents)
        if any(d["status"] == "failed" for d in documents):
            raise RuntimeError(f"ingestion failed: {documents}")
        time.sleep(0.5)
    raise RuntimeError("documents did not become ready")


async def _first(response: aiohttp.ClientResponse, started: float, found: Callable[[bytes], bool],
                 failed: Callable[[bytes], bool] = lambda _piece: False) -> float:
    """Seconds from `started` to the piece of the body in which `found` is true; the rest of the
    body is read too (the answer plays out). Read in whatever pieces arrive rather than line by
    line: the load generator shares the 2 CPUs with the server, so the less CPU it burns per
    streamed token, the less it perturbs what it measures."""
    ttft, tail = 0.0, b""
    async for piece in response.content.iter_any():
        window = tail + piece  # a marker may straddle two pieces
        if not ttft and found(window):
            ttft = time.perf_counter() - started
        if failed(window):
            raise RuntimeError("chat failed")
        tail = window[-32:]
    return ttft


def _has_text(window: bytes) -> bool:
    """A chat completions chunk with non-empty content (the fake writes `"content": "..."`)."""
    at = window.find(b'"content": "')
    while at >= 0:
        if window[at + 12:at + 13] not in (b'"', b""):
            return True
        at = window.find(b'"content": "', at + 1)
    return False


async def first_token_direct(client: aiohttp.ClientSession, url: str) -> float:
    started = time.perf_counter()
    body = {"model": "gpt-4o", "stream": True, "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": "hi"}]}
    async with client.post(url + "/v1/chat/completions", json=body) as response:
        return await _first(response, started, _has_text)


async def first_token_server(client: aiohttp.ClientSession, url: str, token: str) -> float:
    started = time.perf_counter()
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    n = next(_asked)
    body = {"mode": "training", "message": f"{QUESTIONS[n % len(QUESTIONS)]} (case {n})"}
    async with client.post(url + "/api/v1/chat", json=body, headers=headers) as response:
        assert response.status == 200, response.status
        return await _first(response, started, lambda window: b"event: delta\n" in window,
                            lambda window: b"event: error\n" in window)


def _cpu(process: psutil.Process) -> float:
    used = process.cpu_times()
    return float(used.user + used.system)


def summary(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered) * 1000, ordered[int(0.95 * (len(ordered) - 1))] * 1000


async def staggered(args: argparse.Namespace, one: Callable[[int], Awaitable[float]],
                    measuring: Callable[[], Awaitable[None]] | None = None,
                    measured: Callable[[], None] | None = None) -> tuple[list[float], float]:
    """N clients chat back to back, each starting at a random moment within one chat's length, so
    N chats stay in flight without arriving in the same millisecond. The first `args.warmup`
    seconds fill connection pools and caches (a server that has been up a while has them);
    `measuring` is awaited a second before they end, `measured` called when they end. Returns
    the TTFTs of the chats started after the warm-up and the mean number of chats in flight
    (sampled) while measuring."""
    chat_seconds = args.ttft + args.words / args.tps
    rng = random.Random(7)
    in_flight = 0
    samples: list[int] = []
    ttfts: list[float] = []
    measured_from = time.perf_counter() + args.warmup
    deadline = measured_from + args.seconds

    async def client(i: int) -> None:
        nonlocal in_flight
        await asyncio.sleep(rng.uniform(0, chat_seconds))
        while (started := time.perf_counter()) < deadline:
            in_flight += 1
            try:
                ttft = await one(i)
            finally:
                in_flight -= 1
            if started >= measured_from:
                ttfts.append(ttft)

    async def sample() -> None:
        # `measuring` starts a second early: a /metrics scrape is itself work for the server,
        # which would land on the first measured chats.
        await asyncio.sleep(max(0.0, measured_from - 1.0 - time.perf_counter()))
        if measuring is not None:
            await measuring()
        await asyncio.sleep(max(0.0, measured_from - time.perf_counter()))
        if measured is not None:
            measured()
        while time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
            samples.append(in_flight)

    await asyncio.gather(sample(), *[client(i) for i in range(args.concurrency)])
    return ttfts, statistics.mean(samples)


async def measure(args: argparse.Namespace, fake_url: str, server_url: str, tokens: list[str],
                  server: psutil.Process, harness: list[psutil.Process]) -> float | None:
    """Prints the client's view; returns when the measured server chats began (Unix time), if known."""
    # aiohttp (C parser) rather than httpx: the load generator shares the 2 CPUs with the server,
    # so the less CPU it burns per streamed line, the less it perturbs what it measures.
    connector = aiohttp.TCPConnector(limit=args.concurrency * 3)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as client:
        direct: list[float] = []
        through: list[float] = []
        since: float | None = None
        if args.arrivals == "staggered":
            direct, direct_load = await staggered(args, lambda i: first_token_direct(client, fake_url))
            window: dict[str, Any] = {}

            async def measuring() -> None:
                window["lag"] = lag_histogram(await (await client.get(server_url + "/metrics")).text())

            def measured() -> None:
                window["cpu"], window["began"], window["since"] = server.cpu_times(), time.perf_counter(), time.time()
                window["harness"] = [_cpu(process) for process in harness]

            through, server_load = await staggered(
                args, lambda i: first_token_server(client, server_url, tokens[i % len(tokens)]), measuring, measured)
            used, wall = server.cpu_times(), time.perf_counter() - window["began"]
            harness_seconds = sum(_cpu(process) for process in harness) - sum(window["harness"])
            lag_after = lag_histogram(await (await client.get(server_url + "/metrics")).text())
            cpu, lag_before, since = window["cpu"], window["lag"], window["since"]
            seconds = used.user + used.system - cpu.user - cpu.system
            print(f"staggered arrivals: mean chats in flight {direct_load:.1f} (direct), {server_load:.1f} (server)")
            if args.workers == 1:
                print(f"server process CPU: {seconds / wall * 100:.0f}% of one core, "
                      f"{seconds * 1000 / max(len(through), 1):.1f} ms per chat")
            # Unpinned, what the load generator and the fakes burn is taken from the server's 2 CPUs.
            print(f"harness CPU (this load generator and the fakes): {harness_seconds / wall * 100:.0f}% of one core")
            probes = lag_after[float("inf")] - lag_before.get(float("inf"), 0)
            late = {bound: 1 - (lag_after[bound] - lag_before.get(bound, 0)) / probes for bound in (0.005, 0.01, 0.02)}
            print(f"event-loop lag ({probes:.0f} probes every {LAG_PROBE * 1000:.0f} ms): "
                  + ", ".join(f"{share * 100:.1f}% over {bound * 1000:.0f} ms" for bound, share in late.items()))
        for round_ in range(args.rounds + 1 if args.arrivals != "staggered" else 0):
            if args.arrivals == "separate":
                # One kind at a time, and each of the N clients chats back to back (a closed loop),
                # so N chats are in flight; they start together and stay roughly in step (bursts).
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
            # "together": both kinds start at once each round, so they share whatever else loads the machine.
            results = await asyncio.gather(
                *[first_token_direct(client, fake_url) for _ in range(args.concurrency)],
                *[first_token_server(client, server_url, tokens[i % len(tokens)])
                  for i in range(args.concurrency)])
            if round_:  # the first round warms connections and caches up
                direct += results[: args.concurrency]
                through += results[args.concurrency:]
    d50, d95 = summary(direct)
    s50, s95 = summary(through)
    print(f"concurrency {args.concurrency} chats, arrivals {args.arrivals}, {len(through)} chats measured, "
          f"provider TTFT {args.ttft * 1000:.0f} ms, {args.words} words at {args.tps:.0f} tokens/s")
    print(f"direct to provider : p50 {d50:7.1f} ms   p95 {d95:7.1f} ms")
    print(f"through the server : p50 {s50:7.1f} ms   p95 {s95:7.1f} ms")
    print(f"added by the server: p50 {s50 - d50:7.1f} ms   p95 {s95 - d95:7.1f} ms   (client view)")
    return since


async def server_side(database_url: str, since: float | None) -> None:
    """The server's own share of each answer's TTFT: from the handler's start to the first token,
    minus the time the model took from being asked (both recorded with every message), for the
    chats started at or after `since` (a Unix time; None: all)."""
    engine = create_engine(database_url)
    answers = ("FROM conversation_message m JOIN conversation_session s ON s.id = m.session_id "
               "WHERE m.role = 'assistant' AND (CAST(:since AS float) IS NULL OR s.started_at >= to_timestamp(:since))")
    async with engine.connect() as conn:
        rows = (await conn.execute(text(
            f"SELECT m.ttft_ms - (m.metrics->>'model_ttft_ms')::float {answers} "
            "AND m.metrics->>'model_ttft_ms' IS NOT NULL"), {"since": since})).scalars().all()
        for key in ("open_ms", "retrieval_ms", "model_ttft_ms"):
            vals = (await conn.execute(text(f"SELECT (m.metrics->>'{key}')::float {answers} AND m.metrics ? '{key}'"),
                                       {"since": since})).scalars().all()
            if vals:
                a, b = summary([v / 1000 for v in vals])
                print(f"  stage {key:14s}: p50 {a:7.1f} ms   p95 {b:7.1f} ms   max {max(vals):7.1f}")
        grounded = (await conn.execute(text(
            f"SELECT count(*) FILTER (WHERE jsonb_array_length(m.sources) > 0), count(*) {answers}"),
            {"since": since})).one()
        print(f"  answers citing the dealership's documents: {grounded[0]} of {grounded[1]}")
    await engine.dispose()
    p50, p95 = summary([r / 1000 for r in rows])
    print(f"server-side share  : p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   ({len(rows)} answers, recorded per message)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=6, help="rounds (separate, together)")
    parser.add_argument("--ttft", type=float, default=0.2)
    parser.add_argument("--words", type=int, default=60, help="words per fake answer (a short spoken-length answer)")
    parser.add_argument("--tps", type=float, default=60, help="the fake's tokens per second after the first")
    parser.add_argument("--spread", type=float, default=0.5,
                        help="answers vary in length within words x (1 +- spread), as real ones do; 0: all the "
                             "same length, so clients that a stall bunches together stay bunched (closed loop)")
    parser.add_argument("--arrivals", choices=("staggered", "separate", "together"), default="staggered",
                        help="staggered: N closed-loop clients with random start offsets (default); separate: "
                             "N closed-loop clients starting together; together: rounds of N direct + N server "
                             "chats fired at once")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes of the server")
    parser.add_argument("--seconds", type=float, default=20, help="measuring time per kind (staggered)")
    parser.add_argument("--embeddings", choices=("separate", "shared"), default="separate",
                        help="the fake provider's embeddings from their own process (default) or the chat one's")
    parser.add_argument("--redis", default="",
                        help="REDIS_URL for the server (rate limits and retrieval caches in Redis, as a "
                             "multi-instance deployment runs); default none: in-process")
    parser.add_argument("--pin", choices=("off", "server", "server+db"), default="off",
                        help="server: the server alone on CPU 0, everything else (this load generator, the "
                             "fakes, the embedded PostgreSQL) on the other CPUs; server+db: PostgreSQL on "
                             "CPU 0 too; off: the kernel places every process")
    parser.add_argument("--warmup", type=float, default=3,
                        help="seconds of load before measuring (staggered; at least 1)")
    args = parser.parse_args()
    args.warmup = max(args.warmup, 1.0)
    server_cpus: set[int] | None = None
    others: set[int] = set()
    if args.pin != "off":
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            parser.error("--pin needs at least two CPUs")
        # Set before anything starts: the fakes and PostgreSQL's processes inherit it.
        server_cpus, others = {cpus[0]}, set(cpus[1:])
        os.sched_setaffinity(0, server_cpus if args.pin == "server+db" else others)
        print(f"pinned: the server{' and PostgreSQL' if args.pin == 'server+db' else ''} on CPU {cpus[0]}, "
              f"the rest on CPU {','.join(map(str, sorted(others)))}")
    database_url = to_asyncpg_url(os.environ["DATABASE_URL"]) if os.environ.get("DATABASE_URL") \
        else start_embedded(Path(tempfile.mkdtemp(prefix="bench-pg-")))
    if others:
        os.sched_setaffinity(0, others)
    emails, admin = asyncio.run(seed(database_url, args.concurrency))
    fake_port, embeddings_port, server_port = free_port(), free_port(), free_port()
    fake = subprocess.Popen([sys.executable, "-m", "tests.fakes.openai_chat", "--port", str(fake_port),
                             "--ttft", str(args.ttft), "--tps", str(args.tps), "--words", str(args.words),
                             "--spread", str(args.spread)], cwd=ROOT)
    fakes = [fake]
    embeddings_url = f"http://127.0.0.1:{fake_port}/v1"
    if args.embeddings == "separate":
        # The provider's embeddings answer from their own process: a real provider's embedding
        # latency does not grow with the number of chats it streams, a single-process fake's does.
        fakes.append(subprocess.Popen([sys.executable, "-m", "tests.fakes.openai_chat", "--port",
                                       str(embeddings_port)], cwd=ROOT))
        embeddings_url = f"http://127.0.0.1:{embeddings_port}/v1"
    env = {**os.environ, "DATABASE_URL": database_url, "OPENAI_API_KEY": "bench",
           "OPENAI_BASE_URL": f"http://127.0.0.1:{fake_port}/v1", "EMBEDDING_BASE_URL": embeddings_url,
           "RATE_LIMIT_CHAT": "100000/minute",
           "RATE_LIMIT_LOGIN": "100000/minute", "REDIS_URL": args.redis, "LOG_LEVEL": "WARNING",
           "ENVIRONMENT": "development", "BCRYPT_ROUNDS": "4",
           "LOOP_LAG_PROBE_SECONDS": str(LAG_PROBE), "JWT_SECRET": "bench-" + uuid.uuid4().hex * 2}
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "server.app:asgi_factory", "--factory",
                               "--host", "127.0.0.1", "--port", str(server_port), "--no-access-log",
                               "--workers", str(args.workers)], cwd=ROOT, env=env,
                              preexec_fn=(lambda: os.sched_setaffinity(0, server_cpus)) if server_cpus else None)
    fake_url, server_url = f"http://127.0.0.1:{fake_port}", f"http://127.0.0.1:{server_port}"
    try:
        for process, url in zip(fakes, (fake_url, embeddings_url.removesuffix("/v1")), strict=False):
            wait_ready(url + "/v1/models", process)
        wait_ready(server_url + "/api/ready", server)

        def login(email: str) -> str:
            return str(httpx.post(server_url + "/api/v1/auth/login", json={"email": email, "password": PASSWORD})
                       .json()["access_token"])

        chunks = upload_documents(server_url, login(admin))
        print(f"dealership documents: {len(list(DOCUMENTS.iterdir()))} files, {chunks} chunks")
        tokens = [login(e) for e in emails]
        # The load generator's own collector must not stall it: a 200-400 ms full collection
        # here (seen: gen 2 passes over the HTTP client's objects) delays reading every stream at once
        # and then fires the waiting clients' next chats together, a burst the server is then
        # blamed for. The measuring run makes a few hundred MB at most.
        gc.collect()
        gc.freeze()
        gc.disable()
        try:
            # On uvloop, as the server and the fake provider run: the load generator shares the
            # 2 CPUs with what it measures, and asyncio's own loop burns more of them per
            # streamed token (and is later to read each one).
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:  # (any uvloop uvicorn brings)
                since = runner.run(measure(args, fake_url, server_url, tokens, psutil.Process(server.pid),
                                           [psutil.Process(), *(psutil.Process(p.pid) for p in fakes)]))
        finally:
            gc.enable()
        asyncio.run(server_side(database_url, since))
    finally:
        for process in (server, *fakes):
            process.terminate()
            process.wait(timeout=10)


if __name__ == "__main__":
    main()
