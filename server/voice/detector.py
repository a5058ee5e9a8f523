"""The frame classifier behind the Endpointer: one 20 ms PCM16 frame in, speech or not out.

Two implementations (`VOICE_VAD`): WebRTC's GMM detector (`webrtcvad-wheels`, ~10 us of C per
frame, a few hundred bytes per session) and Silero (`server/voice/vad_silero.py`, an ONNX model).
The comparison that picked the default is `tests/bench/vad_eval.py` (docs/benchmarks.md).
"""

from __future__ import annotations

from typing import Literal, Protocol

import webrtcvad

VadEngine = Literal["webrtc", "silero"]


class SpeechDetector(Protocol):
    def is_speech(self, frame: bytes) -> bool:
        """One frame of PCM16 mono at the detector's sample rate; consecutive calls are one stream."""
        ...

    def reset(self) -> None:
        """Forget the stream so far (a new, unrelated stream follows)."""
        ...


class WebrtcDetector:
    def __init__(self, sample_rate: int, aggressiveness: int = 2) -> None:
        self.sample_rate = sample_rate
        self._vad = webrtcvad.Vad(aggressiveness)

    def is_speech(self, frame: bytes) -> bool:
        return bool(self._vad.is_speech(frame, self.sample_rate))

    def reset(self) -> None:
        """The GMM keeps no state between frames that matters here."""


def make_detector(engine: VadEngine, sample_rate: int, *, aggressiveness: int = 2,
                  threshold: float = 0.5) -> SpeechDetector:
    if engine == "silero":
        from server.voice.vad_silero import SileroDetector  # its native library loads only when chosen

        return SileroDetector(sample_rate, threshold=threshold)
    return WebrtcDetector(sample_rate, aggressiveness)


def preload(engine: VadEngine) -> None:
    """Load the engine's model now (at startup), not in the first session's audio path."""
    if engine == "silero":
        from server.voice.vad_silero import shared_session

        shared_session()
