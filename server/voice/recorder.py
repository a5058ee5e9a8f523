"""Recording both sides of a voice connection for later review (a dealership setting, off by default).

A `Recorder` exists only when the session's dealership records audio; the session calls it at a
few points: each batch of admitted microphone frames, each reply chunk once it has been sent (the
`tap` around the send function), the start of a reply, the end of each turn and the end of the
connection. Buffering is a list append on the event loop; finished clips go to `sink`, which
writes them from a supervised background task, so the per-frame path never touches the database.

Timeline: every clip has an `offset_ms` on the session's recording timeline (`base_ms` plus
monotonic time since the connection opened). The microphone is recorded as one continuous track,
cut into clips at the end of each turn; audio that resumes after a gap (the client stopped
sending, the reply stream ran dry) starts a new clip at its own time, so mixing the clips back
together keeps both sides in step. Memory and storage are bounded: a clip is cut when it reaches
`clip_max_s`, and each side records at most `max_s` per connection.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from server.recording.models import Side
from server.voice.audio import SAMPLE_WIDTH, duration_ms

log = logging.getLogger(__name__)

GAP_MS = 300  # audio that starts later than this after the previous audio's end opens a new clip


@dataclass(frozen=True, slots=True)
class Clip:
    side: Side
    sample_rate: int
    offset_ms: int
    pcm: bytes
    message_id: uuid.UUID | None

    @property
    def duration_ms(self) -> int:
        return round(duration_ms(self.pcm, self.sample_rate))


Sink = Callable[[list[Clip]], None]
Send = Callable[[bytes], Awaitable[None]]


class Track:
    """One side's buffered audio: the clip being recorded and where the last audio ended."""

    def __init__(self, side: Side, sample_rate: int, *, clip_max_s: float, max_s: float) -> None:
        self.side = side
        self.sample_rate = sample_rate
        self._clip_max = _whole_samples(sample_rate * SAMPLE_WIDTH * clip_max_s)
        self._budget = _whole_samples(sample_rate * SAMPLE_WIDTH * max_s)
        self._chunks: list[bytes] = []
        self._size = 0
        self._start_ms = 0.0
        self._end_ms: float | None = None
        self.truncated = False

    @property
    def buffered(self) -> int:
        return self._size

    def add(self, pcm: bytes, at_ms: float, message_id: uuid.UUID | None) -> list[Clip]:
        """Buffers `pcm`, which starts at `at_ms` on the timeline; returns clips that are finished."""
        done: list[Clip] = []
        if self._end_ms is not None and at_ms - self._end_ms > GAP_MS:
            done += self.take(message_id)
            self._end_ms = None
        if len(pcm) > self._budget:
            pcm = pcm[:self._budget]
            self.truncated = True
        if not pcm:
            return done
        if not self._chunks:
            self._start_ms = at_ms if self._end_ms is None else self._end_ms
        self._chunks.append(pcm)
        self._size += len(pcm)
        self._budget -= len(pcm)
        self._end_ms = self._start_ms + duration_ms(self._size, self.sample_rate)
        if self._size >= self._clip_max:
            done += self.take(message_id)
        return done

    def take(self, message_id: uuid.UUID | None) -> list[Clip]:
        """The buffered audio as a clip (none if empty); later audio continues where it ended."""
        if not self._chunks:
            return []
        clip = Clip(self.side, self.sample_rate, round(self._start_ms), b"".join(self._chunks), message_id)
        self._chunks, self._size = [], 0
        return [clip]


class Recorder:
    def __init__(self, sink: Sink, *, input_rate: int, output_rate: int, base_ms: int = 0,
                 clip_max_s: float = 60.0, max_s: float = 1800.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._sink = sink
        self._clock = clock
        self._opened = clock()
        self._base_ms = base_ms
        self.user = Track(Side.user, input_rate, clip_max_s=clip_max_s, max_s=max_s)
        self.assistant = Track(Side.assistant, output_rate, clip_max_s=clip_max_s, max_s=max_s)
        self._message_id: uuid.UUID | None = None
        self._warned = False

    def now_ms(self) -> float:
        return self._base_ms + (self._clock() - self._opened) * 1000

    def user_audio(self, frames: list[bytes]) -> None:
        if not frames:
            return
        pcm = frames[0] if len(frames) == 1 else b"".join(frames)
        # The frames were captured just before they arrived: they end now.
        at_ms = self.now_ms() - duration_ms(pcm, self.user.sample_rate)
        self._flush(self.user.add(pcm, at_ms, self._message_id))

    def reply_started(self, message_id: uuid.UUID) -> None:
        self._flush(self.assistant.take(self._message_id))
        self._message_id = message_id

    def tap(self, send: Send) -> Send:
        """`send`, recording each chunk once it has gone out (a cancelled send records nothing)."""
        async def send_and_record(chunk: bytes) -> None:
            await send(chunk)
            self._flush(self.assistant.add(chunk, self.now_ms(), self._message_id))
        return send_and_record

    def turn_done(self) -> None:
        """The end of a turn (answered, interrupted, failed or merged): both sides' clips go out."""
        self._flush([*self.user.take(self._message_id), *self.assistant.take(self._message_id)])
        self._message_id = None

    def close(self) -> None:
        self.turn_done()

    def _flush(self, clips: list[Clip]) -> None:
        if clips:
            self._sink(clips)
        if not self._warned and (self.user.truncated or self.assistant.truncated):
            self._warned = True
            log.warning("voice recording reached its length cap; the rest is not recorded")


def _whole_samples(size: float) -> int:
    return int(size) // SAMPLE_WIDTH * SAMPLE_WIDTH
