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
from server.voice.offline.piper_words import PiperWords
from server.voice.offline.pool import InferencePool
from server.voice.tts import SpeechChunk, TtsError
from server.voice.words import Word


def sentences(text: str) -> Iterator[Any]:
    """Piper's own sentence iterator (one `AudioChunk` per sentence, with its phonemes' durations
    when the model gives them)."""
    return iter(models.piper.get().model.synthesize(text, include_alignments=True))


def plan_words(voice: Any, text: str) -> PiperWords:
    """The text's words against the sentences Piper will speak (espeak-ng phonemizes in ~1 ms)."""
    return PiperWords(text, [s for s in voice.phonemize(text) if s], voice.phonemize)


class _Reply:
    """One text's sentences at the session's rate with their words; each call runs in the pool,
    one at a time."""

    def __init__(self, text: str, sample_rate: int) -> None:
        self._text = text
        self._rate = sample_rate
        self._sentences: Iterator[Any] | None = None
        self._words: PiperWords | None = None
        self._id_map: dict[str, list[int]] = {}
        self._voice_rate = 0
        self._resampler: soxr.ResampleStream | None = None

    def next_sentence(self) -> tuple[bytes, list[Word]] | None:
        """The next sentence's audio and the words it completes (ms from the start of the text's
        audio at Piper's rate, which the resampled stream keeps: soxr's stream output is
        delay-compensated), or None when the text is done."""
        if self._sentences is None:
            voice = models.piper.get().model
            if models.timed(voice):
                self._words = plan_words(voice, self._text)
                self._id_map = voice.config.phoneme_id_map
                self._voice_rate = voice.config.sample_rate
            self._sentences = sentences(self._text)
        chunk = next(self._sentences, None)
        if chunk is None:
            if self._resampler is None:
                return None
            # What the resampler still holds (its filter delay), then nothing more.
            tail = self._resampler.resample_chunk(np.zeros(0, dtype=np.int16), last=True)
            self._resampler = None
            self._sentences = iter(())
            words = self._words.rest(self._voice_rate) if self._words is not None else []
            return bytes(tail.tobytes()), words
        if self._resampler is None:
            self._resampler = soxr.ResampleStream(chunk.sample_rate, self._rate, 1, dtype="int16")
        audio = chunk.audio_int16_array
        words = (self._words.sentence(chunk.phonemes, chunk.phoneme_id_samples, self._id_map, len(audio),
                                      chunk.sample_rate) if self._words is not None else [])
        return bytes(self._resampler.resample_chunk(audio).tobytes()), words


class PiperSynthesizer:
    offline = True
    name = models.PIPER

    def __init__(self, pool: InferencePool, *, chunk_ms: int = 200) -> None:
        self._pool = pool
        self._chunk_ms = chunk_ms

    async def stream(self, text: str, sample_rate: int) -> AsyncGenerator[SpeechChunk]:
        reply = _Reply(text, sample_rate)
        size = sample_rate * self._chunk_ms // 1000 * 2
        try:
            while (sentence := await self._pool.run(reply.next_sentence)) is not None:
                pcm, words = sentence
                # A sentence's words go with its first chunk: ahead of the audio they describe
                # (the resampler may carry a sentence's last ms over into the next one's).
                timed = tuple(words)
                if not pcm and timed:
                    yield SpeechChunk(b"", timed)
                for start in range(0, len(pcm), size):
                    yield SpeechChunk(pcm[start:start + size], timed if start == 0 else ())
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
