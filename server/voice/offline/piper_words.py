"""Which word of the text Piper speaks when: its phonemes' durations mapped onto the text's words.

Piper phonemizes with espeak-ng, whose phoneme words are not the text's words: it joins
unstressed words to their neighbours ("in the" -> "ɪnðə", "look at it" -> "lˈʊk ˈæɾɪt"), reads
one token as several words ("$450" -> "dˈɑːlɚ fˈɔːɹhˈʌndɹɪd fˈɪfti") and says some differently in
context ("a" -> "ɐ", "e.g." -> "for example"). So each whitespace token of the text is
phonemized on its own, and those phonemes, each labelled with its token, are aligned with the
spoken sentences' phonemes (difflib, stress marks left out: they move with context): a spoken
phoneme takes the token of the one it matched. Spoken phonemes that matched nothing lie between
two matched tokens: those in the same phoneme word as a matched one belong to its token, the
rest to the tokens in between (a token said differently in context), else to the next token.

The times are the synthesizer's own: each phoneme's samples from the voice's duration
predictor (`durations.phoneme_spans`), on the clock of the text's audio (the sentences one after
another at Piper's rate). A word lasts from its first phoneme to its last, so the pauses at
spaces and punctuation belong to no word; a token with no phoneme of its own (a lone dash) takes
no time, at the end of the word before it. The words, joined by spaces, spell the text.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from server.voice.offline.durations import phoneme_spans
from server.voice.words import Word

_STRESS = frozenset("ˈˌ")
Phonemize = Callable[[str], list[list[str]]]


def _separator(phoneme: str) -> bool:
    return phoneme.isspace() or unicodedata.category(phoneme[:1]).startswith("P")


class PiperWords:
    """The text's words timed sentence by sentence, as Piper synthesises them.

    `sentences` are Piper's phonemes of the text, one list per sentence it will synthesise (what
    `PiperVoice.phonemize(text)` returns, empty sentences left out as `synthesize` leaves them
    out); `phonemize` phonemizes one token the same way."""

    def __init__(self, text: str, sentences: Sequence[Sequence[str]], phonemize: Phonemize) -> None:
        self.tokens = text.split()
        self.sentences = [list(s) for s in sentences]
        # One entry per spoken phoneme, per sentence: the token it belongs to (None: a space or
        # punctuation, whose time belongs to no word).
        self._owner: list[list[int | None]] = [[None] * len(s) for s in self.sentences]
        self._times: dict[int, tuple[float, float]] = {}  # token -> (start, end) samples
        self._last: list[tuple[int, int] | None] = [None] * len(self.tokens)  # token -> its last (sentence, phoneme)
        self._next = 0  # the first token not handed on yet
        self._end = 0.0  # end of the last word handed on (samples)
        self._offset = 0  # samples of the sentences synthesised so far
        self._sentence = 0
        self._assign(phonemize)

    def _assign(self, phonemize: Phonemize) -> None:
        # The spoken phonemes: (sentence, index, phoneme word) of each sound (not a separator).
        units: list[tuple[int, int, int]] = []
        marks: list[tuple[int, int, int]] = []
        group = 0
        for s, phonemes in enumerate(self.sentences):
            group += 1
            for p, phoneme in enumerate(phonemes):
                if _separator(phoneme):
                    group += 1
                elif phoneme in _STRESS:
                    marks.append((s, p, group))
                else:
                    units.append((s, p, group))
        spoken = [self.sentences[s][p] for s, p, _ in units]
        isolated: list[str] = []
        labels: list[int] = []
        for token_index, text in enumerate(self.tokens):
            for phoneme in (p for sentence in phonemize(text) for p in sentence):
                if not _separator(phoneme) and phoneme not in _STRESS:
                    isolated.append(phoneme)
                    labels.append(token_index)
        owner: list[int | None] = [None] * len(units)
        matcher = difflib.SequenceMatcher(None, isolated, spoken, autojunk=False)
        for block in matcher.get_matching_blocks():
            for k in range(block.size):
                owner[block.b + k] = labels[block.a + k]
        self._fill(owner, [g for _, _, g in units])
        for (s, p, _), token in zip(units, owner, strict=True):
            self._owner[s][p] = token
        # A stress mark goes with the sound after it in its phoneme word (else the one before).
        groups = {(s, p): g for s, p, g in units}
        for s, p, g in marks:
            after = next((self._owner[s][q] for q in range(p + 1, len(self.sentences[s]))
                          if groups.get((s, q)) == g), None)
            before = next((self._owner[s][q] for q in range(p - 1, -1, -1) if groups.get((s, q)) == g), None)
            self._owner[s][p] = after if after is not None else before
        for s, owners in enumerate(self._owner):
            for p, token in enumerate(owners):
                if token is not None:
                    self._last[token] = (s, p)

    def _fill(self, owner: list[int | None], groups: list[int]) -> None:
        """Gives each unmatched sound a token, keeping tokens in order along the speech."""
        i = 0
        while i < len(owner):
            if owner[i] is not None:
                i += 1
                continue
            j = i
            while j < len(owner) and owner[j] is None:
                j += 1
            before = owner[i - 1] if i > 0 else None
            after = owner[j] if j < len(owner) else None
            left = before if before is not None else -1
            right = after if after is not None else len(self.tokens)
            between = list(range(left + 1, right))
            rest: list[int] = []
            for k in range(i, j):
                if before is not None and groups[k] == groups[i - 1]:
                    owner[k] = before
                elif after is not None and groups[k] == groups[j]:
                    owner[k] = after
                else:
                    rest.append(k)
            if rest:
                if between:
                    # Tokens said differently in context: the rest's phoneme words, in order,
                    # one token each as far as they go, the last token taking what remains.
                    words = sorted({groups[k] for k in rest})
                    for k in rest:
                        owner[k] = between[min(words.index(groups[k]), len(between) - 1)]
                else:
                    target = after if after is not None else before
                    for k in rest:
                        owner[k] = target
            i = j

    def sentence(self, phonemes: Sequence[str], id_samples: np.ndarray | None, id_map: Mapping[str, Sequence[int]],
                 audio_samples: int, sample_rate: int) -> list[Word]:
        """The words the next synthesised sentence completes, ms from the start of the text's
        audio. Without durations (a model that cannot give them) or for a sentence other than
        the one planned, nothing is timed from then on."""
        s = self._sentence
        self._sentence += 1
        offset = self._offset
        self._offset += audio_samples
        if id_samples is None or s >= len(self.sentences) or list(phonemes) != self.sentences[s]:
            self._next = len(self.tokens)
            return []
        for p, (start, end) in enumerate(phoneme_spans(phonemes, id_samples, id_map)):
            token = self._owner[s][p]
            if token is None:
                continue
            first, last = self._times.get(token, (offset + start, offset + end))
            self._times[token] = (min(first, offset + start), max(last, offset + end))
        return self._hand_on(s + 1, sample_rate)

    def rest(self, sample_rate: int) -> list[Word]:
        """The words not handed on yet once every sentence is synthesised."""
        return self._hand_on(len(self.sentences), sample_rate)

    def _hand_on(self, done: int, sample_rate: int) -> list[Word]:
        """Hands on, in order, every token whose last phoneme lies in the first `done` sentences."""
        words: list[Word] = []
        while self._next < len(self.tokens):
            token, last = self._next, self._last[self._next]
            if last is not None and last[0] >= done:
                break  # its last phoneme is in a sentence still to come
            if token in self._times:
                start, end = self._times[token]
                start = max(start, self._end)
                end = max(end, start)
            else:  # no phoneme of its own: no time, at the end of the word before
                start = end = self._end
            self._end = end
            words.append(Word(self.tokens[token], start * 1000 / sample_rate, end * 1000 / sample_rate))
            self._next += 1
        return words
