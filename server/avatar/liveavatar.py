"""HeyGen LiveAvatar's API, LITE mode (facts: ../shared/reference/providers.md).

`LiveAvatarApi` is the HTTP side (httpx): a session token with our API key, then start (which
answers the LiveKit room for the browser and, in LITE mode, the `ws_url` for us), keep-alive, stop.
`LiteSocket` is the LITE WebSocket (websockets): we send the audio to lip-sync, it tells us the
session's state and when the avatar started and stopped speaking.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

# A LITE `agent.speak` packet may be at most 1 MB; base64 grows audio by 4/3.
MAX_PACKET_BYTES = 1024 * 1024
SAMPLE_RATE = 24000  # PCM16 mono: a wrong rate garbles the avatar without any error


class LiveAvatarError(Exception):
    """The provider refused or failed (the avatar falls back to the built-in one)."""


@dataclass(frozen=True, slots=True)
class StartedSession:
    session_id: str
    session_token: str
    livekit_url: str
    livekit_client_token: str
    ws_url: str


class LiveAvatarApi:
    def __init__(self, client: httpx.AsyncClient, *, base_url: str, api_key: str, avatar_id: str,
                 sandbox: bool = False) -> None:
        self._client = client
        self._base = base_url.rstrip("/")
        self._key = api_key
        self._avatar_id = avatar_id
        self._sandbox = sandbox

    async def token(self) -> tuple[str, str]:
        """A LITE session: (session_id, session_token). Raises LiveAvatarError."""
        body: dict[str, Any] = {"mode": "LITE", "avatar_id": self._avatar_id}
        if self._sandbox:
            body["is_sandbox"] = True
        token = _data(await self._post("/v1/sessions/token", json=body, headers={"X-API-KEY": self._key}))
        session_id, session_token = str(token.get("session_id") or ""), str(token.get("session_token") or "")
        if not session_id or not session_token:
            raise LiveAvatarError("LiveAvatar answered no session token")
        return session_id, session_token

    async def start(self, session_id: str, session_token: str) -> StartedSession:
        """Starts the session (the caller stops it, whatever happens next). Raises LiveAvatarError."""
        started = _data(await self._post("/v1/sessions/start", json={},
                                         headers={"Authorization": f"Bearer {session_token}"}))
        try:
            return StartedSession(session_id=session_id, session_token=session_token,
                                  livekit_url=str(started["livekit_url"]),
                                  livekit_client_token=str(started["livekit_client_token"]),
                                  ws_url=str(started["ws_url"]))
        except KeyError as exc:
            raise LiveAvatarError(f"LiveAvatar's start answered no {exc.args[0]}") from None

    async def keep_alive(self, session_token: str) -> None:
        await self._post("/v1/sessions/keep-alive", json={}, headers={"Authorization": f"Bearer {session_token}"})

    async def stop(self, session_token: str) -> None:
        await self._post("/v1/sessions/stop", json={}, headers={"Authorization": f"Bearer {session_token}"})

    async def _post(self, path: str, *, json: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        try:
            response = await self._client.post(self._base + path, json=json, headers=headers)
        except httpx.HTTPError as exc:
            raise LiveAvatarError(f"LiveAvatar unreachable ({type(exc).__name__})") from exc
        if response.status_code >= 400:
            raise LiveAvatarError(f"LiveAvatar {path} answered {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            raise LiveAvatarError(f"LiveAvatar {path} answered no JSON") from None
        return answer if isinstance(answer, dict) else {}


def _data(answer: dict[str, Any]) -> dict[str, Any]:
    """Its answers wrap the payload in `data` (tolerating a flat one)."""
    data = answer.get("data")
    return data if isinstance(data, dict) else answer


class LiteSocket:
    """The LITE WebSocket. `messages()` yields what the provider sends (decoded JSON objects)
    until it closes; `send` raises LiveAvatarError once the connection is gone."""

    def __init__(self, connection: ClientConnection) -> None:
        self._connection = connection

    @classmethod
    async def open(cls, ws_url: str, *, timeout_s: float) -> LiteSocket:
        try:
            connection = await websockets.connect(ws_url, open_timeout=timeout_s, max_size=2**20,
                                                  compression=None, ping_interval=20, ping_timeout=20)
        except (OSError, TimeoutError, websockets.InvalidHandshake, websockets.InvalidURI) as exc:
            raise LiveAvatarError(f"LiveAvatar's LITE socket did not open ({type(exc).__name__})") from exc
        return cls(connection)

    async def send(self, message: dict[str, Any]) -> None:
        try:
            await self._connection.send(json.dumps(message, separators=(",", ":")))
        except websockets.ConnectionClosed as exc:
            raise LiveAvatarError("LiveAvatar's LITE socket closed") from exc

    async def messages(self) -> AsyncIterator[dict[str, Any]]:
        try:
            async for raw in self._connection:
                try:
                    message = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(message, dict):
                    yield message
        except websockets.ConnectionClosed:
            return

    async def close(self) -> None:
        await self._connection.close()
