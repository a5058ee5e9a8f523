"""Graceful drain: an instance told to stop (SIGTERM) finishes what it is doing before it exits.

On SIGTERM the instance first drains, then lets uvicorn shut down:

1. `/api/ready` answers 503 (`draining`), so the load balancer stops sending it new work;
   requests that still arrive are served.
2. Every voice session finishes the turn in progress (a reply being spoken, speech being
   transcribed, the user mid-sentence) and is then told `reconnect {reason: "server_draining",
   session_id}` and closed with 1012 (service restart): the client resumes it on another
   instance. A turn still running at the deadline is cut and stored as interrupted with what was
   heard, as a barge-in would. A new voice session is refused the same way.
3. When no voice session is left, or `SHUTDOWN_GRACE_S` has passed, uvicorn's own graceful
   shutdown runs: it stops listening and waits for the HTTP requests in flight (a streamed chat)
   for up to the same grace (`sparring serve` sets it), then the app's lifespan closes.

A second SIGTERM skips what is left of the drain. The drain hooks SIGTERM only where uvicorn
has installed its handler (in `sparring serve` and each of its workers); anywhere else (a test
process running the app in place) the host keeps its own.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any, Protocol

log = logging.getLogger(__name__)

_POLL_S = 0.05  # how often the drain looks for sessions that are left (only while stopping)
_CUT_S = 5.0  # at the deadline: for the sessions to cut their turn, store it and say `reconnect`


class Drainable(Protocol):
    async def drain(self, deadline: float) -> None:
        """Finish what is in progress by `deadline` (loop time), then tell the client to move."""


class Drain:
    def __init__(self, grace_s: float) -> None:
        self.grace_s = grace_s
        self.draining = False
        self._sessions: set[Drainable] = set()
        self._told: set[Drainable] = set()
        self._task: asyncio.Task[None] | None = None

    def register(self, session: Drainable) -> None:
        self._sessions.add(session)

    def unregister(self, session: Drainable) -> None:
        self._sessions.discard(session)
        self._told.discard(session)

    @property
    def sessions(self) -> int:
        return len(self._sessions)

    async def run(self) -> None:
        """Drain now: returns when every session is gone, or at the grace's end."""
        self.draining = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.grace_s
        log.info("draining", extra={"voice_sessions": len(self._sessions), "grace_s": self.grace_s})
        telling: set[asyncio.Task[None]] = set()
        try:
            while self._sessions and loop.time() < deadline:
                for session in self._sessions - self._told:  # including any that arrived meanwhile
                    self._told.add(session)
                    task = loop.create_task(session.drain(deadline), name="voice-drain")
                    telling.add(task)
                    task.add_done_callback(telling.discard)
                await asyncio.sleep(_POLL_S)
            if telling:  # the deadline: each session cuts what is left, stores it and sends its client on
                await asyncio.wait(set(telling), timeout=_CUT_S)
        finally:
            for task in list(telling):
                task.cancel()
        log.info("drained", extra={"voice_sessions_left": len(self._sessions)})

    def install(self, on_signal: Callable[[], None] | None = None) -> Callable[[], None]:
        """Hooks SIGTERM if uvicorn owns it (see the module's doc); returns the undo."""
        previous = signal.getsignal(signal.SIGTERM)
        if not _is_uvicorn_handler(previous):
            return lambda: None
        assert callable(previous)
        loop = asyncio.get_running_loop()

        def finish(task: asyncio.Task[None]) -> None:
            previous(signal.SIGTERM, None)  # now uvicorn stops listening and shuts down

        def start() -> None:
            if self._task is not None:
                return
            if on_signal is not None:
                on_signal()
            self._task = loop.create_task(self.run(), name="drain")
            self._task.add_done_callback(finish)

        def handler(signum: int, frame: FrameType | None) -> None:
            if self.draining or self._task is not None:
                previous(signum, frame)  # a second SIGTERM: stop now
                return
            loop.call_soon_threadsafe(start)

        signal.signal(signal.SIGTERM, handler)

        def undo() -> None:
            if signal.getsignal(signal.SIGTERM) is handler:
                signal.signal(signal.SIGTERM, previous)
        return undo


def _is_uvicorn_handler(handler: Any) -> bool:
    owner = getattr(handler, "__self__", None)
    if owner is None:
        return False
    import uvicorn

    return isinstance(owner, uvicorn.Server)
