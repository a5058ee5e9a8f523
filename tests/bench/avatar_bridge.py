"""LiveAvatar bridge benchmark (issue 17): against the fake LiveAvatar, fake OpenAI and fake
ElevenLabs (in this process, on free ports) and one uvicorn process of the server.

1. Latency: how long after our first TTS audio of a reply (the fake ElevenLabs yielding its first
   chunk) the first `agent.speak` of that reply reaches the fake LiveAvatar (one session, turns one
   after another; both timestamps on this process's monotonic clock, so localhost transfer both
   ways is included: an upper bound on what the server adds). For reference, the same for voice
   alone: first TTS chunk -> first binary audio frame at the client, and the same with the built-in
   avatar (`builtin`: the server only answers `avatar.ready`; the face is drawn by the browser), with
   each turn's text sent -> first audio frame for both (does the built-in avatar cost first audio?).
2. CPU: the server process's CPU seconds (psutil) per session for N concurrent sessions of K typed
   turns each, avatar `liveavatar` against voice alone (`none`), modes alternated over rounds.

    .venv/bin/python tests/bench/avatar_bridge.py --turns 8 --sessions 10 --rounds 2

Uses DATABASE_URL if set, else an embedded PostgreSQL in a temporary folder.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from server.db.embedded import start_embedded, to_asyncpg_url  # noqa: E402
from server.voice.client import VoiceClient  # noqa: E402
from tests.bench.chat_load import PASSWORD, seed, wait_ready  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.fakes.elevenlabs_server import FakeElevenLabs  # noqa: E402
from tests.fakes.liveavatar_server import API_KEY, AVATAR_ID, FakeLiveAvatar  # noqa: E402
from tests.fakes.openai_voice import FakeOpenAI, OpenAIConfig  # noqa: E402
from tests.fakes.server import serve_in_thread  # noqa: E402

REPLY = ("That seems high to me. I saw the same model across town for two thousand less, and it came "
         "with winter tires and a longer warranty.")


class TimedEleven(FakeElevenLabs):
    """Records when each synthesis yields its first audio chunk."""

    def __init__(self) -> None:
        super().__init__()
        self.first_chunks: list[float] = []

    async def _audio(self, text: str, rate: int) -> AsyncIterator[bytes]:
        first = True
        async for chunk in super()._audio(text, rate):
            if first:
                self.first_chunks.append(time.monotonic())
                first = False
            yield chunk


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


@contextmanager
def server(database_url: str, urls: dict[str, str]) -> Iterator[tuple[str, psutil.Process]]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "ENVIRONMENT": "development",
           "JWT_SECRET": "bench-secret-" + "x" * 40, "BCRYPT_ROUNDS": "4", "REDIS_URL": "",
           "PINECONE_API_KEY": "", "LOG_LEVEL": "WARNING",
           "OPENAI_API_KEY": "bench", "OPENAI_BASE_URL": urls["openai"] + "/v1",
           "ELEVENLABS_API_KEY": "bench", "ELEVENLABS_BASE_URL": urls["eleven"],
           "LIVEAVATAR_API_KEY": API_KEY, "LIVEAVATAR_AVATAR_ID": AVATAR_ID, "LIVEAVATAR_BASE_URL": urls["avatar"],
           "RATE_LIMIT_VOICE": "100000/minute", "RATE_LIMIT_LOGIN": "100000/minute",
           "RATE_LIMIT_CHAT": "100000/minute"}
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


SENT: list[float] = []  # when each turn's text was sent (monotonic), for text -> first audio


async def turn(client: VoiceClient, text: str) -> str:
    SENT.append(time.monotonic())
    await client.send({"type": "text", "text": text})
    start = await client.wait_for("audio.start", wait_s=60)
    await client.wait_for("metrics", wait_s=60)
    return str(start["message_id"])


async def latency(url: str, token: str, eleven: TimedEleven, avatar: FakeLiveAvatar, mode: str,
                  turns: int, first_audio: list[float] | None = None) -> list[float]:
    client = await VoiceClient.connect(url, token)
    await client.start("roleplay", persona_id="sam-price", avatar=mode)
    if mode != "none":
        await client.wait_for("avatar.ready", wait_s=30)
    if mode == "liveavatar":
        for _ in range(3000):  # the fake's thread sets it: poll, up to 30 s
            if any(s.connected_at for s in avatar.sessions.values()):
                break
            await asyncio.sleep(0.01)
    deltas = []
    for index in range(turns + 1):
        before = len(eleven.first_chunks)
        message_id = await turn(client, f"How much is it, question {index}?")
        first_tts = eleven.first_chunks[before]
        if mode == "liveavatar":
            session = next(s for s in avatar.sessions.values() if s.stopped_at is None)
            first_out = next(r.at for r in session.received if r.message.get("event_id") == message_id
                             and r.message.get("type") == "agent.speak")
        else:
            first_out = next(r.at for r in client.log if r.audio and r.at >= first_tts)
            if index and first_audio is not None:
                first_audio.append((first_out - SENT[-1]) * 1000)
        if index:  # the first turn warms up imports and pools
            deltas.append((first_out - first_tts) * 1000)
    await client.send({"type": "end"})
    await client.closed()
    return deltas


async def cpu(url: str, tokens: list[str], proc: psutil.Process, mode: str, turns: int) -> float:
    """From connect to close: the avatar's start and stop are part of its cost."""
    before = proc.cpu_times()
    clients = [await VoiceClient.connect(url, token) for token in tokens]
    for client in clients:
        client.record = True
        await client.start("roleplay", persona_id="sam-price", avatar=mode)
    if mode == "liveavatar":
        await asyncio.gather(*(c.wait_for("avatar.ready", wait_s=60) for c in clients))

    async def talk(client: VoiceClient) -> None:
        for index in range(turns):
            await turn(client, f"What about the price, question {index}?")
            client.log.clear()
            client.audio.clear()

    await asyncio.gather(*(talk(c) for c in clients))
    for client in clients:
        await client.send({"type": "end"})
    await asyncio.gather(*(c.closed(wait_s=60) for c in clients))
    await asyncio.sleep(1.0)  # the provider sessions' stop and the scoring finish
    after = proc.cpu_times()
    return (after.user - before.user + after.system - before.system) / len(clients)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=8)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--cpu-turns", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    database_url = to_asyncpg_url(os.environ["DATABASE_URL"]) if os.environ.get("DATABASE_URL") \
        else start_embedded(Path(tempfile.mkdtemp(prefix="bench-pg-")))
    emails, _admin = asyncio.run(seed(database_url, args.sessions))
    openai, eleven, avatar = FakeOpenAI(OpenAIConfig(reply=REPLY, ttft_s=0.1, tokens_per_s=60)), TimedEleven(), \
        FakeLiveAvatar()
    with serve_in_thread(openai.app()) as openai_url, serve_in_thread(eleven.app()) as eleven_url, \
            serve_in_thread(avatar.app()) as avatar_url, \
            server(database_url, {"openai": openai_url, "eleven": eleven_url, "avatar": avatar_url}) as (url, proc):
        tokens = [httpx.post(url + "/api/v1/auth/login", json={"email": e, "password": PASSWORD},
                             timeout=30).raise_for_status().json()["access_token"] for e in emails]
        print(f"load average before: {os.getloadavg()}")
        first_audio: dict[str, list[float]] = {"none": [], "builtin": []}
        for mode in ("liveavatar", "none", "builtin", "none", "builtin"):
            deltas = asyncio.run(latency(url, tokens[0], eleven, avatar, mode, args.turns, first_audio.get(mode)))
            what = "first agent.speak at the fake" if mode == "liveavatar" else "first audio frame at the client"
            print(f"{mode:>10}: first TTS chunk -> {what}: p50 {pct(deltas, 0.5):.1f} ms, "
                  f"p90 {pct(deltas, 0.9):.1f} ms, max {max(deltas):.1f} ms over {len(deltas)} replies")
        for mode, values in first_audio.items():
            print(f"{mode:>10}: text sent -> first audio frame: p50 {pct(values, 0.5):.1f} ms, "
                  f"p90 {pct(values, 0.9):.1f} ms over {len(values)} replies")
        per_mode: dict[str, list[float]] = {"none": [], "liveavatar": []}
        for _ in range(args.rounds):
            for mode in ("none", "liveavatar"):
                per_mode[mode].append(asyncio.run(cpu(url, tokens, proc, mode, args.cpu_turns)))
        for mode, values in per_mode.items():
            print(f"{mode:>10}: server CPU per session ({args.sessions} sessions x {args.cpu_turns} turns): "
                  + ", ".join(f"{v * 1000:.0f} ms" for v in values))
        none, live = sum(per_mode["none"]) / args.rounds, sum(per_mode["liveavatar"]) / args.rounds
        print(f"bridge CPU vs voice alone: {(live / none - 1) * 100:+.1f} % per session")
        print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
