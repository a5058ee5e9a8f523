"""What the user actually heard of an interrupted reply, from the TTS timing of each piece and
the client's playback position. Within a piece, time is spread over the characters (ElevenLabs'
HTTP stream carries no word timestamps); the result is cut back to whole words."""

from __future__ import annotations

from dataclasses import dataclass

# Typical speaking rate, for a piece whose audio had not fully arrived when the user cut in.
_MS_PER_CHAR = 65.0


@dataclass(slots=True)
class _Piece:
    text: str
    start_ms: float
    audio_ms: float = 0.0
    complete: bool = False

    @property
    def duration_ms(self) -> float:
        return self.audio_ms if self.complete else max(self.audio_ms, len(self.text) * _MS_PER_CHAR)


class Timeline:
    def __init__(self) -> None:
        self._pieces: list[_Piece] = []

    def begin(self, text: str) -> None:
        start = self._pieces[-1].start_ms + self._pieces[-1].duration_ms if self._pieces else 0.0
        self._pieces.append(_Piece(text=text, start_ms=start))

    def add_audio(self, ms: float) -> None:
        self._pieces[-1].audio_ms += ms

    def complete(self) -> None:
        self._pieces[-1].complete = True

    @property
    def total_ms(self) -> float:
        return sum(p.duration_ms for p in self._pieces)

    def heard_text(self, played_ms: float) -> str:
        heard: list[str] = []
        for piece in self._pieces:
            if played_ms >= piece.start_ms + piece.duration_ms:
                heard.append(piece.text)
                continue
            if played_ms > piece.start_ms and piece.duration_ms > 0:
                fraction = (played_ms - piece.start_ms) / piece.duration_ms
                partial = _whole_words(piece.text, int(len(piece.text) * fraction))
                if partial:
                    heard.append(partial)
            break
        return " ".join(heard)


def _whole_words(text: str, chars: int) -> str:
    if chars >= len(text):
        return text
    cut = text[:chars]
    # A word counts as heard only if it was heard to its end.
    if chars < len(text) and not text[chars].isspace():
        cut = cut.rsplit(None, 1)[0] if " " in cut.strip() else ""
    return cut.strip()
