"""Fake HeyGen LiveAvatar (LITE mode): the HTTP session endpoints and the LITE WebSocket, in the
real message shapes (../shared/reference/providers.md), with injectable failures.

HTTP: `POST /v1/sessions/token` (`X-API-KEY`, `{"mode": "LITE", "avatar_id"}` -> `{"data":
{"session_id", "session_token"}}`), `/v1/sessions/start` (Bearer session token -> `{"data":
{"livekit_url", "livekit_client_token", "ws_url"}}`), `/v1/sessions/keep-alive`, `/v1/sessions/stop`.
LITE socket (`ws_url`): `session.state_updated: connected` after `connect_delay_s`; every message
received is recorded with whether it came before `connected` (the real provider drops those).
The avatar "speaks" in real time: `agent.speak_started` when the first audio of an event arrives,
`agent.speak_ended` once `agent.speak_end` came and the audio's duration has played;
`agent.interrupt` stops it. Standalone: `python -m tests.fakes.liveavatar_server --port 8104`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

API_KEY = "la-test"
AVATAR_ID = "avatar-test"
RATE = 24000


@dataclass
class LiveAvatarConfig:
    token_fail_status: int | None = None
    start_fail_status: int | None = None
    connect_delay_s: float = 0.05  # `connected` comes this long after the socket opens
    never_connect: bool = False
    drop_after_packets: int | None = None  # close the LITE socket after this many agent.speak


@dataclass
class Received:
    at: float
    message: dict[str, Any]
    before_connected: bool
    size: int  # bytes of the JSON text as received


@dataclass
class FakeSession:
    session_id: str
    token: str
    body: dict[str, Any]
    started: bool = False
    stopped_at: float | None = None
    http_keepalives: int = 0
    connected_at: float | None = None
    socket_open: bool = False
    received: list[Received] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)

    def messages(self, kind: str) -> list[Received]:
        return [r for r in self.received if r.message.get("type") == kind]

    def audio(self, event_id: str | None = None) -> bytes:
        return b"".join(base64.b64decode(r.message["audio"]) for r in self.messages("agent.speak")
                        if event_id is None or r.message.get("event_id") == event_id)


@dataclass
class FakeLiveAvatar:
    config: LiveAvatarConfig = field(default_factory=LiveAvatarConfig)
    sessions: dict[str, FakeSession] = field(default_factory=dict)
    token_requests: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/v1/sessions/token", self._token, methods=["POST"]),
            Route("/v1/sessions/start", self._start, methods=["POST"]),
            Route("/v1/sessions/keep-alive", self._keep_alive, methods=["POST"]),
            Route("/v1/sessions/stop", self._stop, methods=["POST"]),
            WebSocketRoute("/v1/lite/{session_id}", self._socket),
        ])

    def reset(self) -> None:
        self.config = LiveAvatarConfig()
        self.sessions.clear()
        self.token_requests.clear()

    def only(self) -> FakeSession:
        assert len(self.sessions) == 1, f"{len(self.sessions)} LiveAvatar sessions"
        return next(iter(self.sessions.values()))

    # -- HTTP --------------------------------------------------------------------------------
    async def _token(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.token_requests.append({"api_key": request.headers.get("x-api-key"), "body": body})
        if request.headers.get("x-api-key") != API_KEY:
            return JSONResponse({"code": 401, "message": "invalid api key"}, status_code=401)
        if self.config.token_fail_status is not None:
            return JSONResponse({"code": 500, "message": "token failed"}, status_code=self.config.token_fail_status)
        if body.get("mode") not in ("FULL", "LITE") or not body.get("avatar_id"):
            return JSONResponse({"code": 422, "message": "mode and avatar_id required"}, status_code=422)
        session = FakeSession(session_id=str(uuid.uuid4()), token="st-" + uuid.uuid4().hex, body=body)
        self.sessions[session.session_id] = session
        return JSONResponse({"code": 1000, "data": {"session_id": session.session_id,
                                                    "session_token": session.token}})

    def _session(self, request: Request) -> FakeSession | None:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        return next((s for s in self.sessions.values() if s.token == token), None)

    async def _start(self, request: Request) -> JSONResponse:
        session = self._session(request)
        if session is None:
            return JSONResponse({"code": 401, "message": "bad session token"}, status_code=401)
        if self.config.start_fail_status is not None:
            return JSONResponse({"code": 500, "message": "no capacity"}, status_code=self.config.start_fail_status)
        session.started = True
        ws_url = str(request.base_url).replace("http://", "ws://").rstrip("/") + f"/v1/lite/{session.session_id}"
        return JSONResponse({"code": 1000, "data": {
            "session_id": session.session_id, "livekit_url": "wss://livekit.fake.invalid",
            "livekit_client_token": "lk-" + session.session_id, "ws_url": ws_url}})

    async def _keep_alive(self, request: Request) -> JSONResponse:
        session = self._session(request)
        if session is None:
            return JSONResponse({"code": 401}, status_code=401)
        session.http_keepalives += 1
        return JSONResponse({"code": 1000, "data": {}})

    async def _stop(self, request: Request) -> JSONResponse:
        session = self._session(request)
        if session is None:
            return JSONResponse({"code": 401}, status_code=401)
        if session.stopped_at is None:
            session.stopped_at = time.monotonic()
        return JSONResponse({"code": 1000, "data": {}})

    # -- LITE socket -------------------------------------------------------------------------
    async def _socket(self, websocket: WebSocket) -> None:
        session = self.sessions.get(websocket.path_params["session_id"])
        if session is None or not session.started:
            await websocket.close(code=4404)
            return
        await websocket.accept()
        session.socket_open = True
        lock = asyncio.Lock()
        speaking: dict[str, float] = {}  # event_id -> when its audio (so far) ends playing
        ending: dict[str, asyncio.Task[None]] = {}

        async def send(message: dict[str, Any]) -> None:
            async with lock:
                session.sent.append(message)
                await websocket.send_text(json.dumps(message))

        async def connect() -> None:
            if self.config.never_connect:
                return
            await asyncio.sleep(self.config.connect_delay_s)
            session.connected_at = time.monotonic()
            await send({"type": "session.state_updated", "state": "connected"})

        async def end_later(event_id: str) -> None:
            await asyncio.sleep(max(0.0, speaking.get(event_id, 0.0) - time.monotonic()))
            speaking.pop(event_id, None)
            await send({"type": "agent.speak_ended", "event_id": event_id})

        connecting = asyncio.get_running_loop().create_task(connect())
        packets = 0
        try:
            while True:
                text = await websocket.receive_text()
                message = json.loads(text)
                now = time.monotonic()
                session.received.append(Received(now, message, session.connected_at is None, len(text.encode())))
                if session.connected_at is None:
                    continue  # the real provider drops what comes before `connected`
                kind = message.get("type")
                if kind == "agent.speak":
                    event_id = str(message["event_id"])
                    seconds = len(base64.b64decode(message["audio"])) / 2 / RATE
                    if event_id not in speaking:
                        speaking[event_id] = now
                        await send({"type": "agent.speak_started", "event_id": event_id})
                    speaking[event_id] = max(speaking[event_id], now) + seconds
                    packets += 1
                    if self.config.drop_after_packets is not None and packets >= self.config.drop_after_packets:
                        await websocket.close(code=1011)
                        return
                elif kind == "agent.speak_end":
                    event_id = str(message["event_id"])
                    ending[event_id] = asyncio.get_running_loop().create_task(end_later(event_id))
                elif kind == "agent.interrupt":
                    for task in ending.values():
                        task.cancel()
                    ending.clear()
                    speaking.clear()
        except WebSocketDisconnect:
            pass
        finally:
            session.socket_open = False
            connecting.cancel()
            for task in ending.values():
                task.cancel()


if __name__ == "__main__":
    import argparse

    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8104)
    parser.add_argument("--connect-delay", type=float, default=0.05)
    args = parser.parse_args()
    fake = FakeLiveAvatar(LiveAvatarConfig(connect_delay_s=args.connect_delay))
    uvicorn.run(fake.app(), host="127.0.0.1", port=args.port, log_level="warning")
