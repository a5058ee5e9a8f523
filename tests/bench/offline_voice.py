"""Offline voice benchmark (issue 16, Performance): Whisper tiny.en and Piper en_US-joe-medium on
this machine, alone and behind a real server.

  models    load time of each model; real-time factor (compute time / audio time) of STT on the
            dealership sentence set and of TTS on the same sentences; word error rate per voice
            (every sentence in every voice of tests/offline_speech.py plus extra eSpeak speeds).
  piper     Piper alone: its load time in fresh processes (the first with an empty model cache,
            so it patches the model for its phoneme durations; the others read the cached file;
            one more with a cache it cannot write, so it patches in memory),
            and the real-time factor of streaming the sentence set through PiperSynthesizer at
            the session rate (synthesis, resampling and word timings), with the words timed.
  latency   one offline session (no keys) over a real server: first reply audio after the end of
            the user's speech, measured at the client (end of speech in the stream -> first reply
            audio frame), and the server's own `metrics` per turn.
  idle      50 idle sessions (connected, started) beside one talking: the talker's first audio
            and the server's event-loop lag (probe histogram) while the models run.
  sessions  N sessions talking at once (turn ends spread over a few seconds): first audio after
            end of speech and reply-audio underruns at the client, per N; a session "holds real
            time" when its reply audio never runs dry and first audio stays under 3 s.

    .venv/bin/python tests/bench/offline_voice.py models
    .venv/bin/python tests/bench/offline_voice.py piper [--loads 3]
    .venv/bin/python tests/bench/offline_voice.py latency [--turns 5]
    .venv/bin/python tests/bench/offline_voice.py idle [--idle 50] [--turns 3]
    .venv/bin/python tests/bench/offline_voice.py sessions [--counts 1,2,4,6] [--turns 2]

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
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from server.db.embedded import start_embedded, to_asyncpg_url  # noqa: E402
from server.voice.audio import duration_ms, silence  # noqa: E402
from server.voice.client import VoiceClient  # noqa: E402
from server.voice.offline import models  # noqa: E402
from server.voice.offline.piper import PiperSynthesizer  # noqa: E402
from server.voice.offline.pool import InferencePool, cpu_count  # noqa: E402
from server.voice.offline.whisper import transcribe_pcm  # noqa: E402
from tests.bench.chat_load import PASSWORD, seed, wait_ready  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.offline_speech import ESPEAK_VOICES, VOICES, Voice, errors, sentences, spoken, word_error_rate, words  # noqa: E402
from tests.voice_audio import speech  # noqa: E402

SENTENCE = "How much is this car, and can you do anything about the price today?"
WER_VOICES = (*VOICES, *ESPEAK_VOICES)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


# -- models ---------------------------------------------------------------------------------------
async def bench_models() -> None:
    for name, model in (("whisper", models.whisper), ("piper", models.piper)):
        loaded = model.get()
        print(f"{name}: {loaded.path.name} loaded in {loaded.load_s:.2f} s")
    pool = InferencePool(1)
    piper = PiperSynthesizer(pool)
    said = sentences()
    # TTS real-time factor: one sentence at a time, one thread, at Piper's own rate.
    tts_cpu = tts_audio = 0.0
    for text in said:
        began = time.perf_counter()
        pcm = await spoken(text, Voice("piper"), piper, rate=22050)
        tts_cpu += time.perf_counter() - began
        tts_audio += duration_ms(pcm, 22050) / 1000
    print(f"TTS (Piper, 1 thread): {tts_audio:.1f} s of speech in {tts_cpu:.1f} s, RTF {tts_cpu / tts_audio:.2f}")
    for voice in WER_VOICES:
        audio = [await spoken(text, voice, piper) for text in said]
        stt_cpu = 0.0
        heard: list[str] = []
        for pcm in audio:
            began = time.perf_counter()
            heard.append(transcribe_pcm(pcm, 16000))
            stt_cpu += time.perf_counter() - began
        seconds = sum(duration_ms(pcm, 16000) for pcm in audio) / 1000
        pairs = list(zip(said, heard, strict=True))
        wrong = sum(1 for text, got in pairs if errors(words(text), words(got)))
        print(f"STT on {voice}: WER {word_error_rate(pairs):.1%} ({wrong}/{len(said)} sentences with an error); "
              f"{seconds:.1f} s of speech in {stt_cpu:.1f} s, RTF {stt_cpu / seconds:.2f}, "
              f"{stt_cpu / len(said) * 1000:.0f} ms per call")
    pool.close()


# Runs in a fresh process: a model loads once per process. `timed`: the model gives durations.
_LOAD_PIPER = ("from server.voice.offline import models; loaded = models.piper.get(); "
               "print(f'{loaded.load_s:.2f} s, timed={len(loaded.model.session.get_outputs()) > 1}')")


def bench_piper_loads(loads: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as cache:
        for index in range(loads):
            began = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", _LOAD_PIPER], cwd=ROOT, capture_output=True, text=True,
                                 env={**os.environ, "XDG_CACHE_HOME": cache}, check=True)
            print(f"piper load, {'empty cache' if index == 0 else 'cached'}: {out.stdout.strip()} "
                  f"(process {time.perf_counter() - began:.2f} s)", flush=True)
        # A cache that cannot be written (a file where its folder should be): patched in memory.
        blocked = Path(cache) / "blocked"
        blocked.write_text("")
        out = subprocess.run([sys.executable, "-c", _LOAD_PIPER], cwd=ROOT, capture_output=True, text=True,
                             env={**os.environ, "XDG_CACHE_HOME": str(blocked)}, check=True)
        print(f"piper load, unwritable cache (patched in memory): {out.stdout.strip()}", flush=True)


async def bench_piper() -> None:
    loaded = models.piper.get()
    pool = InferencePool(1)
    piper = PiperSynthesizer(pool)
    cpu = audio_s = 0.0
    timed = spoken_words = 0
    for text in sentences():
        began = time.perf_counter()
        pcm = b""
        async for chunk in piper.stream(text, 24000):
            pcm += chunk.audio
            timed += len(chunk.words)
        cpu += time.perf_counter() - began
        audio_s += duration_ms(pcm, 24000) / 1000
        spoken_words += len(text.split())
    print(f"TTS (PiperSynthesizer, 1 thread, 24 kHz, {loaded.path.name}): {audio_s:.1f} s of speech in {cpu:.1f} s, "
          f"RTF {cpu / audio_s:.3f}; {timed} of {spoken_words} words timed")
    # The word plan's share: phonemizing the text and each token, and aligning them.
    from server.voice.offline.piper import plan_words

    began = time.perf_counter()
    for text in sentences():
        plan_words(loaded.model, text)
    print(f"word plans for the {len(sentences())} sentences: {(time.perf_counter() - began) * 1000:.0f} ms")
    pool.close()


# -- a real server --------------------------------------------------------------------------------
@contextmanager
def server(database_url: str, secret: str) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "ENVIRONMENT": "development", "JWT_SECRET": secret,
           "BCRYPT_ROUNDS": "4", "REDIS_URL": "", "PINECONE_API_KEY": "", "LOG_LEVEL": "WARNING",
           "OPENAI_API_KEY": "", "ELEVENLABS_API_KEY": "", "OFFLINE_TTS": "piper",
           "RATE_LIMIT_VOICE": "100000/minute", "RATE_LIMIT_LOGIN": "100000/minute",
           "LOOP_LAG_PROBE_SECONDS": "0.005"}
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", "server.app:asgi_factory", "--factory",
                                "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
                                "--ws-max-size", str(64 * 1024), "--log-level", "warning",
                                "--ws-per-message-deflate", "false"], cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url + "/api/ready", process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)


class Turn:
    def __init__(self) -> None:
        self.first_audio_ms: float | None = None
        self.underrun_ms = 0.0
        self.metrics: dict[str, object] = {}
        self.warnings: list[str] = []


async def talk(client: VoiceClient, *, delay_s: float = 0.0) -> Turn:
    """Speaks SENTENCE in real time, then silence until the reply has ended; times the reply at
    the client: first audio after the end of speech, and gaps where a real-time player would
    have run dry (playing from the first audio frame on)."""
    turn = Turn()
    await asyncio.sleep(delay_s)
    before = len(client.log)
    await client.stream(silence(200, 16000) + speech(SENTENCE))
    speech_end = time.monotonic()
    silent = asyncio.ensure_future(client.stream(silence(20_000, 16000)))
    try:
        end = await client.wait_for("audio.end", wait_s=60)
        turn.metrics = await client.wait_for("metrics", wait_s=10)
    finally:
        silent.cancel()
    played_until: float | None = None
    for received in client.log[before:]:
        if received.event is not None:
            if received.event.get("type") == "warning":
                turn.warnings.append(str(received.event.get("code")))
            continue
        if turn.first_audio_ms is None:
            turn.first_audio_ms = (received.at - speech_end) * 1000
            played_until = received.at
        assert played_until is not None
        if received.at > played_until:
            turn.underrun_ms += (received.at - played_until) * 1000
            played_until = received.at
        played_until += duration_ms(received.audio, 16000) / 1000
    assert end["message_id"]
    return turn


async def connect(url: str, token: str) -> VoiceClient:
    client = await VoiceClient.connect(url, token)
    await client.start("roleplay", wait_s=60)
    return client


async def bench_latency(url: str, tokens: list[str], turns: int) -> None:
    warm = await connect(url, tokens[0])
    await talk(warm)  # the models load on the first session: kept out of the figures
    await warm.close()
    client = await connect(url, tokens[1])
    results = [await talk(client) for _ in range(turns)]
    await client.close()
    first = [r.first_audio_ms or float("nan") for r in results]
    print(f"one session, {turns} turns: first audio after end of speech p50 {pct(first, 0.5):.0f} ms, "
          f"max {max(first):.0f} ms; underruns {sum(r.underrun_ms for r in results):.0f} ms")
    for key in ("endpoint_ms", "stt_ms", "llm_ttft_ms", "tts_ttfb_ms", "first_audio_ms"):
        values = [float(str(r.metrics.get(key))) for r in results if r.metrics.get(key) is not None]
        print(f"    server {key}: p50 {pct(values, 0.5):.0f} ms")


async def bench_sessions(url: str, tokens: list[str], counts: list[int], turns: int) -> None:
    warm = await connect(url, tokens[0])
    await talk(warm)
    await warm.close()
    for n in counts:
        clients = [await connect(url, token) for token in tokens[1:n + 1]]
        results: list[Turn] = []
        for _ in range(turns):
            # Turn ends spread over 2 s, as people who did not all stop talking at the same instant.
            results += await asyncio.gather(*(talk(c, delay_s=2.0 * i / n) for i, c in enumerate(clients)))
        await asyncio.gather(*(c.close() for c in clients))
        first = [r.first_audio_ms or float("nan") for r in results]
        dry = sum(1 for r in results if r.underrun_ms > 100)
        busy = sum(1 for r in results if "offline_busy" in r.warnings)
        holds = dry == 0 and pct(first, 0.9) < 3000
        print(f"{n} sessions: first audio p50 {pct(first, 0.5):.0f} ms p90 {pct(first, 0.9):.0f} ms "
              f"max {max(first):.0f} ms; replies with >100 ms of underrun {dry}/{len(results)}; "
              f"offline_busy warnings {busy}; {'holds' if holds else 'does NOT hold'} real time", flush=True)
        stages = {key: pct([float(str(r.metrics[key])) for r in results if r.metrics.get(key) is not None], 0.5)
                  for key in ("stt_ms", "llm_ttft_ms", "tts_ttfb_ms", "first_audio_ms")}
        print("    server p50: " + ", ".join(f"{key} {value:.0f}" for key, value in stages.items()), flush=True)


async def bench_idle(url: str, tokens: list[str], idle: int, turns: int) -> None:
    from tests.bench.voice_load import lag, lag_summary, scrape

    warm = await connect(url, tokens[0])
    await talk(warm)
    await warm.close()
    idle_clients = [await connect(url, token) for token in tokens[2:idle + 2]]
    talker = await connect(url, tokens[1])
    before = lag(await scrape(url))
    results = [await talk(talker) for _ in range(turns)]
    probes, p99, worst, over_20 = lag_summary(before, lag(await scrape(url)))
    await asyncio.gather(talker.close(), *(c.close() for c in idle_clients))
    first = [r.first_audio_ms or float("nan") for r in results]
    print(f"{idle} idle sessions + 1 talking, {turns} turns: first audio p50 {pct(first, 0.5):.0f} ms, "
          f"max {max(first):.0f} ms; event-loop lag: {probes} probes, p99 <= {p99 * 1000:g} ms, "
          f"max <= {worst * 1000:g} ms, {over_20} over 20 ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["models", "piper", "latency", "idle", "sessions"])
    parser.add_argument("--loads", type=int, default=3)
    parser.add_argument("--idle", type=int, default=50)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--counts", default="1,2,4,6")
    args = parser.parse_args()
    print(f"machine: {cpu_count()} CPUs, load average {os.getloadavg()}, numpy {np.__version__}", flush=True)
    if args.what == "models":
        asyncio.run(bench_models())
        return
    if args.what == "piper":
        bench_piper_loads(args.loads)
        asyncio.run(bench_piper())
        return
    database_url = to_asyncpg_url(os.environ["DATABASE_URL"]) if os.environ.get("DATABASE_URL") \
        else start_embedded(Path(tempfile.mkdtemp(prefix="bench-pg-")))
    counts = [int(c) for c in args.counts.split(",")]
    emails, _admin = asyncio.run(seed(database_url, max(*counts, args.idle) + 2))
    with server(database_url, "bench-" + uuid.uuid4().hex * 2) as url:
        tokens = [httpx.post(url + "/api/v1/auth/login", json={"email": e, "password": PASSWORD},
                             timeout=30).raise_for_status().json()["access_token"] for e in emails]
        if args.what == "latency":
            asyncio.run(bench_latency(url, tokens, args.turns))
        elif args.what == "idle":
            asyncio.run(bench_idle(url, tokens, args.idle, args.turns))
        else:
            asyncio.run(bench_sessions(url, tokens, counts, args.turns))
    print(f"load average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
