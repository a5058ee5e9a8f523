"""Barge-in with false-interruption recovery: is the speech over a reply a real interruption?

The session pauses the reply when the user has spoken `barge_in_ms` over it, then asks
`decide` as words and silence come in. A backchannel ("uh-huh", "right", "I see"), a cough (no
words) or speech that stops within `false_interruption_ms` without real words resumes the reply
where it paused; words beyond the list, or speech that goes on past the timeout, interrupt it.
"""

from __future__ import annotations

import enum
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

DEFAULT_BACKCHANNELS = (
    "uh-huh", "uh huh", "mm-hmm", "mhm", "mm", "hmm", "yeah", "yes", "yep", "yup", "right", "okay", "ok",
    "alright", "all right", "i see", "sure", "got it", "oh", "ah", "uh", "um", "oh really", "really", "wow",
    "cool", "nice", "true", "exactly", "of course", "makes sense", "go on", "sure thing",
)
_TOKEN = re.compile(r"[a-z0-9']+")


def _tokens(text: str) -> tuple[str, ...]:
    # Hyphens and punctuation are the STT's spelling choice: "Uh-huh." and "uh huh" are the same.
    return tuple(_TOKEN.findall(text.lower().replace("-", " ")))


class Backchannels:
    """The configured phrases; `only` says whether a transcript is made of them and nothing else."""

    def __init__(self, phrases: Iterable[str] = DEFAULT_BACKCHANNELS) -> None:
        self._phrases = {t for t in (_tokens(p) for p in phrases) if t}
        # Spelled together too ("uhhuh", "mmhmm"): STTs write them both ways.
        self._phrases |= {("".join(t),) for t in self._phrases if len(t) > 1}
        self._longest = max((len(t) for t in self._phrases), default=0)

    @classmethod
    def parse(cls, setting: str) -> Backchannels:
        """`VOICE_BACKCHANNEL_WORDS`: phrases separated by commas."""
        return cls(p for p in setting.split(",") if p.strip())

    def only(self, text: str) -> bool:
        """True when every word belongs to a listed phrase (or there are no words at all)."""
        words = _tokens(text)
        # Can words[:i] be cut into listed phrases? (a few words: a tiny dynamic programme)
        covered = [True] + [False] * len(words)
        for end in range(1, len(words) + 1):
            for size in range(1, min(self._longest, end) + 1):
                if covered[end - size] and words[end - size:end] in self._phrases:
                    covered[end] = True
                    break
        return covered[-1]


class Verdict(enum.Enum):
    wait = "wait"  # not known yet: stay paused
    resume = "resume"  # a backchannel, a cough, or a short sound without words
    interrupt = "interrupt"


def decide(words: str | None, *, speech_over: bool, speaking_ms: float, timeout_ms: float,
           backchannels: Backchannels) -> Verdict:
    """`words`: the transcript of the speech so far (None while none has come back);
    `speech_over`: the user has stopped and `words` covers all of it;
    `speaking_ms`: how long the user has been talking since the pause."""
    if words is not None and not backchannels.only(words):
        return Verdict.interrupt
    if speech_over:
        return Verdict.resume
    if speaking_ms >= timeout_ms:
        return Verdict.interrupt  # too long for a backchannel, whatever the words
    return Verdict.wait


@dataclass(slots=True)
class Paused:
    """One paused reply, while the session listens to what interrupted it."""

    message_id: str
    at_ms: float  # the client's playback position when it paused
    since: float = field(default_factory=time.monotonic)
    words: str | None = None  # the latest transcript of the speech so far
    probes: int = 0  # transcriptions started for it
    probing: bool = False  # one in flight
    probed_ms: int = 0  # how much speech the latest probe covered
    settling: bool = False  # the speech ended; its final transcript is being made

    def speaking_ms(self) -> float:
        return (time.monotonic() - self.since) * 1000
