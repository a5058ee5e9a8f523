"""What the user actually heard of a reply: the synthesizer's word timings, cut at the client's
playback position. A word counts as heard once it has played to its end; a piece whose
synthesizer gave no timings counts only once all of its audio has played."""

from __future__ import annotations

from dataclasses import dataclass, field

from server.voice.words import Word


@dataclass(slots=True)
class _Piece:
    text: str
    start_ms: float
    audio_ms: float = 0.0
    complete: bool = False
    words: list[Word] = field(default_factory=list)  # ms from the start of the reply's audio


class SpokenWords:
    """The reply's pieces in the order they play, each with its audio length and timed words."""

    def __init__(self) -> None:
        self._pieces: list[_Piece] = []

    def begin(self, text: str) -> float:
        """A new piece starts where the audio so far ends; returns that offset (ms)."""
        start = self.total_ms
        self._pieces.append(_Piece(text=text, start_ms=start))
        return start

    def add(self, audio_ms: float, words: tuple[Word, ...] | list[Word]) -> list[Word]:
        """Adds a chunk of the current piece; returns its words on the reply's clock."""
        piece = self._pieces[-1]
        piece.audio_ms += audio_ms
        placed = [word.shifted(piece.start_ms) for word in words]
        piece.words.extend(placed)
        return placed

    def complete(self) -> None:
        self._pieces[-1].complete = True

    @property
    def total_ms(self) -> float:
        return sum(p.audio_ms for p in self._pieces)

    def heard_text(self, played_ms: float) -> str:
        heard: list[str] = []
        for piece in self._pieces:
            if piece.complete and played_ms >= piece.start_ms + piece.audio_ms:
                heard.append(piece.text)
                continue
            # On the whole-ms clock the client is given (`audio.words`): a client reporting a word's
            # end as sent has heard that word, even when its exact end is a fraction later.
            heard.extend(word.text for word in piece.words if round(word.end_ms) <= played_ms)
            break
        return " ".join(heard)
