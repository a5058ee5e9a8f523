"""Voice load benchmark (issue 5, Performance): many real-time voice sessions on one server process.

Fake providers with fixed latencies, each in its own process (STT 300 ms, LLM first token 250 ms
then 30 tokens/s, TTS first byte 100 ms); one uvicorn process of the server; one asyncio process of
clients (this one) speaking an eSpeak NG sentence in real time over the real WebSocket protocol,
then silence (the microphone stays on) until the reply has played, then the next turn.

Per pipelining mode (on, then off: VOICE_PIPELINING=false, whole reply then TTS, STT after the turn):
  1. RSS and CPU of the server with N idle sessions (connected and started) against none;
  2. N sessions x --turns turns: first audio at the client (end of speech in the stream -> first
     reply audio frame) minus the floor; the server's own `metrics` events; reply-audio underruns
     (server pacer and a client playout check); event-loop lag (probe histogram on /metrics);
     CPU per session.
--soak-minutes M runs only the soak: --sessions sessions talking turn after turn for M minutes,
sampling the server's RSS and task count.

    .venv/bin/python tests/bench/voice_load.py [--sessions 100] [--turns 3] [--modes on,off]
    .venv/bin/python tests/bench/voice_load.py --soak-minutes 30 --sessions 50

Uses DATABASE_URL if set, else an embedded PostgreSQL in a temporary folder. Exits 1 when a
target is missed (targets are for --sessions 100 on the 2-core machine).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from server.db.embedded import start_embedded, to_asyncpg_url  # noqa: E402
from server.voice.client import VoiceClient  # noqa: E402
from server.voice.vad import VadConfig  # noqa: E402
from tests.bench.chat_load import PASSWORD, seed, wait_ready  # noqa: E402
from tests.bench.voice_talkers import Floor, Latencies, Talker, floors, tick  # noqa: E402
from tests.conftest import free_port  # noqa: E402

SENTENCE = "How much is this car, and can you do anything about the price today?"
REPLY = ("That seems high to me. I saw the same model across town for two thousand less, and it came "
         "with winter tires and a longer warranty. So what can you really do on the price today?")
LAT = Latencies()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def lag(metrics: str) -> dict[float, float]:
    for family in text_string_to_metric_families(metrics):
        if family.name == "sparring_event_loop_lag_seconds":
            return {float(s.labels["le"]): s.value for s in family.samples if s.name.endswith("_bucket")}
    raise RuntimeError("the loop-lag probe is not on /metrics")


def gc_pauses(metrics: str) -> tuple[float, float, float]:
    """(gen-2 passes, seconds in them, largest bucket bound reached) from the collector histogram."""
    count = total = 0.0
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(metrics):
        if family.name == "sparring_gc_pause_seconds":
            for sample in family.samples:
                if sample.name.endswith("_count"):
                    count = sample.value
                elif sample.name.endswith("_sum"):
                    total = sample.value
                elif sample.name.endswith("_bucket"):
                    buckets[float(sample.labels["le"])] = sample.value
    worst = next((b for b in sorted(buckets) if buckets[b] >= count), 0.0) if count else 0.0
    return count, total, worst


def gauge(metrics: str, name: str) -> float:
    for family in text_string_to_metric_families(metrics):
        if family.name == name:
            return float(family.samples[0].value)
    return float("nan")


def lag_summary(before: dict[float, float], after: dict[float, float]) -> tuple[int, float, float, int]:
    """(probes, p99 bucket bound s, max bucket bound s, probes over 20 ms) between two scrapes."""
    bounds = sorted(after)
    cumulative = [after[b] - before.get(b, 0.0) for b in bounds]
    total = int(cumulative[-1])
    p99 = next((b for b, c in zip(bounds, cumulative, strict=True) if c >= 0.99 * total), float("inf"))
    worst = next((b for b, c in zip(bounds, cumulative, strict=True) if c >= total), float("inf"))
    within_20 = next(c for b, c in zip(bounds, cumulative, strict=True) if b >= 0.02)
    return total, p99, worst, int(total - within_20)


class Fakes:
    def __init__(self, transcript: str = SENTENCE) -> None:
        self.openai_port, self.eleven_port = free_port(), free_port()
        py = sys.executable
        self.processes = [
            subprocess.Popen([py, "-m", "tests.fakes.openai_voice", "--port", str(self.openai_port),
                              "--stt", str(LAT.stt_s), "--ttft", str(LAT.ttft_s), "--tps", str(LAT.tokens_per_s),
                              "--reply", REPLY, "--transcript", transcript], cwd=ROOT),
            subprocess.Popen([py, "-m", "tests.fakes.elevenlabs_server", "--port", str(self.eleven_port),
                              "--ttfb", str(LAT.tts_ttfb_s)], cwd=ROOT)]
        for port, process in zip((self.openai_port, self.eleven_port), self.processes, strict=True):
            wait_ready(f"http://127.0.0.1:{port}/", process)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
            process.wait(timeout=10)


@contextmanager
def server(database_url: str, fakes: Fakes, secret: str, *, pipelining: bool) -> Iterator[tuple[str, psutil.Process]]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "ENVIRONMENT": "development", "JWT_SECRET": secret,
           "BCRYPT_ROUNDS": "4", "REDIS_URL": "", "PINECONE_API_KEY": "", "LOG_LEVEL": "WARNING",
           "OPENAI_API_KEY": "bench", "OPENAI_BASE_URL": f"http://127.0.0.1:{fakes.openai_port}/v1",
           "ELEVENLABS_API_KEY": "bench", "ELEVENLABS_BASE_URL": f"http://127.0.0.1:{fakes.eleven_port}",
           "RATE_LIMIT_VOICE": "100000/minute", "RATE_LIMIT_LOGIN": "100000/minute",
           "LOOP_LAG_PROBE_SECONDS": "0.005", "VOICE_PIPELINING": "true" if pipelining else "false",
           # The soak keeps its sessions open for its whole length: past the default 30-minute cap.
           "VOICE_MAX_SESSION_S": "14400"}
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", "server.app:asgi_factory", "--factory",
                                "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
                                "--ws-max-size", str(64 * 1024), "--log-level", "warning",
                                "--ws-per-message-deflate", "false"], cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url + "/api/ready", process)
        yield url, psutil.Process(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=15)


async def open_sessions(url: str, tokens: list[str]) -> list[VoiceClient]:
    clients: list[VoiceClient] = []
    for batch in range(0, len(tokens), 20):
        async def one(token: str) -> VoiceClient:
            client = await VoiceClient.connect(url, token)
            await client.start("roleplay", wait_s=30)
            return client
        clients += await asyncio.gather(*(one(t) for t in tokens[batch:batch + 20]))
    return clients


async def close_all(clients: list[VoiceClient]) -> None:
    await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)


async def scrape(url: str) -> str:
    async with httpx.AsyncClient(timeout=10) as client:
        return (await client.get(url + "/metrics")).text


def cpu_s(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except psutil.Error:
        return 0.0
    return times.user + times.system


def helpers(server_proc: psutil.Process) -> dict[str, list[psutil.Process]]:
    """The fakes (children of this process) and PostgreSQL, whose CPU competes with the server's."""
    own = psutil.Process()
    fakes = [p for p in own.children() if p.pid != server_proc.pid]
    postgres = [p for p in psutil.process_iter(["name"]) if (p.info["name"] or "").startswith("postgres")]
    return {"fakes": fakes, "postgres (all on the machine)": postgres}


async def settle_rss(process: psutil.Process, seconds: float = 3.0) -> float:
    await asyncio.sleep(seconds)
    return process.memory_info().rss / 2**20


def talkers_for(clients: list[VoiceClient], turns: int, spread_s: float) -> list[Talker]:
    # Turn ends spread evenly over `spread_s`, as in a room of people who did not start at once.
    frames = max(1, int(spread_s * 50))
    return [Talker(c, SENTENCE, turns=turns, offset_frames=i * frames // len(clients), pause_frames=50,
                   turn_timeout_s=30) for i, c in enumerate(clients)]


async def run_mode(url: str, proc: psutil.Process, tokens: list[str], args: argparse.Namespace,
                   floor: Floor) -> dict[str, float]:
    n = args.sessions
    warm = await open_sessions(url, tokens[:4])  # imports, pools and caches warmed outside the figures
    await tick(talkers_for(warm, 1, 0.2), groups=1, deadline=time.monotonic() + 40, lateness=[])
    await close_all(warm)
    rss_0 = await settle_rss(proc)
    clients = await open_sessions(url, tokens[:n])
    rss_n = await settle_rss(proc)
    cpu_before, wall_before = cpu_s(proc), time.monotonic()
    await asyncio.sleep(5)
    idle_cpu = (cpu_s(proc) - cpu_before) / (time.monotonic() - wall_before)
    # The per-frame path alone: every microphone on, sending silence, no turns.
    silent = talkers_for(clients, 0, 0)
    lag_before, cpu_before, wall_before = lag(await scrape(url)), cpu_s(proc), time.monotonic()
    await tick(silent, groups=4, deadline=time.monotonic() + 10, lateness=[], until_finished=False)
    stream_cpu = (cpu_s(proc) - cpu_before) / (time.monotonic() - wall_before)
    s_probes, s_p99, s_worst, s_over = lag_summary(lag_before, lag(await scrape(url)))
    for talker in silent:
        talker.client.listener = None
    before = await scrape(url)
    talkers = talkers_for(clients, args.turns, args.spread)
    others = {name: procs for name, procs in helpers(proc).items()}
    others_before = {name: {p.pid: cpu_s(p) for p in procs} for name, procs in others.items()}
    psutil.cpu_percent()
    own, lateness = psutil.Process(), []
    cpu_before, own_before, wall_before = cpu_s(proc), cpu_s(own), time.monotonic()
    await tick(talkers, groups=4, deadline=time.monotonic() + args.turns * 40 + args.spread + 30, lateness=lateness)
    wall = time.monotonic() - wall_before
    load_cpu, own_cpu = (cpu_s(proc) - cpu_before) / wall, (cpu_s(own) - own_before) / wall
    machine = psutil.cpu_percent()
    # Per process, so one that exits during the phase (a PostgreSQL backend) does not count negative.
    others_cpu = {name: sum(max(0.0, cpu_s(p) - others_before[name][p.pid]) for p in procs) / wall
                  for name, procs in others.items()}
    after = await scrape(url)
    rss_load = proc.memory_info().rss / 2**20
    await close_all(clients)
    turns = [t for talker in talkers for t in talker.turns if t.first_audio is not None and t.metrics is not None]
    errors = [e for talker in talkers for e in talker.errors]
    first = [(t.first_audio - t.speech_end) * 1000 for t in turns]  # type: ignore[operator]
    over = [f - floor.total_ms for f in first]
    probes, p99, worst, over_20 = lag_summary(lag(before), lag(after))
    server_underruns = sum(int(t.metrics["underruns"]) for t in turns)  # type: ignore[index]
    client_underruns = sum(t.client_underruns for t in turns)
    print(f"  sessions {n}, turns measured {len(turns)} of {n * args.turns}, errors {len(errors)}"
          + (f" (first: {errors[0]})" if errors else ""))
    print(f"  first audio at the client: p50 {pct(first, .5):.0f} ms, p95 {pct(first, .95):.0f} ms, "
          f"max {max(first, default=float('nan')):.0f} ms; floor {floor.total_ms:.0f} ms")
    print(f"  first audio minus floor  : p50 {pct(over, .5):.1f} ms, p95 {pct(over, .95):.1f} ms")
    for key in ("endpoint_ms", "stt_ms", "llm_ttft_ms", "tts_ttfb_ms", "first_audio_ms"):
        values = [float(t.metrics[key]) for t in turns if t.metrics and t.metrics.get(key) is not None]
        print(f"  server metrics {key:<15}: p50 {pct(values, .5):6.0f}  p95 {pct(values, .95):6.0f}")
    print(f"  reply-audio underruns: server pacer {server_underruns}, client playout check {client_underruns}")
    gc_before, gc_after = gc_pauses(before), gc_pauses(after)
    print(f"  gen-2 garbage collections: {gc_after[0] - gc_before[0]:.0f} passes, "
          f"{(gc_after[1] - gc_before[1]) * 1000:.0f} ms in all (largest since start <= {gc_after[2] * 1000:g} ms)")
    print(f"  event-loop lag: {probes} probes, p99 <= {p99 * 1000:g} ms, max <= {worst * 1000:g} ms, "
          f"{over_20} over 20 ms; client ticker lateness p99 {pct(lateness, .99) * 1000:.1f} ms")
    print(f"  streaming only (10 s, {n} microphones of silence, no turns): server CPU {stream_cpu * 100:.0f}% "
          f"of a core ({stream_cpu * 100 / n:.2f}% per session); loop lag {s_probes} probes, p99 <= "
          f"{s_p99 * 1000:g} ms, max <= {s_worst * 1000:g} ms, {s_over} over 20 ms")
    print(f"  during the turns: machine CPU {machine:.0f}% of {psutil.cpu_count()} CPUs; "
          + ", ".join(f"{name} {value * 100:.0f}%" for name, value in others_cpu.items()))
    print(f"  server CPU: {load_cpu * 100:.0f}% of a core under load ({load_cpu * 100 / n:.2f}% per session), "
          f"{idle_cpu * 100:.1f}% with {n} idle sessions; load generator {own_cpu * 100:.0f}%")
    print(f"  server RSS: {rss_0:.1f} MiB with 0 sessions, {rss_n:.1f} MiB with {n} idle "
          f"({(rss_n - rss_0) / n * 1024:.0f} KiB per idle session), {rss_load:.1f} MiB after the load")
    return {"p50": pct(first, .5), "p95": pct(first, .95), "over_p50": pct(over, .5), "over_p95": pct(over, .95),
            "underruns": server_underruns + client_underruns, "lag_p99": p99, "errors": len(errors),
            "idle_mb": (rss_n - rss_0) / n, "missing": n * args.turns - len(turns)}


async def soak(url: str, proc: psutil.Process, tokens: list[str], args: argparse.Namespace) -> None:
    clients = await open_sessions(url, tokens[:args.sessions])
    talkers = talkers_for(clients, 10**6, args.spread)
    deadline = time.monotonic() + args.soak_minutes * 60
    began = time.monotonic()
    ticking = asyncio.ensure_future(tick(talkers, groups=4, deadline=deadline, lateness=[], until_finished=False))
    samples: list[tuple[float, float, float, int]] = []
    while not ticking.done():
        await asyncio.wait([ticking], timeout=args.sample_s)
        metrics = await scrape(url)
        done = sum(len(t.turns) for t in talkers)
        samples.append((time.monotonic() - began, proc.memory_info().rss / 2**20,
                        gauge(metrics, "sparring_asyncio_tasks"), done))
        print(f"  t={samples[-1][0]:6.0f} s  RSS {samples[-1][1]:7.1f} MiB  tasks {samples[-1][2]:5.0f}  "
              f"turns {done}", flush=True)
    await close_all(clients)
    warm = [s for s in samples if s[0] >= args.warmup_s]
    if len(warm) >= 2:
        print(f"  after warm-up ({args.warmup_s:.0f} s): RSS {warm[0][1]:.1f} -> {warm[-1][1]:.1f} MiB "
              f"(min {min(s[1] for s in warm):.1f}, max {max(s[1] for s in warm):.1f}); tasks "
              f"{warm[0][2]:.0f} -> {warm[-1][2]:.0f} (max {max(s[2] for s in warm):.0f}); "
              f"{warm[-1][3] - warm[0][3]} turns")
    kinds = Counter(f"{e.get('type')}:{e.get('code', e.get('message', ''))}" for t in talkers for e in t.errors)
    listed = f" ({', '.join(f'{kind} x{n}' for kind, n in kinds.items())})" if kinds else ""
    print(f"  errors: {sum(kinds.values())}{listed}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--turns", type=int, default=3)
    # A turn cycle (speech, reply of ~10 s, pause) is ~16 s: spreading the first turns over one
    # cycle gives the steady state of a room where people did not all start at the same second.
    parser.add_argument("--spread", type=float, default=15.0, help="seconds over which sessions start talking")
    parser.add_argument("--modes", default="on,off")
    parser.add_argument("--soak-minutes", type=float, default=0.0)
    parser.add_argument("--sample-s", type=float, default=30.0)
    parser.add_argument("--warmup-s", type=float, default=120.0)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()}")
    on, off = floors(SENTENCE, REPLY, LAT, VadConfig())
    for name, floor in (("pipelined", on), ("unpipelined", off)):
        print(f"floor ({name}): {floor.total_ms:.0f} ms = endpointing {floor.endpoint_ms:.0f} + STT left "
              f"{floor.stt_ms:.0f} + LLM to first piece {floor.llm_ms:.0f} + TTS first byte {floor.tts_ms:.0f}")
        for note in floor.notes:
            print(f"    {note}")
    database_url = to_asyncpg_url(os.environ["DATABASE_URL"]) if os.environ.get("DATABASE_URL") \
        else start_embedded(Path(tempfile.mkdtemp(prefix="bench-pg-")))
    emails, _admin = asyncio.run(seed(database_url, max(args.sessions, 4)))
    fakes, secret = Fakes(), "bench-" + uuid.uuid4().hex * 2
    results: dict[str, dict[str, float]] = {}
    try:
        for mode in (["on"] if args.soak_minutes else args.modes.split(",")):
            with server(database_url, fakes, secret, pipelining=mode == "on") as (url, proc):
                tokens = [httpx.post(url + "/api/v1/auth/login", json={"email": e, "password": PASSWORD},
                                     timeout=30).raise_for_status().json()["access_token"] for e in emails]
                print(f"pipelining {mode} (load average {os.getloadavg()[0]:.2f}):", flush=True)
                if args.soak_minutes:
                    asyncio.run(soak(url, proc, tokens, args))
                    return
                results[mode] = asyncio.run(run_mode(url, proc, tokens, args, on if mode == "on" else off))
    finally:
        fakes.stop()
    print(f"load average at the end: {os.getloadavg()}")
    verdict(results)


def verdict(results: dict[str, dict[str, float]]) -> None:
    checks: list[tuple[str, bool]] = []
    if "on" in results:
        r = results["on"]
        checks += [(f"first audio - floor p50 {r['over_p50']:.1f} ms <= 20", r["over_p50"] <= 20),
                   (f"first audio - floor p95 {r['over_p95']:.1f} ms <= 60", r["over_p95"] <= 60),
                   (f"underruns {r['underruns']:.0f} == 0", r["underruns"] == 0),
                   (f"loop lag p99 {r['lag_p99'] * 1000:g} ms < 20", r["lag_p99"] < 0.02),
                   (f"RSS per idle session {r['idle_mb'] * 1024:.0f} KiB <= 2 MiB", r["idle_mb"] <= 2),
                   (f"turns without first audio or metrics: {r['missing']:.0f}", r["missing"] == 0)]
    if "on" in results and "off" in results:
        ratio = results["off"]["p50"] / results["on"]["p50"]
        checks.append((f"first audio p50 off/on = {ratio:.2f} >= 2", ratio >= 2))
    for text, ok in checks:
        print(f"  [{'met' if ok else 'MISSED'}] {text}")
    if not all(ok for _, ok in checks):
        sys.exit(1)


if __name__ == "__main__":
    main()
