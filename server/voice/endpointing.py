"""How long a silence ends the user's turn, from the words said so far (the segment transcripts).

A finished sentence or question ends after a short silence; words that trail off ("and...",
"um", "so the thing is") wait longer, so a pause to think does not hand the turn over; anything
else keeps the default. Rules, not a model: they run in microseconds, need no download, and
their mistakes are easy to read and fix.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass


class Ending(enum.Enum):
    complete = "complete"
    trailing = "trailing"
    unknown = "unknown"


# Words after which the sentence cannot be over, whatever the punctuation: conjunctions,
# prepositions, articles, fillers.
TRAILING_WORDS = frozenset("""
    and or but so because cause if than which whose although though unless until of to for with
    about from into onto between through the a an my your our their um uhm uh er erm ah hmm mm like
    basically
""".split())  # noqa: SIM905 (a word list reads best as prose)
# Words that end a sentence only rarely ("that's what it is."): trailing unless the transcript
# closes the sentence with punctuation.
_OPEN_WORDS = frozenset("""
    that who whom where when while then as in on at by over under his her its this these those some
    any every well actually i i'm you we they he she it's is are was were be been being have has had
    do does did can could would should will shall might must thing things kind sort mean just really
    also even maybe want wants wanted need needs get gets take takes buy pay see try looking thinking
    wondering going gonna wanna
""".split())  # noqa: SIM905 (a word list reads best as prose)
# Short closing phrases that are a whole turn even without a verb.
_COMPLETE_SHORT = frozenset({"yes", "no", "okay", "ok", "sure", "thanks", "thank you", "right", "exactly",
                             "got it", "sounds good", "deal", "fine", "great", "perfect", "absolutely", "yeah", "yep",
                             "uh huh", "mm hmm", "i see", "no thanks", "all right", "alright"})
_WORD = re.compile(r"[a-z0-9']+")


def classify(text: str) -> Ending:
    """Complete, trailing off, or no opinion, for the transcript of the turn so far."""
    stripped = text.strip()
    if not stripped:
        return Ending.unknown
    words = _WORD.findall(stripped.lower().replace("-", " "))
    if not words:
        return Ending.unknown
    if stripped.endswith(("...", "\u2026", ",", "-", "\u2014", ";", ":")):
        return Ending.trailing
    if words[-1] in TRAILING_WORDS:
        return Ending.trailing
    closed = stripped.endswith((".", "?", "!"))
    if words[-1] in _OPEN_WORDS and not closed:
        return Ending.trailing
    if stripped.endswith(("?", "!")):
        return Ending.complete
    if stripped.endswith(".") and len(words) >= 3:
        return Ending.complete
    if " ".join(words) in _COMPLETE_SHORT:
        return Ending.complete
    return Ending.unknown


@dataclass(frozen=True, slots=True)
class EndOfTurn:
    min_ms: int = 250  # after a complete sentence or question
    default_ms: int = 500
    max_ms: int = 1200  # after words that trail off; also while the last words are being transcribed

    def silence_ms(self, text: str) -> int:
        ending = classify(text)
        if ending is Ending.complete:
            return self.min_ms
        if ending is Ending.trailing:
            return self.max_ms
        return self.default_ms
