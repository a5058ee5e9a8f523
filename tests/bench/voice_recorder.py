"""What recording costs the voice hot path: the recorder's work per 20 ms microphone frame and per
40 ms reply chunk (buffering only; writes run in background tasks), and how fast the mixer turns
a stored session into a WAV. Run: .venv/bin/python -m tests.bench.voice_recorder"""

from __future__ import annotations

import asyncio
import time
import uuid

import numpy as np

from server.recording.mixer import ClipInfo, mixed_wav
from server.recording.models import Side
from server.voice.audio import frame_bytes
from server.voice.recorder import Clip, Recorder


def per_call_us(calls: int, fn: object) -> float:
    began = time.perf_counter()
    for _ in range(calls):
        fn()  # type: ignore[operator]
    return (time.perf_counter() - began) / calls * 1e6


async def main() -> None:
    clips: list[Clip] = []
    rec = Recorder(clips.extend, input_rate=16000, output_rate=24000)
    frame = [bytes(frame_bytes(16000))]
    frames = 50 * 60 * 10  # ten minutes of microphone audio
    user_us = per_call_us(frames, lambda: rec.user_audio(frame))
    chunk = bytes(frame_bytes(24000, 40))

    async def sent(_: bytes) -> None:
        return None

    tapped = rec.tap(sent)
    began = time.perf_counter()
    for _ in range(15000):
        await tapped(chunk)
    tap_us = (time.perf_counter() - began) / 15000 * 1e6

    async def plain() -> float:
        t0 = time.perf_counter()
        for _ in range(15000):
            await sent(chunk)
        return (time.perf_counter() - t0) / 15000 * 1e6

    plain_us = await plain()
    rec.close()
    print(f"user_audio per 20 ms frame: {user_us:.2f} us; tapped send per 40 ms chunk: {tap_us:.2f} us "
          f"(plain send {plain_us:.2f} us); clips written: {len(clips)}")

    # A 30-minute session: 30 one-minute user clips at 16 kHz and 30 twenty-second replies at 24 kHz.
    rng = np.random.default_rng(1)
    stored: dict[uuid.UUID, Clip] = {}
    for minute in range(30):
        stored[uuid.uuid4()] = Clip(Side.user, 16000, minute * 60000,
                                    rng.integers(-3000, 3000, 16000 * 60, dtype=np.int16).tobytes(), None)
        stored[uuid.uuid4()] = Clip(Side.assistant, 24000, minute * 60000 + 30000,
                                    rng.integers(-3000, 3000, 24000 * 20, dtype=np.int16).tobytes(), None)
    infos = [ClipInfo(i, c.sample_rate, c.offset_ms, c.duration_ms) for i, c in stored.items()]

    async def load(clip_id: uuid.UUID) -> bytes:
        return stored[clip_id].pcm

    began = time.perf_counter()
    size = 0
    async for part in mixed_wav(infos, load):
        size += len(part)
    took = time.perf_counter() - began
    print(f"mix of a 30-minute session: {size / 1e6:.1f} MB WAV in {took:.2f} s "
          f"({30 * 60 / took:.0f}x real time)")


if __name__ == "__main__":
    asyncio.run(main())
