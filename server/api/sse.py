"""Server-Sent Events: the wire format of one event, and a response that streams them.

`EventStreamResponse` streams in the request's own task. Starlette's `StreamingResponse`, on
an ASGI server below spec 2.4 (uvicorn, which drops writes to a departed client silently),
starts the stream in a new task beside a disconnect listener: one more turn of the event loop
before the first byte, ~0.3 ms at the median and up to ~2 ms at 50 streaming chats, on the
way to the first token. Here the listener is the side task, and it cancels the stream when the
client leaves, so the producer (the conversation engine) still learns of it at once.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from server.tasks import Interruption


def sse(event: str, data: dict[str, Any]) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class EventStreamResponse(StreamingResponse):
    media_type = "text/event-stream"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        left = Interruption()  # the client left: the stream's end, not an error

        async def listen() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            left.now()  # (only while the stream still runs)

        listener = asyncio.create_task(listen(), name="sse.disconnect-listener")
        try:
            with left:
                try:
                    await self.stream_response(send)
                except asyncio.CancelledError:
                    # Cancelled while sending, the producer waits at a `yield`: close it now (its
                    # cleanup saves a partial answer) rather than whenever the collector finds it.
                    aclose = getattr(self.body_iterator, "aclose", None)
                    if aclose is not None:
                        await aclose()
                    raise
        finally:
            listener.cancel()
        if self.background is not None:
            await self.background()
