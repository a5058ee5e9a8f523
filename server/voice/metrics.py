"""Per-turn timings, all measured from the end of the user's speech (or a typed text's arrival).

The end of speech is a position in the received audio stream; `AudioClock` turns it into the
moment the user stopped talking. Taking "now, minus the silence that confirmed the end" instead
hides every second the server spent behind its socket: a busy server that reads 9 s of queued
audio in one burst would report a 1 s wait for a transcript that came 9 s after the user stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, Histogram


class AudioClock:
    """The session's audio clock: maps a position in the received audio (ms since its first
    sample) to the monotonic time the user spoke it.

    Clients stream the microphone in real time, silence included, so audio at position `p` was
    recorded `p` ms after the stream's origin and cannot reach us before `origin + p`. Each
    message read at `now` puts the origin at or before `now - position`; the least of these is the
    message read with the least delay, the best estimate of the origin. Messages read late (a
    server stall, a network hiccup followed by a catch-up burst) only ever raise that bound, so
    they do not move the clock.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._origin: float | None = None
        self.position_ms = 0.0

    def received(self, ms: float) -> None:
        """`ms` more audio was read just now."""
        self.position_ms += ms
        origin = self._clock() - self.position_ms / 1000
        if self._origin is None or origin < self._origin:
            self._origin = origin

    def at(self, position_ms: float) -> float:
        """When the audio at `position_ms` was spoken (now, before any audio arrived)."""
        if self._origin is None:
            return self._clock()
        return self._origin + position_ms / 1000


@dataclass(slots=True)
class TurnClock:
    speech_end: float  # monotonic time the user stopped speaking
    turn_detected: float | None = None
    transcript_ready: float | None = None
    llm_started: float | None = None
    llm_first_token: float | None = None
    tts_started: float | None = None
    tts_first_byte: float | None = None
    first_audio: float | None = None
    typed: bool = False

    @staticmethod
    def now() -> float:
        return time.monotonic()

    def mark(self, name: str) -> None:
        if getattr(self, name) is None:
            setattr(self, name, time.monotonic())

    def as_dict(self) -> dict[str, Any]:
        def between(start: float | None, end: float | None) -> int | None:
            return None if start is None or end is None else round((end - start) * 1000)

        return {
            "endpoint_ms": None if self.typed else between(self.speech_end, self.turn_detected),
            "stt_ms": None if self.typed else between(self.turn_detected, self.transcript_ready),
            "llm_ttft_ms": between(self.llm_started, self.llm_first_token),
            "tts_ttfb_ms": between(self.tts_started, self.tts_first_byte),
            "first_audio_ms": between(self.speech_end, self.first_audio),
        }


STAGES = {"stt": "stt_ms", "llm_ttft": "llm_ttft_ms", "tts_ttfb": "tts_ttfb_ms", "first_audio": "first_audio_ms"}


class VoiceStats:
    """The instance's voice figures on /metrics: sessions open now, and each turn's provider
    latencies (`stage`: stt, llm_ttft, tts_ttfb, and first_audio from the end of speech)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.sessions = Gauge("sparring_voice_sessions", "Voice sessions open on this instance",
                              registry=registry, multiprocess_mode="livesum")
        self.latency = Histogram("sparring_voice_stage_seconds", "Voice turn latency by stage (provider calls)",
                                 ["stage"], registry=registry,
                                 buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10))

    def turn(self, timings: dict[str, Any]) -> None:
        for stage, key in STAGES.items():
            value = timings.get(key)
            if value is not None:
                self.latency.labels(stage).observe(value / 1000)
