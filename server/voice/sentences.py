"""Sentence aggregation: a stream of LLM text deltas -> pieces worth sending to TTS.

A piece is cut at the end of a sentence, or at a clause boundary once the buffer is long (so a
long first sentence does not hold back the first audio). Very short sentences ("Sure.") are
joined with the next one, because a TTS request per two words sounds choppy.
"""

from __future__ import annotations

import re

_ABBREVIATIONS = frozenset({"mr", "mrs", "ms", "dr", "st", "vs", "etc", "e.g", "i.e", "no", "approx", "jr", "sr"})
_SENTENCE_END = re.compile(r"[.!?…]+[\"')\]]*(?=\s)")
_CLAUSE_END = re.compile(r"[,;:\u2014]\s|\s[-\u2013]\s")


class SentenceAggregator:
    def __init__(self, *, min_chars: int = 12, clause_chars: int = 60, first_clause_chars: int = 40) -> None:
        self._min_chars = min_chars
        self._clause_chars = clause_chars
        self._first_clause_chars = first_clause_chars
        self._buffer = ""
        self._emitted = 0

    def push(self, delta: str) -> list[str]:
        self._buffer += delta
        pieces: list[str] = []
        while (piece := self._next_piece()) is not None:
            pieces.append(piece)
        return pieces

    def flush(self) -> list[str]:
        rest, self._buffer = self._buffer.strip(), ""
        if rest:
            self._emitted += 1
            return [rest]
        return []

    def _next_piece(self) -> str | None:
        for match in _SENTENCE_END.finditer(self._buffer):
            end = match.end()
            candidate = self._buffer[:end].strip()
            if self._is_abbreviation(candidate) or len(candidate) < self._min_chars:
                continue
            return self._cut(end)
        limit = self._first_clause_chars if self._emitted == 0 else self._clause_chars
        if len(self._buffer) >= limit:
            clauses = [m for m in _CLAUSE_END.finditer(self._buffer) if m.start() >= self._min_chars]
            if clauses:
                return self._cut(clauses[-1].start() + 1)
        return None

    def _cut(self, end: int) -> str:
        piece, self._buffer = self._buffer[:end].strip(), self._buffer[end:]
        self._emitted += 1
        return piece

    @staticmethod
    def _is_abbreviation(text: str) -> bool:
        last_word = text.rsplit(None, 1)[-1].rstrip(".").lower()
        return last_word in _ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha())
