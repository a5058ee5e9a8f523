"""Paced sending: reply audio leaves in chunks of at most 40 ms, a small lead ahead of real time.

The client then never holds more than the lead (plus one chunk) of audio we have not taken back,
so an interruption silences it within ~100 ms, while the lead absorbs network jitter.

`pause` holds the sending between two chunks (the client holds what it has, see
`playback.pause`); `resume` goes on from the very next byte, with the pacing clock moved on by the
pause so nothing is sent in a burst to "catch up".
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from server.voice.audio import SAMPLE_WIDTH, duration_ms


class PacedSender:
    def __init__(self, send: Callable[[bytes], Awaitable[None]], sample_rate: int, *, chunk_ms: int = 40,
                 lead_ms: int = 60, clock: Callable[[], float] = time.monotonic) -> None:
        self._send = send
        self._rate = sample_rate
        self._chunk_bytes = sample_rate * chunk_ms // 1000 * SAMPLE_WIDTH
        self._lead_ms = lead_ms
        self._clock = clock
        self._started: float | None = None
        self.sent_ms = 0.0
        self.underruns = 0  # times the client would have run dry while more audio was coming
        self.first_sent_at: float | None = None
        self._running = asyncio.Event()
        self._running.set()
        self._paused_at: float | None = None
        self._played_at_pause = 0.0
        self._pauses: list[tuple[float, float]] = []  # (start, end) of each pause that ended

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    def pause(self) -> float:
        """Stop after the chunk in flight; returns how far the client had played (estimate)."""
        if self._paused_at is None:
            self._played_at_pause = self.played_estimate_ms()
            self._paused_at = self._clock()
            self._running.clear()
        return self._played_at_pause

    def resume(self) -> None:
        if self._paused_at is None:
            return
        now = self._clock()
        self._pauses.append((self._paused_at, now))
        if self._started is not None:
            # The client held what it had: it is where it was at the pause, now.
            self._started = now - self._played_at_pause / 1000
        self._paused_at = None
        self._running.set()

    def playing_ms_since(self, since: float) -> float:
        """Wall time from `since` to now that the client spent playing (pauses taken out)."""
        now = self._clock()
        spans = [*self._pauses, *([(self._paused_at, now)] if self._paused_at is not None else [])]
        paused = sum(max(0.0, end - max(start, since)) for start, end in spans if end > since)
        return max(0.0, (now - since - paused) * 1000)

    async def play(self, pcm: bytes) -> None:
        for start in range(0, len(pcm), self._chunk_bytes):
            chunk = pcm[start:start + self._chunk_bytes]
            await self._running.wait()
            await self._wait_for_slot()
            await self._running.wait()  # paused during the wait for the slot
            await self._send(chunk)
            if self.first_sent_at is None:
                self.first_sent_at = self._clock()
            self.sent_ms += duration_ms(chunk, self._rate)

    def played_estimate_ms(self) -> float:
        """How far the client has got, if it plays what it receives at once."""
        if self._started is None:
            return 0.0
        if self._paused_at is not None:
            return self._played_at_pause
        return min(self.sent_ms, (self._clock() - self._started) * 1000)

    async def _wait_for_slot(self) -> None:
        now = self._clock()
        if self._started is None:
            self._started = now
            return
        elapsed_ms = (now - self._started) * 1000
        if elapsed_ms > self.sent_ms:
            # The client's buffer ran dry: restart the clock rather than burst to catch up.
            self.underruns += 1
            self._started = now - self.sent_ms / 1000
            return
        ahead_ms = self.sent_ms - elapsed_ms
        if ahead_ms > self._lead_ms:
            await asyncio.sleep((ahead_ms - self._lead_ms) / 1000)
