"""How a voice session ends when its socket drops without `end`.

The client may resume the session on a new socket (docs/voice-protocol.md), so a drop does not
end it at once: it stays open for the idle timeout (`VOICE_IDLE_TIMEOUT_S`). If no client has
come back to it on this instance by then, and nobody has used it meanwhile (a turn, or a
resume on another instance: both mark the session used), it ends like any other session,
scorecard and all. A session ended by `end` or by the socket's own timers is not kept.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any

from server.voice.brain import Brain

Spawn = Callable[[str, Coroutine[Any, Any, Any]], Any]


class SessionKeeper:
    def __init__(self, brain: Brain, idle_s: float) -> None:
        self._brain = brain
        self._idle_s = idle_s
        self._live: Counter[str] = Counter()  # sockets on this instance, by session
        self._dropped: dict[str, object] = {}  # session -> its latest drop, while one is pending

    def attach(self, session_id: str) -> None:
        """A socket opened (or resumed) the session: a pending expiry leaves it alone."""
        self._live[session_id] += 1
        self._dropped.pop(session_id, None)

    def detach(self, session_id: str, spawn: Spawn, *, ended: bool) -> None:
        """The socket is gone; unless the session ended with it, expire it if nobody comes back."""
        self._live[session_id] -= 1
        if self._live[session_id] <= 0:
            del self._live[session_id]
        if ended or session_id in self._live:
            return
        drop = self._dropped[session_id] = object()
        spawn(f"voice-expire:{session_id}", self._expire(session_id, drop))

    async def _expire(self, session_id: str, drop: object) -> None:
        wait: float | None = self._idle_s
        try:
            while wait is not None:
                await asyncio.sleep(wait)
                if self._dropped.get(session_id) is not drop:
                    return  # a client came back to it here
                wait = await self._brain.expire(session_id, self._idle_s)
        finally:
            if self._dropped.get(session_id) is drop:
                del self._dropped[session_id]
