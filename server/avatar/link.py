"""One voice session's avatar: the hooks `VoiceSession` calls (server/voice/session.py).

The session asks `decide` before it opens the conversation (the channel is `avatar` or `voice`),
`begin` after `ready`, `sink` for each reply's audio, and tells it about ends of replies,
barge-in pauses, resumes and interruptions; `close` on every exit path. Without LiveAvatar every
hook but `decide` and `begin` does nothing, so the built-in avatar is voice mode plus one event.
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from server.avatar.bridge import AvatarLost, LiteBridge
from server.avatar.liveavatar import SAMPLE_RATE, LiveAvatarError
from server.avatar.service import AvatarService, Decision
from server.tasks import TaskSupervisor
from server.voice import protocol as p

log = logging.getLogger(__name__)

Emit = Callable[[dict[str, Any]], Awaitable[None]]
Send = Callable[[bytes], Awaitable[None]]
# The pacer toward the avatar: 1 s pieces (the bridge makes the packets), 2 s ahead of real time at
# most, so an interruption wastes little and a slow socket never starves the avatar.
PACER_CHUNK_MS = 1000
PACER_LEAD_MS = 2000


class _ReplyAudio:
    """Where one reply's audio goes: the avatar, or (once it is lost) the browser from the first
    sample the user has not heard."""

    def __init__(self, link: AvatarLink, bridge: LiteBridge, message_id: str, send: Send) -> None:
        self.link, self.bridge, self.message_id, self.send = link, bridge, message_id, send
        self.handed_over = False
        self.lock = asyncio.Lock()

    async def __call__(self, chunk: bytes) -> None:
        async with self.lock:
            if not self.handed_over:
                try:
                    return await self.bridge.feed(self.message_id, chunk)
                except AvatarLost:
                    return await self._hand_over()
        await self.send(chunk)

    async def hand_over(self) -> None:
        async with self.lock:
            if not self.handed_over:
                await self._hand_over()

    async def _hand_over(self) -> None:
        self.handed_over = True
        heard = self.link.heard_ms(self.message_id)
        rest = self.bridge.unheard(self.message_id, heard)
        # The browser plays (and reports) from here on; its positions count from this point.
        self.link.handed_over[self.message_id] = heard
        self.link.playback(self.message_id, heard, math.inf)
        if rest:
            await self.send(rest)


class AvatarLink:
    def __init__(self, service: AvatarService | None, tasks: TaskSupervisor, emit: Emit, *,
                 heard_ms: Callable[[str], float], playback: Callable[[str, float, float], None]) -> None:
        self._service = service
        self._tasks = tasks
        self._emit = emit
        self.heard_ms = heard_ms  # the session's estimate of how much of a reply the user heard
        self.playback = playback  # sets the session's playback position (message, ms, since)
        self.requested = p.AvatarProvider.none
        self.provider = p.AvatarProvider.none
        self.bridge: LiteBridge | None = None
        self._decision: Decision | None = None
        self._look: str | None = None
        self._current: _ReplyAudio | None = None
        self._starting: asyncio.Task[None] | None = None
        self._closed = False
        self.handed_over: dict[str, float] = {}  # reply -> ms the avatar had said when it was lost

    async def decide(self, dealership_id: uuid.UUID | None, requested: str) -> str:
        """Before the conversation opens: its channel, `avatar` or `voice`."""
        self.requested = p.AvatarProvider(requested)
        if self.requested is p.AvatarProvider.none:
            return "voice"
        if self._service is None:  # no avatar feature in this runtime (tests of the bare voice path)
            self._decision = Decision(p.AvatarProvider.builtin)
        else:
            try:
                self._decision = await self._service.decide(dealership_id, requested)
            except Exception:
                # The settings or the minutes could not be read (a database blip): a face must not
                # cost the session; the built-in one is free and needs nothing.
                log.exception("avatar settings unavailable; using the built-in avatar")
                self._decision = Decision(p.AvatarProvider.builtin)
        self.provider = self._decision.provider
        return "voice" if self.provider is p.AvatarProvider.none else "avatar"

    async def begin(self, look: str | None, *, dealership_id: uuid.UUID | None, session_id: str,
                    user_id: uuid.UUID | None) -> None:
        """After `ready`: `avatar.error` for a refusal, then `avatar.ready` (LiveAvatar: once
        started, in a task of its own so the session goes on listening meanwhile)."""
        decision = self._decision
        if decision is None:
            return
        self._look = look
        if decision.refusal is not None:
            r = decision.refusal
            await self._emit(p.avatar_error_event(r.code, r.message, fallback=r.fallback))
        if self.provider is p.AvatarProvider.builtin:
            await self._ready_builtin()
        elif self.provider is p.AvatarProvider.liveavatar:
            assert self._service is not None
            self.bridge = self._service.bridge(
                on_lost=self._lost, on_speaking=self._speaking, on_spoken=self._spoken,
                dealership_id=dealership_id, session_id=uuid.UUID(session_id), user_id=user_id,
                remaining_s=decision.remaining_s)
            self._starting = self._tasks.spawn("avatar-start", self._start(self.bridge))

    async def _start(self, bridge: LiteBridge) -> None:
        try:
            livekit_url, livekit_token = await bridge.start()
        except LiveAvatarError as exc:
            log.warning("LiveAvatar did not start: %s", exc)
            await self._fall_back(p.AvatarErrorCode.avatar_start_failed,
                                  "The photoreal avatar could not start; using the built-in one.")
            return
        except Exception:  # e.g. the usage row could not be written: the provider session was stopped
            log.exception("LiveAvatar did not start")
            await self._fall_back(p.AvatarErrorCode.avatar_start_failed,
                                  "The photoreal avatar could not start; using the built-in one.")
            return
        if self._closed:  # the session ended while the provider was starting
            await bridge.stop()
            return
        await self._tell(p.event(p.ServerEvent.avatar_ready, provider=p.AvatarProvider.liveavatar.value,
                                 look=self._look, livekit_url=livekit_url, livekit_token=livekit_token))

    async def _ready_builtin(self) -> None:
        await self._tell(p.event(p.ServerEvent.avatar_ready, provider=p.AvatarProvider.builtin.value,
                                 look=self._look))

    async def _tell(self, message: dict[str, Any]) -> None:
        """An event from the avatar's own tasks: a client that has just gone is the session
        loop's to notice (it ends the session and closes this link), not an error here."""
        try:
            await self._emit(message)
        except Exception:
            log.info("avatar event not delivered: the client has gone", extra={"event": message.get("type")})

    async def _fall_back(self, code: p.AvatarErrorCode, message: str) -> None:
        self.provider = p.AvatarProvider.builtin
        self.bridge = None
        if self._closed:
            return
        await self._tell(p.avatar_error_event(code, message, fallback=p.AvatarFallback.builtin))
        await self._ready_builtin()

    async def _lost(self, code: str, message: str) -> None:
        """The bridge lost the avatar (dropped, never connected, cap reached)."""
        current = self._current
        await self._fall_back(p.AvatarErrorCode(code), message)
        if current is not None:
            try:
                await current.hand_over()  # the rest of the reply the avatar was speaking: nothing lost
            except Exception:
                log.info("avatar hand-over not delivered: the client has gone")

    async def _speaking(self, event_id: str, from_ms: float, at: float) -> None:
        self.playback(event_id, from_ms, at)
        # The browser has no playback of its own to caption by: it runs the captions from here.
        await self._tell(p.avatar_speaking_event(event_id, p.AvatarSpeakingState.started, from_ms))

    async def _spoken(self, event_id: str, spoken_ms: float, at: float) -> None:
        self.playback(event_id, math.inf, at)  # all of it (capped by what was sent)
        await self._tell(p.avatar_speaking_event(event_id, p.AvatarSpeakingState.ended, spoken_ms))

    def handed_over_at(self, message_id: str) -> float:
        """Where the browser's playback of a reply handed over from the avatar starts (else 0)."""
        return self.handed_over.get(message_id, 0.0)

    async def listening(self, speaking: bool) -> None:
        """The user started or stopped talking: the avatar looks attentive (LITE start/stop_listening)."""
        if self.bridge is not None and self.bridge.alive:
            await self.bridge.listening(speaking)

    # -- per reply ---------------------------------------------------------------------------
    @property
    def speaking(self) -> bool:
        """Replies go to the avatar (the browser's own playback reports do not apply)."""
        return self.bridge is not None and self.bridge.alive

    def reply_rate(self, requested: int) -> int:
        # LiveAvatar lip-syncs 24 kHz only; the session keeps it after a fallback (audio.start says so).
        return SAMPLE_RATE if self.requested is p.AvatarProvider.liveavatar else requested

    def pacing(self, chunk_ms: int, lead_ms: int) -> tuple[int, int]:
        return (PACER_CHUNK_MS, PACER_LEAD_MS) if self.speaking else (chunk_ms, lead_ms)

    def sink(self, message_id: str, send: Send) -> Send:
        """Where this reply's audio goes."""
        bridge = self.bridge
        if bridge is None or not bridge.alive:
            self._current = None
            return send
        self._current = _ReplyAudio(self, bridge, message_id, send)
        self.playback(message_id, 0.0, math.inf)  # nothing heard until the avatar starts speaking
        return self._current

    async def reply_done(self, message_id: str) -> None:
        current = self._current
        if current is None or current.message_id != message_id or current.handed_over:
            return
        try:
            await current.bridge.end(message_id)
        except AvatarLost:
            await current.hand_over()

    async def interrupt(self) -> None:
        current, self._current = self._current, None
        if current is not None and not current.handed_over:
            await current.bridge.interrupt()

    async def pause(self) -> None:
        current = self._current
        if current is not None and not current.handed_over:
            await current.bridge.pause()

    async def resume(self, message_id: str, from_ms: float) -> None:
        current = self._current
        if current is None or current.message_id != message_id or current.handed_over:
            return
        self.playback(message_id, from_ms, math.inf)  # held there until the avatar speaks again
        try:
            await current.bridge.resume(from_ms)
        except AvatarLost:
            await current.hand_over()

    async def close(self) -> None:
        """Every exit path: the provider session is stopped (and its minutes metered)."""
        self._closed = True
        starting, bridge = self._starting, self.bridge
        if starting is not None and not starting.done():
            starting.cancel()
            await asyncio.wait([starting])
        if bridge is not None:
            await bridge.stop()
