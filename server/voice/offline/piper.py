"""Offline speech synthesis: Piper with the en_US-joe-medium voice (22,050 Hz), sentence by sentence.

Piper splits the text into sentences and synthesises one at a time; each sentence is one job in
the pool, so the first sentence plays while the next is made, and a cancelled reply stops after
the sentence in progress. Audio is resampled to the session's rate with one soxr stream per
reply, so sentence joins carry no resampling edge.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator
from typing import Any

import numpy as np
import soxr

from server.voice.offline import models
from server.voice.offline.pool import InferencePool
from server.voice.tts import TtsError


def sentences(text: str) -> Iterator[Any]:
    """Piper's own sentence iterator (one `AudioChunk` per sentence); advanced in the pool."""
    return iter(models.piper.get().model.synthesize(text))


def _next(chunks: Iterator[Any]) -> tuple[bytes, int] | None:
    chunk = next(chunks, None)
    if chunk is None:
        return None
    return chunk.audio_int16_bytes, chunk.sample_rate


class PiperSynthesizer:
    offline = True
    name = models.PIPER

    def __init__(self, pool: InferencePool, *, chunk_ms: int = 200) -> None:
        self._pool = pool
        self._chunk_ms = chunk_ms

    async def stream(self, text: str, sample_rate: int) -> AsyncGenerator[bytes]:
        try:
            chunks = await self._pool.run(sentences, text)
            resampler: soxr.ResampleStream | None = None
            while (sentence := await self._pool.run(_next, chunks)) is not None:
                pcm, rate = sentence
                if resampler is None:
                    resampler = soxr.ResampleStream(rate, sample_rate, 1, dtype="int16")
                out = resampler.resample_chunk(np.frombuffer(pcm, dtype=np.int16))
                for piece in self._cut(out.tobytes(), sample_rate):
                    yield piece
            if resampler is not None:
                tail = resampler.resample_chunk(np.zeros(0, dtype=np.int16), last=True)
                for piece in self._cut(tail.tobytes(), sample_rate):
                    yield piece
        except (RuntimeError, ValueError, OSError) as exc:
            raise TtsError(f"offline speech synthesis failed: {exc.__class__.__name__}", retryable=False) from exc

    def _cut(self, pcm: bytes, sample_rate: int) -> Iterator[bytes]:
        size = sample_rate * self._chunk_ms // 1000 * 2
        for start in range(0, len(pcm), size):
            yield pcm[start:start + size]


def synthesize_all(text: str) -> tuple[bytes, int]:
    """The whole text at Piper's own rate, on the calling thread (for measurements)."""
    pieces: list[bytes] = []
    rate = 22050
    for sentence in sentences(text):
        pieces.append(sentence.audio_int16_bytes)
        rate = sentence.sample_rate
    return b"".join(pieces), rate
