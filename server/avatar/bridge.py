"""The LiveAvatar LITE bridge: one per voice session with `avatar.provider = liveavatar`.

The voice session stays what it is (our STT, our engine, our TTS); the bridge takes each reply's
audio instead of the browser and has the provider lip-sync it:

- `start`: session token, start, the LITE socket opened; the caller hands the LiveKit room to the
  browser (`avatar.ready`). Nothing is sent on the socket before the provider says
  `session.state_updated: connected` (earlier messages are dropped by it): audio fed before then
  waits, up to `connect_timeout_s`, after which the avatar counts as lost.
- `feed(event_id, pcm)`: reply audio (PCM16 mono 24 kHz) goes out as `agent.speak {event_id,
  audio: base64}`: the first packet of a stretch at once with what is there (at most ~600 ms),
  then ~1 s packets, earlier when the avatar is about to run out (`LOW_WATER_MS` ahead); no
  packet over 1 MB. One event_id per reply; `end(event_id)` flushes and sends `agent.speak_end`.
- `interrupt()` (barge-in) sends `agent.interrupt`; `pause()` / `resume(from_ms)` honour a
  backchannel: LITE has no pause, so the avatar is interrupted and, on resume, the reply is spoken
  again from the pause point (same event_id).
- `listening(True/False)` (the user talks): `agent.start_listening` / `agent.stop_listening`.
- `session.keep_alive` every `keepalive_s`, well inside the provider's ~5-minute idle limit.
- The provider's `agent.speak_started` / `agent.speak_ended` say what the user has heard
  (`on_speaking(event_id, from_ms, at)`, `on_spoken(event_id, spoken_ms, at)`: from where in the
  reply it speaks, up to where it spoke); the caller also tells the browser (its caption clock).
- `stop()` (idempotent) closes everything and stops the provider session; the caller calls it on
  every exit path. The socket dropping, `connected` never coming, or the minute cap running out
  call `on_lost(code, message)` once; the session then falls back to the built-in avatar.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from server.avatar.liveavatar import MAX_PACKET_BYTES, SAMPLE_RATE, LiteSocket, LiveAvatarApi, LiveAvatarError
from server.avatar.quota import Meter
from server.tasks import TaskSupervisor
from server.voice.audio import SAMPLE_WIDTH

log = logging.getLogger(__name__)

BYTES_PER_MS = SAMPLE_RATE * SAMPLE_WIDTH // 1000
FIRST_PACKET_MS = 600
PACKET_MS = 1000
LOW_WATER_MS = 250  # send what is buffered, short of a full packet, before the avatar runs dry
# base64 of the audio plus the JSON around it must stay under the provider's 1 MB.
_MAX_AUDIO_BYTES = (MAX_PACKET_BYTES - 1024) * 3 // 4 // SAMPLE_WIDTH * SAMPLE_WIDTH


class AvatarLost(Exception):
    """The avatar is gone (dropped, never connected, cap reached, stopped): audio goes elsewhere."""


@dataclass(frozen=True, slots=True)
class Metering:
    meter: Meter
    dealership_id: uuid.UUID
    session_id: uuid.UUID
    user_id: uuid.UUID | None
    max_seconds: float | None  # what is left of the dealership's monthly cap; None: no cap


@dataclass(slots=True)
class _Stretch:
    """One reply's audio toward the avatar (a resume after a pause starts a new stretch)."""

    event_id: str
    audio: bytearray = field(default_factory=bytearray)  # the whole reply so far (for resume and handover)
    pending: bytearray = field(default_factory=bytearray)  # fed, not yet sent
    base_ms: float = 0.0  # where in the reply this stretch starts (after a resume: the pause point)
    sent_ms: float = 0.0  # sent in this stretch
    first_sent_at: float | None = None
    ended: bool = False


class LiteBridge:
    def __init__(self, api: LiveAvatarApi, tasks: TaskSupervisor, *, keepalive_s: float, connect_timeout_s: float,
                 on_lost: Callable[[str, str], Awaitable[None]],
                 on_speaking: Callable[[str, float, float], Awaitable[None]],
                 on_spoken: Callable[[str, float, float], Awaitable[None]],
                 metering: Metering | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._api = api
        self._tasks = tasks
        self._keepalive_s = keepalive_s
        self._connect_timeout_s = connect_timeout_s
        self._on_lost = on_lost
        self._on_speaking = on_speaking
        self._on_spoken = on_spoken
        self._metering = metering
        self._clock = clock
        self.connected = asyncio.Event()
        self.alive = False
        self.session_id: str | None = None
        self._token: str | None = None
        self._socket: LiteSocket | None = None
        self._usage_row: uuid.UUID | None = None
        self._background: list[asyncio.Task[None]] = []
        self._send_lock = asyncio.Lock()
        self._stretch: _Stretch | None = None
        self._paused = False
        self._wake = asyncio.Event()
        self._stopped = False
        self._lost = False
        self.packets_sent = 0

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> tuple[str, str]:
        """Starts the provider session; answers (livekit_url, livekit_client_token). Raises
        LiveAvatarError, having stopped whatever it started."""
        self.session_id, self._token = await self._api.token()
        try:
            # From here on the provider may bill: whatever fails (or the session ending meanwhile
            # cancels this), the session is stopped.
            started = await self._api.start(self.session_id, self._token)
            if self._metering is not None:
                m = self._metering
                self._usage_row = await m.meter.open_row(dealership_id=m.dealership_id, session_id=m.session_id,
                                                         user_id=m.user_id, provider="liveavatar",
                                                         provider_session_id=started.session_id)
            self._socket = await LiteSocket.open(started.ws_url, timeout_s=self._connect_timeout_s)
        except BaseException:
            await self.stop()
            raise
        self.alive = True
        self._background = [
            self._tasks.spawn("avatar-read", self._read()),
            self._tasks.spawn("avatar-keepalive", self._keep_alive()),
            self._tasks.spawn("avatar-flush", self._flusher()),
            self._tasks.spawn("avatar-watch", self._watch()),
        ]
        return started.livekit_url, started.livekit_client_token

    async def stop(self) -> None:
        """Idempotent; on every exit path. Never raises: the session is ending or falling back."""
        if self._stopped:
            return
        self._stopped = True
        self.alive = False
        current = asyncio.current_task()
        for task in self._background:
            if task is not current:
                task.cancel()
        if self._socket is not None:
            with contextlib.suppress(Exception):
                await self._socket.close()
        if self._token is not None:
            try:
                await self._api.stop(self._token)
            except LiveAvatarError as exc:
                # It ends by itself after ~5 idle minutes (no keep-alive now); metered until here.
                log.warning("LiveAvatar session not stopped: %s", exc, extra={"avatar_session": self.session_id})
        if self._usage_row is not None and self._metering is not None:
            try:
                await self._metering.meter.close_row(self._usage_row)
            except Exception:
                log.exception("avatar usage not closed", extra={"avatar_session": self.session_id})

    async def _lose(self, code: str, message: str) -> None:
        if self._lost or self._stopped:
            return
        self._lost = True
        self.alive = False
        self._wake.set()  # a feed waiting for `connected` gives up at once
        try:
            await self._on_lost(code, message)
        finally:
            await self.stop()

    # -- provider -> us ----------------------------------------------------------------------
    async def _read(self) -> None:
        assert self._socket is not None
        async for message in self._socket.messages():
            kind = message.get("type")
            if kind == "session.state_updated":
                state = message.get("state")
                if state == "connected":
                    self.connected.set()
                    self._wake.set()
                elif state in ("closed", "closing", "disconnected"):
                    break
            elif kind == "agent.speak_started":
                stretch = self._stretch
                event_id = str(message.get("event_id") or (stretch.event_id if stretch else ""))
                if stretch is not None and stretch.event_id == event_id:
                    await self._on_speaking(event_id, stretch.base_ms, self._clock())
            elif kind == "agent.speak_ended":
                stretch = self._stretch
                event_id = str(message.get("event_id") or (stretch.event_id if stretch else ""))
                if stretch is not None and stretch.event_id == event_id and not self._paused:
                    await self._on_spoken(event_id, stretch.base_ms + stretch.sent_ms, self._clock())
        if not self._stopped:
            await self._lose("avatar_dropped", "The photoreal avatar's connection dropped; using the built-in one.")

    async def _watch(self) -> None:
        """`connected` in time, and the dealership's minute cap."""
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                await self.connected.wait()
        except TimeoutError:
            return await self._lose("avatar_start_failed",
                                    "The photoreal avatar did not connect in time; using the built-in one.")
        cap = self._metering.max_seconds if self._metering is not None else None
        if cap is not None:
            await asyncio.sleep(cap)
            await self._lose("avatar_quota_exhausted",
                             "This month's photoreal avatar minutes are used up; using the built-in one.")

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(self._keepalive_s)
            if self.connected.is_set():
                with contextlib.suppress(AvatarLost):  # a dead socket is the reader's to report
                    await self._send({"type": "session.keep_alive"})

    # -- us -> provider ----------------------------------------------------------------------
    async def feed(self, event_id: str, pcm: bytes) -> None:
        """Reply audio. Raises AvatarLost when the avatar is gone (the audio did not reach it)."""
        if not self.alive:
            raise AvatarLost
        stretch = self._stretch
        if stretch is None or stretch.event_id != event_id:
            stretch = self._stretch = _Stretch(event_id)
            self._paused = False
        stretch.audio += pcm
        stretch.pending += pcm
        await self._pump(stretch)

    async def end(self, event_id: str) -> None:
        """The reply's audio is all fed: send the rest and `agent.speak_end`."""
        stretch = self._stretch
        if stretch is None or stretch.event_id != event_id or not self.alive:
            return
        stretch.ended = True
        if not self._paused:
            await self._flush(stretch)

    async def interrupt(self) -> None:
        """Barge-in: the avatar stops now; the reply is over."""
        self._stretch = None
        self._paused = False
        if self.alive and self.connected.is_set():
            with contextlib.suppress(AvatarLost):
                await self._send({"type": "agent.interrupt"})

    async def pause(self) -> None:
        """Speech over the reply (maybe a backchannel): the avatar stops, the reply is kept."""
        if self._stretch is None:
            return
        self._paused = True
        if self.alive and self.connected.is_set():
            with contextlib.suppress(AvatarLost):
                await self._send({"type": "agent.interrupt"})

    async def resume(self, from_ms: float) -> None:
        """It was a backchannel: speak the reply again from where the user stopped hearing it."""
        old = self._stretch
        if old is None or not self._paused:
            return
        self._paused = False
        start = min(len(old.audio), int(from_ms) * BYTES_PER_MS // SAMPLE_WIDTH * SAMPLE_WIDTH)
        stretch = self._stretch = _Stretch(old.event_id, audio=old.audio, pending=bytearray(old.audio[start:]),
                                           base_ms=start / BYTES_PER_MS, ended=old.ended)
        if self.alive:
            await self._pump(stretch)
            if stretch.ended:
                await self._flush(stretch)

    async def listening(self, speaking: bool) -> None:
        if self.alive and self.connected.is_set():
            with contextlib.suppress(AvatarLost):  # a dead socket is the reader's to report
                await self._send({"type": "agent.start_listening" if speaking else "agent.stop_listening"})

    def unheard(self, event_id: str, heard_ms: float) -> bytes:
        """The reply's audio after `heard_ms` (handed to the browser when the avatar drops mid-reply)."""
        stretch = self._stretch
        if stretch is None or stretch.event_id != event_id:
            return b""
        start = min(len(stretch.audio), int(heard_ms) * BYTES_PER_MS // SAMPLE_WIDTH * SAMPLE_WIDTH)
        return bytes(stretch.audio[start:])

    async def _pump(self, stretch: _Stretch) -> None:
        """Send what the packet rules allow now; the flusher sends the rest in time."""
        if not self.connected.is_set():
            await self._wait_connected()
        if self._paused or stretch is not self._stretch:
            return
        if stretch.first_sent_at is None:
            await self._send_audio(stretch, FIRST_PACKET_MS)
        while len(stretch.pending) >= PACKET_MS * BYTES_PER_MS:
            await self._send_audio(stretch, PACKET_MS)
        self._wake.set()

    async def _flush(self, stretch: _Stretch) -> None:
        while stretch.pending and stretch is self._stretch:
            await self._send_audio(stretch, PACKET_MS)
        if stretch is self._stretch:
            await self._send({"type": "agent.speak_end", "event_id": stretch.event_id})

    async def _wait_connected(self) -> None:
        while not self.connected.is_set():
            if not self.alive:
                raise AvatarLost
            self._wake.clear()
            await self._wake.wait()
        if not self.alive:
            raise AvatarLost

    async def _flusher(self) -> None:
        """Sends a short packet when the avatar is about to run out of audio (slow TTS)."""
        while self.alive:
            self._wake.clear()
            stretch = self._stretch
            if stretch is None or not stretch.pending or stretch.first_sent_at is None or self._paused:
                await self._wake.wait()
                continue
            ahead_ms = stretch.sent_ms - (self._clock() - stretch.first_sent_at) * 1000
            if ahead_ms > LOW_WATER_MS:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout((ahead_ms - LOW_WATER_MS) / 1000):
                        await self._wake.wait()
                continue
            with contextlib.suppress(LiveAvatarError, AvatarLost):
                await self._send_audio(stretch, PACKET_MS)

    async def _send_audio(self, stretch: _Stretch, max_ms: int) -> None:
        size = min(len(stretch.pending), max_ms * BYTES_PER_MS, _MAX_AUDIO_BYTES)
        if size <= 0:
            return
        chunk = bytes(stretch.pending[:size])
        del stretch.pending[:size]
        if not await self._send({"type": "agent.speak", "event_id": stretch.event_id,
                                 "audio": base64.b64encode(chunk).decode("ascii")}, stretch=stretch):
            return
        if stretch.first_sent_at is None:
            stretch.first_sent_at = self._clock()
        stretch.sent_ms += size / BYTES_PER_MS
        self.packets_sent += 1

    async def _send(self, message: dict[str, object], *, stretch: _Stretch | None = None) -> bool:
        """False: audio of a stretch that was paused or interrupted while it waited for the socket
        (dropped: it is in the stretch's audio, so a resume says it from the pause point)."""
        if self._socket is None or not self.connected.is_set():
            raise AvatarLost  # never before `connected`: the provider would drop it
        async with self._send_lock:
            if stretch is not None and (self._paused or stretch is not self._stretch):
                return False
            try:
                await self._socket.send(message)
            except LiveAvatarError:
                self.alive = False
                raise AvatarLost from None
        return True
