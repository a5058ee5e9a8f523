"""A session's clips mixed into one mono WAV, streamed window by window.

The WAV header is written from the clips' metadata alone; then each window of the timeline is
mixed from the clips that overlap it, loading (and resampling) a clip's audio only when the
window reaches it and dropping it once the window has passed. Memory stays at a few clips
however long the session was.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from server.voice.audio import SAMPLE_WIDTH, resample

WINDOW_S = 5


@dataclass(frozen=True, slots=True)
class ClipInfo:
    id: uuid.UUID
    sample_rate: int
    offset_ms: int
    duration_ms: int


def wav_header(sample_rate: int, data_bytes: int, channels: int = 1) -> bytes:
    block = channels * SAMPLE_WIDTH
    return (b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, sample_rate, sample_rate * block, block, 8 * block)
            + b"data" + struct.pack("<I", data_bytes))


def mix_rate(clips: list[ClipInfo]) -> int:
    return max(clip.sample_rate for clip in clips)


def total_samples(clips: list[ClipInfo], rate: int) -> int:
    return max(_samples(clip.offset_ms + clip.duration_ms, rate) for clip in clips)


async def mixed_wav(clips: list[ClipInfo], load: Callable[[uuid.UUID], Awaitable[bytes]]) -> AsyncIterator[bytes]:
    """The WAV of all `clips` (at least one) laid on one timeline; `load` fetches a clip's PCM."""
    rate = mix_rate(clips)
    total = total_samples(clips, rate)
    yield wav_header(rate, total * SAMPLE_WIDTH)
    pending = sorted(clips, key=lambda clip: clip.offset_ms)
    active: list[tuple[int, npt.NDArray[np.int16]]] = []  # (first sample, audio at `rate`)
    window = WINDOW_S * rate
    for begin in range(0, total, window):
        end = min(begin + window, total)
        while pending and _samples(pending[0].offset_ms, rate) < end:
            clip = pending.pop(0)
            pcm = resample(await load(clip.id), clip.sample_rate, rate)
            active.append((_samples(clip.offset_ms, rate), np.frombuffer(pcm, dtype=np.int16)))
        out = np.zeros(end - begin, dtype=np.int32)
        for start, audio in active:
            lo, hi = max(start, begin), min(start + len(audio), end)
            if lo < hi:
                out[lo - begin:hi - begin] += audio[lo - start:hi - start]
        active = [(start, audio) for start, audio in active if start + len(audio) > end]
        yield np.clip(out, -32768, 32767).astype("<i2").tobytes()


def _samples(ms: int, rate: int) -> int:
    return ms * rate // 1000
