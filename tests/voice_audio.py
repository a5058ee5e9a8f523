"""Speech-like test audio: eSpeak NG speech (through the pip loader) padded with silence."""

from __future__ import annotations

from functools import cache

from server.voice.audio import frame_bytes, resample, silence
from server.voice.espeak import Espeak


@cache
def speech(text: str, rate: int = 16000) -> bytes:
    pcm, source_rate = Espeak.synthesize(text)
    pcm = resample(pcm, source_rate, rate)
    return pcm[: len(pcm) - len(pcm) % frame_bytes(rate)]


def utterance(text: str, *, before_ms: int = 300, after_ms: int = 1000, rate: int = 16000) -> bytes:
    return silence(before_ms, rate) + speech(text, rate) + silence(after_ms, rate)


def frames(pcm: bytes, rate: int = 16000) -> list[bytes]:
    size = frame_bytes(rate)
    return [pcm[i:i + size] for i in range(0, len(pcm) - size + 1, size)]
