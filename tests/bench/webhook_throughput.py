"""Webhook sender throughput: 1,000 events a minute to a loopback receiver, and what it costs
the server's event loop (the loop chat and voice run on).

One `sparring serve` process (1 worker) with its loop-lag probe (LOOP_LAG_PROBE_SECONDS=0.005,
histogram on /metrics) and its webhook sender; PostgreSQL embedded, started by this script and
shared with it; the receiver is a separate uvicorn process answering 200. This script emits the
events through `server.webhooks.events.emit` (each in its own transaction, as a finished session
or document would) at a steady rate, and reads back what the receiver got: how many, how many
distinct `webhook-id`s, and the time from `created_at` to arrival.

Run:  .venv/bin/python -m tests.bench.webhook_throughput [--events 1000] [--per-minute 1000]
Target (issue 19): all 1,000 delivered within the minute; loop lag p99 under 20 ms during the run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]

# --- the receiver (its own process: `uvicorn tests.bench.webhook_throughput:receiver`) ---
_seen: list[tuple[str, float]] = []


async def receiver(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["path"] == "/stats":
        ids = [i for i, _ in _seen]
        payload = json.dumps({"count": len(ids), "unique": len(set(ids)), "latencies": [lat for _, lat in _seen]})
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": payload.encode()})
        return
    headers = dict(scope["headers"])
    created = datetime.fromisoformat(json.loads(body)["created_at"].replace("Z", "+00:00"))
    _seen.append((headers[b"webhook-id"].decode(), (datetime.now(UTC) - created).total_seconds()))
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


# --- the benchmark ---


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def lag_histogram(metrics: str) -> dict[float, float]:
    for family in text_string_to_metric_families(metrics):
        if family.name == "sparring_event_loop_lag_seconds":
            return {float(s.labels["le"]): s.value for s in family.samples if s.name.endswith("_bucket")}
    raise RuntimeError("the loop-lag probe is not on /metrics")


def lag_summary(before: dict[float, float], after: dict[float, float]) -> tuple[int, int, float, float]:
    """(probes, probes over 20 ms, p99 bucket bound, worst bucket bound) between two scrapes."""
    bounds = sorted(after)
    cumulative = [after[b] - before.get(b, 0) for b in bounds]
    total = int(cumulative[-1])
    over_20ms = int(total - next(c for b, c in zip(bounds, cumulative, strict=True) if b >= 0.02))
    p99 = next(b for b, c in zip(bounds, cumulative, strict=True) if c >= 0.99 * total)
    worst = next(b for b, c in zip(bounds, cumulative, strict=True) if c == total)
    return total, over_20ms, p99, worst


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            sys.exit(f"{url} did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


async def emit_events(database_url: str, hook_url: str, count: int, per_minute: int) -> float:
    from server.db.engine import create_engine, create_sessionmaker
    from server.db.models import Dealership
    from server.webhooks import events, signing
    from server.webhooks.models import EventType, WebhookEndpoint

    engine = create_engine(database_url, pool_size=4, max_overflow=0)
    sessionmaker = create_sessionmaker(engine)
    dealership_id = uuid.uuid4()
    async with sessionmaker() as db, db.begin():
        db.add(Dealership(id=dealership_id, name="Bench Motors", slug=f"bench-{dealership_id.hex[:8]}"))
        await db.flush()
        db.add(WebhookEndpoint(dealership_id=dealership_id, url=hook_url, events=[EventType.scorecard_ready.value],
                               secret=signing.new_secret()))
    interval = 60.0 / per_minute
    started = time.perf_counter()
    for n in range(count):
        async with sessionmaker() as db, db.begin():
            await events.emit(db, dealership_id=dealership_id, type=EventType.scorecard_ready,
                              data={"session_id": str(uuid.uuid4()), "overall": n % 100, "passed": n % 3 == 0})
        delay = started + (n + 1) * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    await engine.dispose()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--per-minute", type=int, default=1000)
    # The control: the same events written at the same rate, with this server's sender off
    # (WEBHOOK_CONCURRENCY=0; nothing is delivered): the loop lag the rest of the machine causes.
    parser.add_argument("--sender-off", action="store_true")
    args = parser.parse_args()
    from server.db.embedded import start_embedded

    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    workdir = Path(tempfile.mkdtemp(prefix="sparring-bench-hooks-"))
    database_url = start_embedded(workdir / "pg")
    receiver_port, port = free_port(), free_port()
    receiver_log, server_log = workdir / "receiver.log", workdir / "server.log"
    hook_process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "tests.bench.webhook_throughput:receiver", "--port", str(receiver_port),
         "--log-level", "warning", "--lifespan", "off"], cwd=ROOT, stdout=receiver_log.open("wb"),
        stderr=subprocess.STDOUT)
    env = {**os.environ, "DATA_DIR": str(workdir / "var"), "DATABASE_URL": database_url, "REDIS_URL": "",
           # Development: the loopback receiver speaks plain http; private addresses allowed for it.
           "ENVIRONMENT": "development", "JWT_SECRET": secrets.token_urlsafe(48), "WEBHOOKS_ALLOW_PRIVATE_URLS": "true",
           "LOOP_LAG_PROBE_SECONDS": "0.005", "LOG_LEVEL": "WARNING", "RAG_WORKERS": "0",
           **({"WEBHOOK_CONCURRENCY": "0"} if args.sender_off else {})}
    server = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--port", str(port), "--workers", "1"],
                              cwd=ROOT, env=env, stdout=server_log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"http://127.0.0.1:{receiver_port}/stats", hook_process, receiver_log)
        wait_ready(url + "/api/ready", server, server_log)
        idle_before = lag_histogram(httpx.get(url + "/metrics").text)
        time.sleep(5)
        before = lag_histogram(httpx.get(url + "/metrics").text)
        idle = lag_summary(idle_before, before)
        hook_url = f"http://127.0.0.1:{receiver_port}/hook"
        emitting = asyncio.run(emit_events(database_url, hook_url, args.events, args.per_minute))
        deadline = time.monotonic() + (0 if args.sender_off else 60)
        while True:
            stats = httpx.get(f"http://127.0.0.1:{receiver_port}/stats", timeout=10).json()
            if stats["count"] >= args.events or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        after = lag_histogram(httpx.get(url + "/metrics").text)
        run = lag_summary(before, after)
    finally:
        server.terminate()
        server.wait(timeout=30)
        hook_process.terminate()
        hook_process.wait(timeout=10)
    latencies = sorted(stats["latencies"])

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else float("nan")

    print(f"load average before/after (other processes share these CPUs): {load_before} / "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"machine: {os.cpu_count()} CPUs; server: 1 process (`sparring serve`, 1 worker, WEBHOOK_CONCURRENCY "
          f"default), embedded PostgreSQL, receiver: a separate uvicorn process on loopback")
    print(f"emitted {args.events} events at {args.per_minute}/min in {emitting:.1f} s (one transaction each)")
    print(f"received {stats['count']} requests, {stats['unique']} distinct webhook-ids")
    print(f"created -> received: p50 {pct(0.5):.1f} ms, p95 {pct(0.95):.1f} ms, p99 {pct(0.99):.1f} ms, "
          f"max {pct(1.0):.1f} ms")
    print(f"event-loop lag during the run: {run[0]} probes, {run[1]} over 20 ms, p99 <= {run[2] * 1000:.1f} ms, "
          f"worst <= {run[3] * 1000:.1f} ms")
    print(f"event-loop lag idle (5 s):     {idle[0]} probes, {idle[1]} over 20 ms, p99 <= {idle[2] * 1000:.1f} ms, "
          f"worst <= {idle[3] * 1000:.1f} ms")
    if args.sender_off:
        print("control run: sender off, nothing delivered")
        return
    ok = stats["unique"] >= args.events and run[2] < 0.02
    print("target (all delivered, loop lag p99 < 20 ms):", "MET" if ok else "MISSED")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
