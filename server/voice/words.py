"""Word timings of reply speech: which word is heard when, in ms from the start of the audio.

Providers give them in two shapes: per character (ElevenLabs' `alignment`, grouped here into
words at whitespace) or per word (eSpeak NG's word events). Either way a word is handed on only
once it is whole, so its end is known; the words of one piece, joined by spaces, are its text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    start_ms: float
    end_ms: float

    def shifted(self, ms: float) -> Word:
        return Word(self.text, self.start_ms + ms, self.end_ms + ms)

    def as_json(self) -> dict[str, Any]:
        return {"text": self.text, "start_ms": round(self.start_ms), "end_ms": round(self.end_ms)}


class AlignmentWords:
    """Characters with start and end seconds, pushed as they stream in -> whole words.

    A word ends at the whitespace after it (or the end of the stream), so one cut across two
    audio chunks comes out with the second."""

    def __init__(self) -> None:
        self._chars: list[str] = []
        self._start_ms = 0.0
        self._end_ms = 0.0

    def push(self, characters: Sequence[str], starts_s: Sequence[float], ends_s: Sequence[float]) -> list[Word]:
        words: list[Word] = []
        for char, start, end in zip(characters, starts_s, ends_s, strict=False):
            if char.isspace():
                words.extend(self._complete())
                continue
            if not self._chars:
                self._start_ms = start * 1000
            self._chars.append(char)
            self._end_ms = max(self._end_ms, end * 1000)
        return words

    def flush(self) -> list[Word]:
        return self._complete()

    def _complete(self) -> list[Word]:
        if not self._chars:
            return []
        word = Word("".join(self._chars), self._start_ms, max(self._end_ms, self._start_ms))
        self._chars, self._end_ms = [], 0.0
        return [word]


def words_from_marks(text: str, marks: Sequence[tuple[int, float]], ends: Sequence[float],
                     total_ms: float) -> list[Word]:
    """Whitespace-separated words of `text` timed by a synthesizer's word marks.

    `marks` are (character offset in `text`, start ms) of each word the synthesizer spoke, in
    order; `ends` are the times at which it ended a clause or sentence. A word lasts until the
    next mark or clause end, whichever comes first; the last one until `total_ms`. A token the
    synthesizer gave no mark (a lone dash) takes no time, at the end of the word before it, so
    the words still spell the whole text."""
    tokens: list[tuple[str, int, int]] = []
    offset = 0
    for token in text.split():
        at = text.index(token, offset)
        tokens.append((token, at, at + len(token)))
        offset = at + len(token)
    boundaries = sorted({*(ms for _, ms in marks), *ends, total_ms})
    words: list[Word] = []
    previous_end = 0.0
    for token, first, last in tokens:
        starts = [ms for at, ms in marks if first <= at < last]
        if not starts:
            words.append(Word(token, previous_end, previous_end))
            continue
        start = min(starts)
        later = [ms for ms in boundaries if ms > max(starts)]
        end = min(later[0] if later else total_ms, total_ms)
        words.append(Word(token, min(start, end), end))
        previous_end = end
    return words
