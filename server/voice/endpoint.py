"""`GET /api/v1/voice/live`: the WebSocket route into a `VoiceSession`."""

from __future__ import annotations

from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket

from server.state import app_state
from server.voice.protocol import PATH, CloseCode
from server.voice.session import VoiceSession


async def voice_live(websocket: WebSocket) -> None:
    state = app_state(websocket)
    runtime = state.voice
    if runtime is None:
        await websocket.close(code=int(CloseCode.internal_error), reason="voice is not configured")
        return
    session = VoiceSession(websocket, runtime, authenticator=state.authenticator, limits=state.limits,
                           tasks=state.tasks, drain=state.drain)
    await session.run()


def routes() -> list[BaseRoute]:
    return [WebSocketRoute(PATH, voice_live, name="voice_live")]
