"""Turn-taking benchmark (issue 16): the end of turn judged from the words, and barge-in recovery.

1. Endpoint delay (end of speech -> the endpointer ends the turn), replayed through the real
   `Endpointer` driven as the session drives it (each segment cut waits for its words, which come
   back after --stt-ms and set the end-of-turn silence by `endpointing.py`), over a test set of
   complete one-sentence turns and of trailing-off turns with a mid-sentence pause of 300-700 ms
   ("I was thinking about, um, ... the blue one."). A trailing-off turn that ends in its pause was
   cut: the target is 0. CPU only, no server.
2. Resume latency over a real server with fake providers (voice_load.py's): one session, a reply
   playing, the user says "uh-huh" over it --backchannels times; per backchannel the time from
   `playback.pause` to `playback.resume`, from the end of the "uh-huh" in the stream to
   `playback.resume`, and from `playback.resume` to the next reply audio at the client.

    .venv/bin/python tests/bench/turn_taking.py [--stt-ms 300] [--backchannels 8] [--no-server]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from server.db.embedded import start_embedded, to_asyncpg_url  # noqa: E402
from server.voice.audio import silence  # noqa: E402
from server.voice.client import VoiceClient  # noqa: E402
from server.voice.endpointing import EndOfTurn  # noqa: E402
from server.voice.protocol import FRAME_MS  # noqa: E402
from server.voice.vad import Endpointer, Segment, TurnEnded, VadConfig  # noqa: E402
from tests.bench.chat_load import PASSWORD, seed  # noqa: E402
from tests.bench.voice_load import Fakes, pct, server  # noqa: E402
from tests.voice_audio import frames, speech  # noqa: E402

RATE = 16000
COMPLETE = [
    "How much is this car?", "I want the blue one.", "Can you do better on the price?",
    "That is more than I wanted to spend.", "Does it come with a warranty?", "I need to talk to my wife first.",
    "What is the mileage on it?", "I saw the same model across town for less.", "Can I take it for a test drive?",
    "The monthly payment is too high for me.", "Is the trade-in value final?", "I like it, but not at that price.",
]
TRAILING = [  # (the words before the pause, the words after it)
    ("I was thinking about, um,", "the blue one."), ("So the thing is", "my budget is tight."),
    ("I would like a car with", "more room in the back."), ("The price is fine but", "the payment is not."),
    ("We were looking at the", "hybrid model."), ("And, uh,", "what about the warranty?"),
    ("My wife really wants", "the red one."), ("If you could maybe", "lower it a little."),
    ("Let me think about", "the trade-in."), ("I mean", "it is a nice car."),
]
PAUSES_MS = (300, 500, 700)


def endpoint(parts: list[tuple[str, int]], stt_ms: float, vad: VadConfig) -> tuple[float, bool]:
    """(ms from the end of the last word to the end of the turn, whether it ended early: inside a
    pause, before the last part was spoken). `parts`: (text, silence after it)."""
    end_of_turn = EndOfTurn(vad.end_of_turn_min_ms, vad.end_of_turn_ms, vad.end_of_turn_max_ms)
    stream, said, spans = b"", [], []
    for text, after in parts:
        pcm = speech(text, RATE)
        begins = len(stream) / 32 + (0 if stream else 300)
        spans.append((begins, begins + len(pcm) / 32))
        stream += (silence(300, RATE) if not stream else b"") + pcm + silence(after, RATE)
    last_word_end = spans[-1][1]
    endpointer = Endpointer(vad, RATE)
    due: list[tuple[float, int, str]] = []
    for index, frame in enumerate(frames(stream, RATE)):
        at = (index + 1) * FRAME_MS
        for item in [d for d in due if d[0] <= at - FRAME_MS]:
            endpointer.set_end_of_turn(end_of_turn.silence_ms(item[2]), segment=item[1])
            due.remove(item)
        for event in endpointer.push(frame):
            if isinstance(event, Segment):
                # The words of the speech so far: the parts that have begun by now.
                said = " ".join(text for (text, _), (start, _) in zip(parts, spans, strict=True) if start < at)
                endpointer.set_end_of_turn(end_of_turn.max_ms, segment=endpointer.segments_cut)
                due.append((at + stt_ms, endpointer.segments_cut, said))
            elif isinstance(event, TurnEnded):
                return at - last_word_end, at < spans[-1][0]
    raise AssertionError("the turn never ended")


def endpoint_figures(stt_ms: float) -> None:
    vad = VadConfig()
    complete = [endpoint([(s, 2500)], stt_ms, vad)[0] for s in COMPLETE]
    trailing, cut = [], 0
    for first, second in TRAILING:
        for pause in PAUSES_MS:
            delay, early = endpoint([(first, pause), (second, 2500)], stt_ms, vad)
            cut += early
            if early:
                print(f"  cut: {first!r} + {pause} ms + {second!r}")
            else:
                trailing.append(delay)
    print(f"endpoint delay, words back {stt_ms:.0f} ms after each segment cut (VAD segment pause "
          f"{vad.segment_pause_ms} ms), end of the last word -> end of turn:")
    stopped = [endpoint([(first, 2500)], stt_ms, vad)[0] for first, _ in TRAILING]
    for name, values in (("complete sentences", complete), ("trailing-off turns", trailing),
                         ("trailed off, stopped", stopped)):
        print(f"  {name:<20} n={len(values):3d}  p50 {pct(values, .5):5.0f}  p90 {pct(values, .9):5.0f}  "
              f"max {max(values):5.0f} ms")
    print(f"  trailing-off turns cut in their pause: {cut} of {len(TRAILING) * len(PAUSES_MS)} "
          f"(pauses {', '.join(map(str, PAUSES_MS))} ms)")


async def resume_figures(url: str, token: str, count: int) -> None:
    client = await VoiceClient.connect(url, token)
    await client.start("roleplay", wait_s=30)
    pause_to_resume, end_to_resume, resume_to_audio, interrupted = [], [], [], 0
    uh_huh = speech("uh huh", RATE)
    await client.stream(silence(300, RATE) + speech("How much is this car?", RATE) + silence(700, RATE))
    await client.wait_for("audio.start", wait_s=30)
    for _ in range(count):
        await client.stream(silence(600, RATE))
        seen = len(client.log)
        await client.stream(uh_huh)
        spoken_end = time.monotonic()
        stop = asyncio.ensure_future(client.stream(silence(1500, RATE)))
        event = await client.wait_for_any(("playback.resume", "interrupted", "audio.end"), wait_s=30)
        if event["type"] != "playback.resume":
            interrupted += event["type"] == "interrupted"
            await stop
            break
        resumed_at = time.monotonic()
        await stop
        pause = next(r.at for r in client.log[seen:] if r.event and r.event["type"] == "playback.pause")
        resume = next(r.at for r in client.log[seen:] if r.event and r.event["type"] == "playback.resume")
        audio = next((r.at for r in client.log[seen:] if r.event is None and r.at >= resume), None)
        pause_to_resume.append((resume - pause) * 1000)
        end_to_resume.append((resumed_at - spoken_end) * 1000)
        if audio is not None:
            resume_to_audio.append((audio - resume) * 1000)
    await client.close()
    print(f"resume after an 'uh-huh' over a reply ({len(pause_to_resume)} of {count}, interrupted {interrupted}):")
    for name, values in (("playback.pause -> playback.resume", pause_to_resume),
                         ("end of the uh-huh -> playback.resume", end_to_resume),
                         ("playback.resume -> next reply audio", resume_to_audio)):
        if values:
            print(f"  {name:<38} p50 {pct(values, .5):6.0f}  max {max(values):6.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stt-ms", type=float, default=300.0)
    parser.add_argument("--backchannels", type=int, default=8)
    parser.add_argument("--no-server", action="store_true")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()}")
    endpoint_figures(args.stt_ms)
    endpoint_figures(50.0)
    if args.no_server:
        return
    database_url = to_asyncpg_url(os.environ["DATABASE_URL"]) if os.environ.get("DATABASE_URL") \
        else start_embedded(Path(tempfile.mkdtemp(prefix="bench-pg-")))
    emails, _admin = asyncio.run(seed(database_url, 1))
    fakes = Fakes(transcript="Uh-huh.")  # every transcription: the backchannel (the first turn's text too)
    try:
        with server(database_url, fakes, "bench-" + uuid.uuid4().hex * 2, pipelining=True) as (url, _proc):
            token = httpx.post(url + "/api/v1/auth/login", json={"email": emails[0], "password": PASSWORD},
                               timeout=30).raise_for_status().json()["access_token"]
            asyncio.run(resume_figures(url, token, args.backchannels))
    finally:
        fakes.stop()


if __name__ == "__main__":
    main()
