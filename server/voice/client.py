"""A small client for `/api/v1/voice/live`, used by `sparring talk`, the tests and the benchmark.

A reader task records every server message in arrival order (`log`), with reply audio collected
per message; `wait_for` returns the next event of a type. Audio is streamed in real time.
A load generator sets `record = False` (nothing kept, so memory stays flat over a long run) and
a `listener`, called with (arrival time, event or None, audio) for every message.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from server.voice.audio import frame_bytes
from server.voice.protocol import FRAME_MS, PATH, ClientEvent, ServerEvent


class VoiceError(Exception):
    """The server refused what the client asked (an `error` event instead of the answer)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{message} ({code})")


class Moved(Exception):
    """The server answered `start` with `reconnect` (it is draining): start again on a new socket."""

    def __init__(self, event: dict[str, Any]) -> None:
        self.event = event
        super().__init__(str(event.get("reason")))


@dataclass
class Received:
    at: float
    event: dict[str, Any] | None = None  # None for binary audio
    audio: bytes = b""


@dataclass
class VoiceClient:
    connection: ClientConnection
    log: list[Received] = field(default_factory=list)
    audio: dict[str, bytearray] = field(default_factory=dict)
    close_code: int | None = None
    record: bool = True
    listener: Callable[[float, dict[str, Any] | None, bytes], None] | None = None
    _queue: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    _current: str | None = None
    _reader: asyncio.Task[None] | None = None

    @classmethod
    async def connect(cls, base_url: str, token: str | None, *, start_reader: bool = True) -> VoiceClient:
        url = base_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1).rstrip("/") + PATH
        # No permessage-deflate: PCM does not compress, and deflating every frame costs CPU on both ends.
        connection = await websockets.connect(url, max_size=2**20, open_timeout=10, compression=None)
        client = cls(connection)
        if token is not None:
            await client.send({"type": ClientEvent.auth.value, "token": token})
        if start_reader:
            client._reader = asyncio.get_running_loop().create_task(client._read(), name="voice-client-reader")
        return client

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(message))

    async def start(self, mode: str = "roleplay", *, persona_id: str | None = None, session_id: str | None = None,
                    output_rate: int = 16000, wait_s: float = 10, scenario_id: str | None = None,
                    avatar: str | None = None, assignment_id: str | None = None) -> dict[str, Any]:
        message: dict[str, Any] = {"type": "start", "mode": mode,
                                   "input_audio": {"encoding": "pcm_s16le", "sample_rate": 16000, "channels": 1},
                                   "output_audio": {"encoding": "pcm_s16le", "sample_rate": output_rate}}
        if persona_id:
            message["persona_id"] = persona_id
        if session_id:
            message["session_id"] = session_id
        if scenario_id:
            message["scenario_id"] = scenario_id
        if avatar is not None:
            message["avatar"] = {"provider": avatar}
        if assignment_id:
            message["assignment_id"] = assignment_id
        await self.send(message)
        answer = await self.wait_for_any((ServerEvent.ready, ServerEvent.error, ServerEvent.reconnect), wait_s=wait_s)
        if answer["type"] == ServerEvent.error.value:
            raise VoiceError(str(answer.get("code")), str(answer.get("message")))
        if answer["type"] == ServerEvent.reconnect.value:
            raise Moved(answer)
        return answer

    async def stream(self, pcm: bytes, *, sample_rate: int = 16000, realtime: bool = True,
                     frames_per_message: int = 1) -> None:
        """Sends 20 ms frames, paced on a fixed schedule so that delays do not accumulate."""
        step = frame_bytes(sample_rate) * frames_per_message
        began = time.monotonic()
        for index, start in enumerate(range(0, len(pcm), step)):
            if realtime:
                due = began + index * FRAME_MS * frames_per_message / 1000
                if (delay := due - time.monotonic()) > 0:
                    await asyncio.sleep(delay)
            await self.connection.send(pcm[start:start + step])

    async def say(self, pcm: bytes, until: Iterable[ServerEvent | str], *, wait_s: float = 60,
                  sample_rate: int = 16000) -> dict[str, Any]:
        """Streams `pcm`, then keeps the microphone open (silence in real time, as a browser's
        does) until the next event of one of `until`, which it returns. The server's clock is the
        audio it receives: a client that stops sending after the speech leaves the end of the turn
        waiting for silence that never comes (up to `VOICE_END_OF_TURN_MAX_MS` while the last
        words are still being transcribed)."""
        await self.stream(pcm, sample_rate=sample_rate)
        microphone = asyncio.get_running_loop().create_task(self._silence(sample_rate), name="voice-client-microphone")
        try:
            return await self.wait_for_any(until, wait_s=wait_s)
        finally:
            microphone.cancel()
            await asyncio.gather(microphone, return_exceptions=True)

    async def _silence(self, sample_rate: int) -> None:
        frame = bytes(frame_bytes(sample_rate))
        began = time.monotonic()
        sent = 0
        try:
            while True:
                if (delay := began + sent * FRAME_MS / 1000 - time.monotonic()) > 0:
                    await asyncio.sleep(delay)
                await self.connection.send(frame)
                sent += 1
        except websockets.ConnectionClosed:
            return  # the server ended the session: nothing more to hear

    async def wait_for(self, kind: ServerEvent | str, *, wait_s: float = 10) -> dict[str, Any]:
        return await self.wait_for_any((kind,), wait_s=wait_s)

    async def wait_for_any(self, kinds: Iterable[ServerEvent | str], *, wait_s: float = 10) -> dict[str, Any]:
        """The next event of one of `kinds` (events of other types before it are passed over)."""
        wanted = {k.value if isinstance(k, ServerEvent) else k for k in kinds}
        async with asyncio.timeout(wait_s):
            while True:
                message = await self._queue.get()
                if message.get("type") in wanted:
                    return message

    def events(self, kinds: Iterable[str] | None = None) -> list[dict[str, Any]]:
        wanted = set(kinds) if kinds is not None else None
        return [r.event for r in self.log if r.event is not None and (wanted is None or r.event["type"] in wanted)]

    async def closed(self, wait_s: float = 10) -> int | None:
        """Waits for the server to close the socket; returns the close code."""
        if self._reader is not None:
            await asyncio.wait_for(asyncio.shield(self._reader), wait_s)
        else:
            try:
                async with asyncio.timeout(wait_s):
                    async for _ in self.connection:
                        pass
            except websockets.ConnectionClosed:
                pass
            self.close_code = self.connection.close_code
        return self.close_code

    async def close(self) -> None:
        await self.connection.close()
        if self._reader is not None:
            await asyncio.wait([self._reader], timeout=5)

    async def _read(self) -> None:
        try:
            async for message in self.connection:
                now = time.monotonic()
                if self.listener is not None:
                    data_or_none = json.loads(message) if isinstance(message, str) else None
                    self.listener(now, data_or_none, message if isinstance(message, bytes) else b"")
                if not self.record:
                    continue
                if isinstance(message, bytes):
                    self.log.append(Received(at=now, audio=message))
                    self.audio.setdefault(self._current or "", bytearray()).extend(message)
                    continue
                data = json.loads(message)
                self.log.append(Received(at=now, event=data))
                if data.get("type") == ServerEvent.audio_start.value:
                    self._current = data["message_id"]
                elif data.get("type") in (ServerEvent.audio_end.value, ServerEvent.interrupted.value):
                    self._current = None
                self._queue.put_nowait(data)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_code = self.connection.close_code
