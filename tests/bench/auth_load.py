"""Foundation benchmark: one `sparring serve` process (1 worker, embedded PostgreSQL) and the
load generator beside it on the same machine.

1. Event-loop stall during 100 concurrent logins (bcrypt cost 12 in threads), measured inside
   the server by its loop-lag probe (LOOP_LAG_PROBE_SECONDS, histogram on /metrics).
2. `GET /api/v1/auth/me` with valid tokens at 50 concurrent connections, by `wrk` (installed
   from apt when missing), with `GET /api/health` in the same run as the baseline ratio.

Run:  .venv/bin/python tests/bench/auth_load.py [--duration 15] [--connections 50]
Targets (issue 2): >= 1,500 req/s with p95 < 50 ms; max loop lag < 20 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "bench-password-1"
LUA = """
tokens = {}
local n = 0
function init(args) for i, t in ipairs(args) do tokens[i] = "Bearer " .. t end end
function request()
  n = n + 1
  return wrk.format("GET", nil, {["Authorization"] = tokens[(n % #tokens) + 1]})
end
function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors=%d non2xx=%d seconds=%.3f p50=%.3f p95=%.3f p99=%.3f max=%.3f\\n",
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(95) / 1e3,
    latency:percentile(99) / 1e3, latency.max / 1e3))
end
"""


def ensure_wrk() -> str:
    if path := shutil.which("wrk"):
        return path
    if os.geteuid() != 0:
        sys.exit("wrk is missing: sudo apt-get install wrk")
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True)
    return shutil.which("wrk") or sys.exit("wrk did not install")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def lag_histogram(metrics: str) -> dict[float, float]:
    for family in text_string_to_metric_families(metrics):
        if family.name == "sparring_event_loop_lag_seconds":
            return {float(s.labels["le"]): s.value for s in family.samples if s.name.endswith("_bucket")}
    raise RuntimeError("the loop-lag probe is not on /metrics")


def lag_gauge(metrics: str) -> float:
    match = re.search(r"^sparring_event_loop_lag_max_seconds (\S+)$", metrics, re.MULTILINE)
    return float(match.group(1)) if match else float("nan")


def worst_bucket(before: dict[float, float], after: dict[float, float]) -> tuple[float, int, int]:
    """(upper bound of the highest bucket any new probe fell in, probes over 20 ms, probes)."""
    bounds = sorted(after)
    deltas = [after[b] - before.get(b, 0) for b in bounds]   # cumulative counts
    total = int(deltas[-1])
    over_20ms = int(total - next(d for b, d in zip(bounds, deltas, strict=True) if b >= 0.02))
    worst = next((b for b, d in zip(bounds, deltas, strict=True) if d == total), float("inf"))
    return worst, over_20ms, total


async def logins(url: str, emails: list[str], count: int) -> tuple[list[float], list[str]]:
    async with httpx.AsyncClient(base_url=url, timeout=120,
                                 limits=httpx.Limits(max_connections=count)) as client:
        async def one(email: str) -> tuple[float, int, str]:
            started = time.perf_counter()
            response = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
            token = response.json().get("access_token", "") if response.status_code == 200 else ""
            return time.perf_counter() - started, response.status_code, token

        results = await asyncio.gather(*(one(emails[i % len(emails)]) for i in range(count)))
    bad = [status for _, status, _ in results if status != 200]
    if bad:
        raise RuntimeError(f"{len(bad)} logins failed: {bad[:5]}")
    return sorted(r[0] for r in results), [r[2] for r in results]


def wrk(binary: str, url: str, path: str, tokens: list[str], connections: int, seconds: int, workdir: Path) -> str:
    script = workdir / "bench.lua"
    script.write_text(LUA)
    done = subprocess.run([binary, "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s", str(script),
                           url + path, "--", *tokens], capture_output=True, text=True, check=True)
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT"))
    return line


def parse(result: str) -> dict[str, float]:
    return {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", result)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--logins", type=int, default=100)
    args = parser.parse_args()
    wrk_binary = ensure_wrk()
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    workdir = Path(tempfile.mkdtemp(prefix="sparring-bench-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATA_DIR": str(workdir / "var"), "ENVIRONMENT": "production",
           "JWT_SECRET": secrets.token_urlsafe(48), "BCRYPT_ROUNDS": "12", "LOOP_LAG_PROBE_SECONDS": "0.005",
           "RATE_LIMIT_LOGIN": "1000/minute", "DATABASE_URL": "", "REDIS_URL": "", "LOG_LEVEL": "INFO",
           # 100 concurrent logins from one address: lift the per-address and total admission
           # bounds (tests/bench/login_flood.py measures them), so all of them hash.
           "LOGIN_MAX_PER_ADDRESS": "1000", "LOGIN_MAX_PENDING": "1000", "RATE_LIMIT_LOGIN_ADDRESS": "1000/minute"}
    log = (workdir / "server.log").open("wb")
    server = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--port", str(port), "--workers", "1"],
                              cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(url + "/api/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                sys.exit(f"server did not start:\n{(workdir / 'server.log').read_text()[-3000:]}")
            time.sleep(0.3)
        subprocess.run([sys.executable, "-m", "server.cli", "create-superuser", "--email", "root@bench.example",
                        "--password", "-"], input=PASSWORD + "\n", text=True, cwd=ROOT, env=env, check=True,
                       capture_output=True)
        root = httpx.post(url + "/api/v1/auth/login", json={"email": "root@bench.example", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {root.json()['access_token']}"}
        dealership = httpx.post(url + "/api/v1/dealerships", headers=headers, json={"name": "Bench Motors"}).json()
        emails = [f"trainee{i}@bench.example" for i in range(20)]
        for email in emails:
            created = httpx.post(url + "/api/v1/users", headers=headers, timeout=30, json={
                "email": email, "password": PASSWORD, "name": "Trainee", "dealership_id": dealership["id"]})
            assert created.status_code == 201, created.text

        # The noise floor: the same probe while the server is idle (other processes on the
        # machine delay the loop thread too), for comparison with the login burst below.
        idle_before = httpx.get(url + "/metrics").text
        time.sleep(10)
        idle = worst_bucket(lag_histogram(idle_before), lag_histogram(httpx.get(url + "/metrics").text))

        before = httpx.get(url + "/metrics").text
        started = time.perf_counter()
        latencies, tokens = asyncio.run(logins(url, emails, args.logins))
        login_seconds = time.perf_counter() - started
        after = httpx.get(url + "/metrics").text
        worst, over, probes = worst_bucket(lag_histogram(before), lag_histogram(after))

        health = parse(wrk(wrk_binary, url, "/api/health", tokens[:20], args.connections, args.duration, workdir))
        me = parse(wrk(wrk_binary, url, "/api/v1/auth/me", tokens[:20], args.connections, args.duration, workdir))
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()

    me_rps = me["requests"] / me["seconds"]
    health_rps = health["requests"] / health["seconds"]
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    print(f"load average before/after (other processes share these CPUs): {load_before} / "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"machine: {os.cpu_count()} CPUs; server: 1 process, 1 worker, embedded PostgreSQL; wrk -t1 "
          f"-c{args.connections} -d{args.duration}s on the same machine")
    print(f"logins: {args.logins} concurrent (bcrypt cost 12) in {login_seconds:.2f} s; latency p50 "
          f"{latencies[len(latencies) // 2] * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms")
    print(f"event-loop lag during the logins: {probes} probes, {over} over 20 ms, worst bucket <= "
          f"{worst * 1000:.1f} ms; max since start {lag_gauge(after) * 1000:.1f} ms")
    print(f"event-loop lag while idle (10 s):  {idle[2]} probes, {idle[1]} over 20 ms, worst bucket <= "
          f"{idle[0] * 1000:.1f} ms")
    print(f"GET /api/health : {health_rps:8.0f} req/s  p50 {health['p50']:.2f} ms  p95 {health['p95']:.2f} ms  "
          f"p99 {health['p99']:.2f} ms  errors {int(health['errors'] + health['non2xx'])}")
    print(f"GET /auth/me    : {me_rps:8.0f} req/s  p50 {me['p50']:.2f} ms  p95 {me['p95']:.2f} ms  "
          f"p99 {me['p99']:.2f} ms  errors {int(me['errors'] + me['non2xx'])}")
    print(f"ratio /auth/me : /api/health = {me_rps / health_rps:.2f}")
    ok = me_rps >= 1500 and me["p95"] < 50 and over == 0 and me["errors"] + me["non2xx"] == 0
    print("targets (>= 1500 req/s, p95 < 50 ms, no loop stall over 20 ms):", "MET" if ok else "MISSED")
    shutil.rmtree(workdir, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
