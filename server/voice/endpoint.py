"""`GET /api/v1/voice/live`: the WebSocket route into a `VoiceSession`."""

from __future__ import annotations

from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket

from server.errors import ServiceUnavailable, error_response
from server.state import app_state
from server.voice.protocol import PATH, CloseCode
from server.voice.session import VoiceSession


async def voice_live(websocket: WebSocket) -> None:
    state = app_state(websocket)
    runtime = state.voice
    if runtime is None:
        await websocket.close(code=int(CloseCode.internal_error), reason="voice is not configured")
        return
    if state.drain is not None and state.drain.draining and "websocket.http.response" in websocket.scope.get(
            "extensions", {}):
        # Stopping: refuse the upgrade itself with a 503, which a balancer retries on another
        # instance at once (nginx: proxy_next_upstream http_503). Accepted first, the socket would
        # only be told `reconnect`, and a least-connections balancer would send it straight back.
        await websocket.send_denial_response(error_response(ServiceUnavailable(
            "This instance is shutting down; connect again.", details={"draining": True, "retryable": True})))
        return
    session = VoiceSession(websocket, runtime, authenticator=state.authenticator, limits=state.limits,
                           tasks=state.tasks, drain=state.drain)
    await session.run()


def routes() -> list[BaseRoute]:
    return [WebSocketRoute(PATH, voice_live, name="voice_live")]
