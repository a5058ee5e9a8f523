"""Per-turn timings, all measured from the end of the user's speech (or a typed text's arrival)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any


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
