"""Spoken test sentences in several voices and speeds, and word error rate, for the offline
voice tests (tests/test_voice_offline.py, tests/test_voice_offline_e2e.py) and the benchmark."""

from __future__ import annotations

import asyncio
import re
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path

from server.voice.audio import resample
from server.voice.espeak import Espeak
from server.voice.offline import models
from server.voice.offline.piper import PiperSynthesizer

SENTENCES_FILE = Path(__file__).parent / "fixtures" / "speech" / "dealership_sentences.txt"


def sentences() -> list[str]:
    lines = SENTENCES_FILE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@dataclass(frozen=True, slots=True)
class Voice:
    engine: str  # "espeak" or "piper"
    name: str = ""  # eSpeak NG voice and variant
    words_per_minute: int = 175  # eSpeak NG
    length_scale: float = 1.0  # Piper: > 1 slower, < 1 faster

    def __str__(self) -> str:
        if self.engine == "piper":
            return f"piper joe x{1 / self.length_scale:.2f} speed"
        return f"espeak {self.name} {self.words_per_minute} wpm"


# The test set's voices: Piper (the neural voice, closest to a person) at three speeds and eSpeak
# NG's US voice; each sentence is spoken by the next voice in turn. eSpeak's other voices and
# speeds are harder for Whisper tiny.en (WER 15-19 %, docs/benchmarks.md): they are measured in
# tests/bench/offline_voice.py, not asserted.
VOICES = (Voice("piper"), Voice("espeak", "en-us", 175), Voice("piper", length_scale=0.8),
          Voice("piper", length_scale=1.25))
ESPEAK_VOICES = (Voice("espeak", "en-us", 140), Voice("espeak", "en-us", 210), Voice("espeak", "en-gb+m3", 140),
                 Voice("espeak", "en-us+f3", 210))


async def spoken(text: str, voice: Voice, piper: PiperSynthesizer, rate: int = 16000) -> bytes:
    if voice.engine == "piper" and voice.length_scale == 1.0:
        async with aclosing(piper.stream(text, rate)) as chunks:
            return b"".join([chunk.audio async for chunk in chunks])
    if voice.engine == "piper":
        pcm, source_rate = await asyncio.to_thread(_piper_at, text, voice.length_scale)
    else:
        pcm, source_rate = Espeak.synthesize(text, voice=voice.name, words_per_minute=voice.words_per_minute)
    return resample(pcm, source_rate, rate)


def _piper_at(text: str, length_scale: float) -> tuple[bytes, int]:
    from piper import SynthesisConfig

    voice = models.piper.get().model
    chunks = list(voice.synthesize(text, SynthesisConfig(length_scale=length_scale)))
    return b"".join(chunk.audio_int16_bytes for chunk in chunks), chunks[0].sample_rate


_SPELLINGS = {"ok": "okay", "mhm": "mm hmm", "tradein": "trade in"}


def words(text: str) -> list[str]:
    """Lower case, no punctuation, hyphens split ("uh-huh" -> "uh huh", "trade-in" -> "trade in")."""
    text = re.sub(r"[^a-z' ]+", " ", text.lower().replace("-", " "))
    return " ".join(_SPELLINGS.get(word, word) for word in text.split()).split()


def errors(reference: list[str], hypothesis: list[str]) -> int:
    """Word-level edit distance: substitutions + deletions + insertions."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i]
        for j, hyp in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1]


def word_error_rate(pairs: list[tuple[str, str]]) -> float:
    """Over a whole set: all errors / all reference words (the standard corpus WER)."""
    total = sum(len(words(reference)) for reference, _ in pairs)
    return sum(errors(words(reference), words(heard)) for reference, heard in pairs) / total
