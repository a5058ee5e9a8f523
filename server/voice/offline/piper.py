"""Offline speech synthesis: Piper with the en_US-joe-medium voice (22,050 Hz), sentence by sentence.

Piper splits the text into sentences and synthesises one at a time; each sentence (synthesis and
resampling) is one job in the pool, so the first sentence plays while the next is made, a
cancelled reply stops after the sentence in progress, and the event loop only slices bytes.
Audio is resampled to the session's rate with one soxr stream per reply, so sentence joins carry
no resampling edge.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator
from typing import Any

import numpy as np
import soxr

from server.voice.offline import models
from server.voice.offline.pool import InferencePool
from server.voice.tts import SpeechChunk, TtsError


def sentences(text: str) -> Iterator[Any]:
    """Piper's own sentence iterator (one `AudioChunk` per sentence)."""
    return iter(models.piper.get().model.synthesize(text))


class _Reply:
    """One text's sentences at the session's rate; each call runs in the pool, one at a time."""

    def __init__(self, text: str, sample_rate: int) -> None:
        self._text = text
        self._rate = sample_rate
        self._sentences: Iterator[Any] | None = None
        self._resampler: soxr.ResampleStream | None = None

    def next_sentence(self) -> bytes | None:
        if self._sentences is None:
            self._sentences = sentences(self._text)
        chunk = next(self._sentences, None)
        if chunk is None:
            if self._resampler is None:
                return None
            # What the resampler still holds (its filter delay), then nothing more.
            tail = self._resampler.resample_chunk(np.zeros(0, dtype=np.int16), last=True)
            self._resampler = None
            self._sentences = iter(())
            return bytes(tail.tobytes())
        if self._resampler is None:
            self._resampler = soxr.ResampleStream(chunk.sample_rate, self._rate, 1, dtype="int16")
        return bytes(self._resampler.resample_chunk(chunk.audio_int16_array).tobytes())


class PiperSynthesizer:
    offline = True
    name = models.PIPER

    def __init__(self, pool: InferencePool, *, chunk_ms: int = 200) -> None:
        self._pool = pool
        self._chunk_ms = chunk_ms

    async def stream(self, text: str, sample_rate: int) -> AsyncGenerator[SpeechChunk]:
        # No word timings: Piper 1.8 gives them only from a patched model (docs/benchmarks.md).
        reply = _Reply(text, sample_rate)
        size = sample_rate * self._chunk_ms // 1000 * 2
        try:
            while (pcm := await self._pool.run(reply.next_sentence)) is not None:
                for start in range(0, len(pcm), size):
                    yield SpeechChunk(pcm[start:start + size])
        except Exception as exc:
            # A model that cannot load or run fails this reply, as a provider would.
            raise TtsError(f"offline speech synthesis failed: {exc.__class__.__name__}", retryable=False) from exc


def synthesize_all(text: str) -> tuple[bytes, int]:
    """The whole text at Piper's own rate, on the calling thread (for measurements)."""
    pieces: list[bytes] = []
    rate = 22050
    for sentence in sentences(text):
        pieces.append(sentence.audio_int16_bytes)
        rate = sentence.sample_rate
    return b"".join(pieces), rate
