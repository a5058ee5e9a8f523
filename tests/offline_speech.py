"""Spoken test sentences in several voices and speeds, and word error rate, for the offline
voice tests (tests/test_voice_offline.py, tests/test_voice_offline_e2e.py) and the benchmark."""

from __future__ import annotations

import re
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path

from server.voice.audio import resample
from server.voice.espeak import Espeak
from server.voice.offline.piper import PiperSynthesizer

SENTENCES_FILE = Path(__file__).parent / "fixtures" / "speech" / "dealership_sentences.txt"


def sentences() -> list[str]:
    lines = SENTENCES_FILE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@dataclass(frozen=True, slots=True)
class Voice:
    engine: str  # "espeak" or "piper"
    name: str = ""  # eSpeak NG voice and variant
    words_per_minute: int = 175

    def __str__(self) -> str:
        return "piper joe" if self.engine == "piper" else f"espeak {self.name} {self.words_per_minute} wpm"


# Four voices, three speeds: each sentence of the set is spoken by the next voice in turn.
VOICES = (Voice("espeak", "en-us", 175), Voice("espeak", "en-gb+m3", 140),
          Voice("espeak", "en-us+f3", 210), Voice("piper"))


async def spoken(text: str, voice: Voice, piper: PiperSynthesizer, rate: int = 16000) -> bytes:
    if voice.engine == "piper":
        async with aclosing(piper.stream(text, rate)) as chunks:
            return b"".join([chunk async for chunk in chunks])
    pcm, source_rate = Espeak.synthesize(text, voice=voice.name, words_per_minute=voice.words_per_minute)
    return resample(pcm, source_rate, rate)


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
