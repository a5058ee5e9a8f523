"""PCM16 helpers and the first stage: binary messages -> validated 20 ms frames at real-time rate."""

from __future__ import annotations

import io
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import soxr

from server.voice.protocol import FRAME_MS, ErrorCode, ProtocolError

SAMPLE_WIDTH = 2


def frame_bytes(sample_rate: int, ms: int = FRAME_MS) -> int:
    return sample_rate * ms // 1000 * SAMPLE_WIDTH


def duration_ms(pcm: bytes | int, sample_rate: int) -> float:
    size = pcm if isinstance(pcm, int) else len(pcm)
    return size / SAMPLE_WIDTH / sample_rate * 1000


def to_wav(pcm: bytes, sample_rate: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(SAMPLE_WIDTH)
        out.setframerate(sample_rate)
        out.writeframes(pcm)
    return buffer.getvalue()


def read_wav(data: bytes) -> tuple[bytes, int]:
    """WAV bytes -> (mono PCM16, sample rate); stereo is mixed down."""
    with wave.open(io.BytesIO(data), "rb") as source:
        if source.getsampwidth() != SAMPLE_WIDTH:
            raise ValueError("only 16-bit PCM WAV files are supported")
        rate, channels = source.getframerate(), source.getnchannels()
        pcm = source.readframes(source.getnframes())
    if channels > 1:
        samples = np.frombuffer(pcm, dtype=np.int16).reshape(-1, channels).mean(axis=1)
        pcm = samples.astype(np.int16).tobytes()
    return pcm, rate


def resample(pcm: bytes, source_rate: int, target_rate: int) -> bytes:
    if source_rate == target_rate or not pcm:
        return pcm
    samples = np.frombuffer(pcm, dtype=np.int16)
    return np.asarray(soxr.resample(samples, source_rate, target_rate), dtype=np.int16).tobytes()


def silence(ms: float, sample_rate: int) -> bytes:
    return bytes(int(sample_rate * ms / 1000) * SAMPLE_WIDTH)


class RateGuard:
    """Refuses audio only when the total received runs ahead of the wall clock since the session
    started by more than a burst, so a client cannot make the server do work faster than someone
    can speak.

    The total is judged, not the spacing: frames a stalled server (or network) delivers in a burst
    after a wait add up to no more than the time that passed, so a client sending in real time is
    never refused, however its frames bunch up on the way."""

    def __init__(self, burst_ms: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._burst_ms = burst_ms
        self._clock = clock
        self._started = clock()
        self._accepted_ms = 0.0

    def admit(self, ms: float) -> bool:
        allowance = (self._clock() - self._started) * 1000 + self._burst_ms
        if self._accepted_ms + ms > allowance + 1e-6:
            return False
        self._accepted_ms += ms
        return True


@dataclass(slots=True)
class Framer:
    """Re-cuts incoming binary messages into exact 20 ms frames (clients may batch frames, and a
    message need not end on a frame boundary), refusing what cannot be PCM16."""

    sample_rate: int
    _rest: bytes = b""

    def push(self, data: bytes) -> list[bytes]:
        if len(data) % SAMPLE_WIDTH:
            raise ProtocolError(ErrorCode.bad_audio, "Audio frames must hold whole 16-bit samples.")
        size = frame_bytes(self.sample_rate)
        buffer = self._rest + data
        whole = len(buffer) - len(buffer) % size
        self._rest = buffer[whole:]
        return [buffer[i:i + size] for i in range(0, whole, size)]
