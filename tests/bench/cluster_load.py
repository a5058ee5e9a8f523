"""Cluster benchmark (issue 20): one instance against two behind nginx, and a rolling restart.

Real processes on loopback: `sparring serve` instances sharing one PostgreSQL and Redis, nginx
from infra/nginx/sparring.conf.template, fake providers in their own processes with fixed
latencies (as tests/bench/voice_load.py: STT 300 ms, LLM first token 250 ms then 30 tokens/s,
TTS first byte 100 ms), the load from this process over the real protocols.

1. capacity: the same load (--sessions voice sessions talking --turns turns, plus --chats
   concurrent streamed chats) on one instance (direct) and on two behind nginx: first audio (end
   of speech -> first reply audio, and minus the floor), chat time to first token, both p50/p95;
   the ratio two/one is what the balancer and the shared Redis cost on this machine (the two
   instances share its CPUs, so it is not a scaling figure).
2. rolling restart: --restart-sessions sessions through nginx, talking turn after turn; one
   instance gets SIGTERM mid-run. Every session must continue on the other (reconnect ->
   resume with its session_id) and no turn may be lost: each talker's turns all answered, and
   the database holds exactly one user and one assistant message per turn. Reported: time from
   `reconnect` to `ready` on the new instance, and to the next reply audio (the talker speaks its
   next turn at once), p50/p95.

    .venv/bin/python tests/bench/cluster_load.py [--sessions 20] [--chats 10] [--turns 2]
        [--pairs 2] [--restart-sessions 50] [--restart-turns 3] [--phases capacity,restart]

Needs nginx and Redis (REDIS_URL, default REDIS_TEST_URL or redis://127.0.0.1:6379/0: the
benchmark flushes that database). Uses DATABASE_URL if set, else an embedded PostgreSQL.
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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import websockets
from redis import Redis
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from server.db.embedded import start_embedded, to_asyncpg_url  # noqa: E402
from server.db.engine import create_engine  # noqa: E402
from server.voice.client import Moved, VoiceClient  # noqa: E402
from server.voice.vad import VadConfig  # noqa: E402
from tests.balancer import start_nginx, stop_nginx  # noqa: E402
from tests.bench.chat_load import PASSWORD, first_token_server, seed, summary, wait_ready  # noqa: E402
from tests.bench.voice_load import LAT, REPLY, SENTENCE, Fakes, open_sessions, pct  # noqa: E402
from tests.bench.voice_talkers import Floor, Talker, floors  # noqa: E402
from tests.conftest import free_port  # noqa: E402

FRAME_S = 0.02


class Instance:
    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.name, self.env, self.port = name, env, free_port()
        self.log = log_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--port", str(self.port)],
                                        cwd=ROOT, env=self.env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            try:
                if httpx.get(self.url + "/api/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not become ready")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=90)


class Mover(Talker):
    """A talker whose session moves when its instance drains: on `reconnect` it stops sending,
    resumes the session on a new socket through the balancer and speaks its next turn at once."""

    def __init__(self, client: VoiceClient, balancer: str, token: str, session_id: str, **kwargs: Any) -> None:
        super().__init__(client, SENTENCE, **kwargs)
        self.balancer, self.token, self.session_id = balancer, token, session_id
        self.moving = False
        self.moves: list[dict[str, float]] = []
        self.sent_turns = 0
        self.cut = 0  # utterances the move cut short (the talker says them again, as a person would)

    def on_message(self, at: float, event: dict[str, Any] | None, audio: bytes) -> None:
        if event is not None and event.get("type") == "reconnect" and not self.moving:
            self.moving = True
            asyncio.get_running_loop().create_task(self.move(at))
            return
        if event is None and self.moves and "audio" not in self.moves[-1] and self._in_reply:
            self.moves[-1]["audio"] = at
        super().on_message(at, event, audio)

    def speech_sent(self, at: float) -> None:
        self.sent_turns += 1
        super().speech_sent(at)

    async def move(self, told_at: float) -> None:
        record = {"told": told_at}
        self.moves.append(record)
        if self._index is not None:
            self.cut += 1
        if self._current is not None and self._current.metrics is None:
            self.errors.append({"type": "lost", "message": "reconnect before the turn's answer"})
            self._current = None
        for _ in range(5):
            try:
                client = await VoiceClient.connect(self.balancer, self.token)
            except websockets.InvalidStatus:
                await asyncio.sleep(0.2)
                continue
            try:
                await client.start("roleplay", session_id=self.session_id, wait_s=30)
            except Moved:
                await client.close()
                continue
            record["ready"] = time.monotonic()
            old, self.client = self.client, client
            client.record = False
            client.listener = self.on_message
            self._wait, self._in_reply, self._index = 0, False, None  # the next turn, whole, at once
            self.moving = False
            await old.close()
            return
        self.errors.append({"type": "move", "message": "no live instance"})
        self.dead = True


async def tick(talkers: Sequence[Talker], *, deadline: float) -> None:
    """tests/bench/voice_talkers.tick, skipping talkers that are moving to another instance."""

    async def group(members: Sequence[Talker], phase: float) -> None:
        began = time.monotonic() + phase
        step = 0
        while time.monotonic() < deadline and not all(t.finished or t.dead for t in talkers):
            step += 1
            if (delay := began + step * FRAME_S - time.monotonic()) > 0:
                await asyncio.sleep(delay)
            for talker in members:
                if talker.dead or getattr(talker, "moving", False):
                    continue
                now = time.monotonic()
                frame, last = talker.next_frame(now)
                try:
                    await talker.client.connection.send(frame)
                except Exception as exc:
                    if getattr(talker, "moving", False):
                        continue
                    talker.errors.append({"type": "send", "message": repr(exc)})
                    talker.dead = True
                    continue
                if last:
                    talker.speech_sent(now)

    groups = 4
    size = (len(talkers) + groups - 1) // groups
    await asyncio.gather(*(group(talkers[i * size:(i + 1) * size], i * FRAME_S / groups) for i in range(groups)))


def first_audio(talkers: Sequence[Talker], floor: Floor) -> tuple[list[float], list[float], int]:
    turns = [t for talker in talkers for t in talker.turns if t.first_audio is not None]
    first = [(t.first_audio - t.speech_end) * 1000 for t in turns]  # type: ignore[operator]
    return first, [f - floor.total_ms for f in first], sum(len(t.errors) for t in talkers)


async def chats(url: str, tokens: list[str], count: int, seconds: float) -> list[float]:
    """`count` clients chatting back to back for `seconds`: time to first token of each."""
    ttfts: list[float] = []
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as session:
        async def one(token: str) -> None:
            while time.monotonic() < deadline:
                ttfts.append(await first_token_server(session, url, token))

        await asyncio.gather(*(one(tokens[i % len(tokens)]) for i in range(count)))
    return ttfts


async def capacity(url: str, tokens: list[str], chat_tokens: list[str], args: argparse.Namespace,
                   floor: Floor) -> dict[str, float]:
    clients = await open_sessions(url, tokens[:args.sessions])
    talkers = [Talker(c, SENTENCE, turns=args.turns, offset_frames=i * 500 // len(clients), pause_frames=50,
                      turn_timeout_s=30) for i, c in enumerate(clients)]
    voice = asyncio.ensure_future(tick(talkers, deadline=time.monotonic() + args.turns * 40 + 30))
    ttfts = await chats(url, chat_tokens, args.chats, seconds=args.turns * 14)
    await voice
    await asyncio.gather(*(c.client.close() for c in talkers), return_exceptions=True)
    first, over, errors = first_audio(talkers, floor)
    chat_p50, chat_p95 = summary(ttfts)
    print(f"  voice: {len(first)} of {args.sessions * args.turns} turns answered, errors {errors}; first audio "
          f"p50 {pct(first, .5):.0f} ms, p95 {pct(first, .95):.0f} ms (minus floor: p50 {pct(over, .5):.0f}, "
          f"p95 {pct(over, .95):.0f})")
    print(f"  chat: {len(ttfts)} chats by {args.chats} clients; first token p50 {chat_p50:.0f} ms, "
          f"p95 {chat_p95:.0f} ms", flush=True)
    return {"voice_p50": pct(first, .5), "voice_p95": pct(first, .95), "over_p50": pct(over, .5),
            "over_p95": pct(over, .95), "chat_p50": chat_p50, "chat_p95": chat_p95,
            "missing": args.sessions * args.turns - len(first), "errors": errors}


async def rolling_restart(balancer: str, victim: Instance, tokens: list[str], database_url: str,
                          args: argparse.Namespace, floor: Floor) -> bool:
    n = args.restart_sessions
    movers: list[Mover] = []
    for batch in range(0, n, 20):
        async def one(i: int) -> Mover:
            client = await VoiceClient.connect(balancer, tokens[i])
            ready = await client.start("roleplay", wait_s=30)
            return Mover(client, balancer, tokens[i], ready["session_id"], turns=args.restart_turns,
                         offset_frames=i * 500 // n, pause_frames=100, turn_timeout_s=40)
        movers += await asyncio.gather(*(one(i) for i in range(batch, min(n, batch + 20))))
    on_victim = await sessions_on(victim.url)
    ticking = asyncio.ensure_future(tick(list(movers), deadline=time.monotonic() + args.restart_turns * 45 + 60))
    await asyncio.sleep(args.restart_after_s)
    assert victim.process is not None
    stopped = time.monotonic()
    victim.process.terminate()  # SIGTERM: drain
    process = victim.process

    def wait_exit() -> tuple[int, float]:
        code = process.wait(90)
        return code, time.monotonic() - stopped

    exiting = asyncio.ensure_future(asyncio.to_thread(wait_exit))
    await ticking
    exited, drained_s = await exiting
    await asyncio.gather(*(m.client.close() for m in movers), return_exceptions=True)
    moved = [m for m in movers if m.moves]
    ready = [(mv["ready"] - mv["told"]) * 1000 for m in moved for mv in m.moves if "ready" in mv]
    audio = [(mv["audio"] - mv["told"]) * 1000 for m in moved for mv in m.moves if "audio" in mv]
    first, over, _ = first_audio(movers, floor)
    errors = [e for m in movers for e in m.errors]
    unanswered = sum(1 for m in movers for t in m.turns if t.metrics is None)
    stored = await stored_turns(database_url, [m.session_id for m in movers])
    mismatched = [m.session_id for m in movers if stored.get(m.session_id) != (m.sent_turns, m.sent_turns)]
    print(f"  {n} sessions, {on_victim:.0f} on the stopped instance; it drained and exited (rc {exited}) "
          f"{drained_s:.1f} s after SIGTERM")
    speech_ms = len(movers[0].speech) * 20
    print(f"  moved: {len(moved)} sessions; reconnect -> ready on the other: p50 {pct(ready, .5):.0f} ms, "
          f"p95 {pct(ready, .95):.0f} ms; reconnect -> next reply audio (the next turn spoken at once: "
          f"{speech_ms} ms of audio, then the first-audio floor {floor.total_ms:.0f} ms): p50 {pct(audio, .5):.0f} ms, "
          f"p95 {pct(audio, .95):.0f} ms")
    print(f"  turns: {sum(m.sent_turns for m in movers)} spoken, {unanswered} unanswered, errors {len(errors)}"
          + (f" (first: {errors[0]})" if errors else "") + f"; sessions whose stored turns differ from "
          f"what was said: {len(mismatched)}; utterances cut short by the move (said again): "
          f"{sum(m.cut for m in movers)}")
    print(f"  first audio over the whole run: p50 {pct(first, .5):.0f} ms, p95 {pct(first, .95):.0f} ms "
          f"(minus floor p50 {pct(over, .5):.0f}, p95 {pct(over, .95):.0f})", flush=True)
    return not errors and not unanswered and not mismatched and len(moved) >= on_victim


async def sessions_on(url: str) -> float:
    async with httpx.AsyncClient() as client:
        for line in (await client.get(url + "/metrics")).text.splitlines():
            if line.startswith("sparring_voice_sessions "):
                return float(line.split()[1])
    return 0.0


async def stored_turns(database_url: str, session_ids: list[str]) -> dict[str, tuple[int, int]]:
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT session_id::text, count(*) FILTER (WHERE role = 'user'), "
                "count(*) FILTER (WHERE role = 'assistant') FROM conversation_message "
                "WHERE session_id::text = ANY(:ids) GROUP BY session_id"), {"ids": session_ids})).all()
    finally:
        await engine.dispose()
    return {row[0]: (int(row[1]), int(row[2])) for row in rows}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--chats", type=int, default=10)
    parser.add_argument("--turns", type=int, default=2)
    parser.add_argument("--restart-sessions", type=int, default=50)
    parser.add_argument("--restart-turns", type=int, default=3)
    parser.add_argument("--restart-after-s", type=float, default=12.0)
    parser.add_argument("--phases", default="capacity,restart")
    parser.add_argument("--pairs", type=int, default=2, help="capacity runs per configuration (alternated)")
    args = parser.parse_args()
    phases = args.phases.split(",")
    redis_url = os.environ.get("REDIS_URL") or os.environ.get("REDIS_TEST_URL") or "redis://127.0.0.1:6379/0"
    Redis.from_url(redis_url).flushdb()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()}")
    floor, _ = floors(SENTENCE, REPLY, LAT, VadConfig())
    print(f"voice floor {floor.total_ms:.0f} ms (endpointing {floor.endpoint_ms:.0f} + STT {floor.stt_ms:.0f} + "
          f"LLM {floor.llm_ms:.0f} + TTS {floor.tts_ms:.0f})")
    database_url = to_asyncpg_url(os.environ["DATABASE_URL"]) if os.environ.get("DATABASE_URL") \
        else start_embedded(Path(tempfile.mkdtemp(prefix="bench-pg-")))
    users = max(args.sessions, args.restart_sessions) + args.chats
    emails, _admin = asyncio.run(seed(database_url, users))
    fakes, secret = Fakes(), "bench-" + uuid.uuid4().hex * 2
    log_dir = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    env = {**os.environ, "DATABASE_URL": database_url, "ENVIRONMENT": "development", "JWT_SECRET": secret,
           "BCRYPT_ROUNDS": "4", "REDIS_URL": redis_url, "PINECONE_API_KEY": "", "LOG_LEVEL": "WARNING",
           "OPENAI_API_KEY": "bench", "OPENAI_BASE_URL": f"http://127.0.0.1:{fakes.openai_port}/v1",
           "ELEVENLABS_API_KEY": "bench", "ELEVENLABS_BASE_URL": f"http://127.0.0.1:{fakes.eleven_port}",
           "RATE_LIMIT_VOICE": "100000/minute", "RATE_LIMIT_LOGIN": "100000/minute",
           "RATE_LIMIT_CHAT": "100000/minute", "RAG_WORKERS": "0", "VOICE_MAX_SESSIONS_PER_USER": "4",
           "SHUTDOWN_GRACE_S": "30", "LOOP_LAG_PROBE_SECONDS": "0.05"}
    a, b = Instance("a", env, log_dir), Instance("b", env, log_dir)
    nginx: subprocess.Popen[bytes] | None = None
    ok = True
    try:
        a.start()
        b.start()
        balancer_port = free_port()
        nginx = start_nginx(log_dir, balancer_port, [a.port, b.port])
        balancer = f"http://127.0.0.1:{balancer_port}"
        wait_ready(balancer + "/api/health", nginx)
        tokens = [httpx.post(balancer + "/api/v1/auth/login", json={"email": e, "password": PASSWORD},
                             timeout=30).raise_for_status().json()["access_token"] for e in emails]
        voice_tokens, chat_tokens = tokens[:-args.chats], tokens[-args.chats:]
        if "capacity" in phases:
            # Alternated (one, two, two, one, ...) so that a machine whose load drifts during the
            # run (it is shared) weighs on both alike; the figures are the medians of the runs.
            runs: dict[str, list[dict[str, float]]] = {"one": [], "two": []}
            order = ["one", "two", "two", "one"] * args.pairs
            for name in order[:2 * args.pairs]:
                url = a.url if name == "one" else balancer
                label = "one instance (direct)" if name == "one" else "two instances behind nginx"
                print(f"{label}: {args.sessions} voice sessions x {args.turns} turns + {args.chats} chat clients "
                      f"(load average {os.getloadavg()[0]:.2f})", flush=True)
                runs[name].append(asyncio.run(capacity(url, voice_tokens, chat_tokens, args, floor)))
            medians = {name: {key: statistics.median(r[key] for r in results) for key in results[0]}
                       for name, results in runs.items()}
            for name, values in medians.items():
                print(f"  median {name}: voice first audio p50 {values['voice_p50']:.0f} ms, p95 "
                      f"{values['voice_p95']:.0f} ms; chat first token p50 {values['chat_p50']:.0f} ms, "
                      f"p95 {values['chat_p95']:.0f} ms")
            one, two = medians["one"], medians["two"]
            print("  ratio two/one (medians): " + ", ".join(
                f"{key} {two[key] / one[key]:.2f}" for key in ("voice_p50", "voice_p95", "chat_p50", "chat_p95")
                if one[key]), flush=True)
        if "restart" in phases:
            print(f"rolling restart: {args.restart_sessions} sessions x {args.restart_turns} turns through nginx, "
                  f"SIGTERM to one instance after {args.restart_after_s:.0f} s (load average "
                  f"{os.getloadavg()[0]:.2f})", flush=True)
            ok = asyncio.run(rolling_restart(balancer, a, voice_tokens, database_url, args, floor))
            print(f"  [{'met' if ok else 'MISSED'}] every session continued, no turn lost")
    finally:
        stop_nginx(nginx)
        for instance in (a, b):
            instance.stop()
        fakes.stop()
    print(f"load average at the end: {os.getloadavg()}")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
