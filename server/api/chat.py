"""/chat: one turn of a training or role-play conversation, as JSON or as Server-Sent Events.

The server keeps the history; the client sends only the new message (and the session id to
continue one). `Accept: text/event-stream` streams `delta` {text} events as tokens arrive, then
`sources` {sources}, then `done` {message_id, session_id, usage, ...}; or `error` {code,
message, retryable} when the model fails (the user's message is kept: resend it to retry).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from server.api.endpoint import Ctx, endpoint
from server.api.schemas import Input, Output
from server.api.sse import EventStreamResponse, sse
from server.conversation.engine import ConversationEngine
from server.conversation.events import Delta, Done, EngineEvent, Failed, Sources
from server.conversation.models import Channel, Mode
from server.errors import Conflict, ServiceUnavailable, SparringError

TAG = "chat"
MAX_MESSAGE_CHARS = 5000


# What str.strip() removes, spelled out: the schema's pattern must mean the same to Python and
# to the ECMA regexes OpenAPI clients use ("\s" differs between them), so a message the schema
# allows is one the server takes.
_BLANK = r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NOT_BLANK_PATTERN = rf"^[^\x00]*[^\x00{_BLANK}][^\x00]*$"  # NUL is refused everywhere (openapi.NO_NUL)


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("the message is empty")
    return value


class ChatIn(Input):
    message: Annotated[str, Field(min_length=1, max_length=MAX_MESSAGE_CHARS,
                                  json_schema_extra={"pattern": NOT_BLANK_PATTERN}), AfterValidator(_not_blank)]
    mode: Mode
    persona_id: str | None = Field(default=None, max_length=64, description=(
        "with `scenario_id`: plays instead of the scenario's own customer"))
    scenario_id: str | None = Field(default=None, max_length=64, description=(
        "practise a scenario (GET /scenarios): the session keeps a frozen copy of it and its rubric"))
    assignment_id: uuid.UUID | None = Field(default=None, description=(
        "start the session from one of your assignments: it counts towards it when it ends (the scenario must be "
        "one of the assignment's; with none named, an assignment of one scenario names it)"))
    session_id: uuid.UUID | None = None
    dealership_id: uuid.UUID | None = Field(default=None, description=(
        "super admins only; anyone else chats in their own dealership whatever they send (Scope)"))


class SourceOut(Output):
    document_id: uuid.UUID
    filename: str
    page: int | None
    excerpt: str
    score: float | None = None


class UsageOut(Output):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost_usd: float
    estimated: bool


class ChatOut(Output):
    response: str
    session_id: uuid.UUID
    message_id: uuid.UUID
    user_message_id: uuid.UUID
    persona_id: str
    scenario_id: str | None = None
    assignment_id: uuid.UUID | None = None
    sources: list[SourceOut]
    offline: bool
    model: str
    usage: UsageOut
    timings: dict[str, float | None]


def engine_of(ctx: Ctx) -> ConversationEngine:
    engine = ctx.state.conversations
    if engine is None:
        raise ServiceUnavailable("Conversations are not available on this server.")
    return engine


@endpoint("POST", "/chat", summary="Send a message (JSON, or SSE with Accept: text/event-stream)", tag=TAG,
          body=ChatIn, response=ChatOut, errors=(404, 409, 422, 429, 503))
async def chat(ctx: Ctx, body: ChatIn) -> ChatOut | EventStreamResponse:
    started = time.perf_counter()
    me = ctx.principal
    await ctx.state.limits.count_turn(me.user_id)
    engine = engine_of(ctx)
    conv = await engine.open(me, mode=body.mode, persona_id=body.persona_id, session_id=body.session_id,
                             channel=Channel.text, dealership_id=body.dealership_id, scenario_id=body.scenario_id,
                             assignment_id=body.assignment_id)
    events = engine.reply(conv, body.message, started=started)
    if "text/event-stream" in ctx.request.headers.get("accept", ""):
        return EventStreamResponse(_sse(events), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    parts: list[str] = []
    sources: list[dict[str, Any]] = []
    async with aclosing(events):
        async for event in events:
            if isinstance(event, Delta):
                parts.append(event.text)
            elif isinstance(event, Sources):
                sources = event.items
            elif isinstance(event, Failed):
                raise _http_error(event)
            elif isinstance(event, Done):
                return ChatOut(response=event.text, session_id=event.session_id, message_id=event.message_id,
                               user_message_id=event.user_message_id, persona_id=conv.persona.id,
                               scenario_id=conv.scenario.id if conv.scenario else None,
                               assignment_id=conv.assignment_id,
                               sources=[SourceOut.model_validate(s) for s in sources], offline=event.offline,
                               model=event.model, usage=UsageOut.model_validate(event.usage.as_dict()),
                               timings=event.timings)
    raise ServiceUnavailable("The answer ended unexpectedly; try again.", details={"retryable": True})


def _http_error(event: Failed) -> SparringError:
    details = {"retryable": event.retryable, "session_id": str(event.session_id),
               "user_message_id": str(event.user_message_id) if event.user_message_id else None}
    if event.status == 409:
        return Conflict(event.message, code=event.code, details=details)
    return ServiceUnavailable(event.message, code=event.code, details=details)


async def _sse(events: AsyncGenerator[EngineEvent, None]) -> AsyncIterator[bytes]:
    async with aclosing(events):
        async for event in events:
            if isinstance(event, Delta):
                yield sse("delta", {"text": event.text})
            elif isinstance(event, Sources):
                yield sse("sources", {"sources": event.items})
            elif isinstance(event, Done):
                yield sse("done", {"message_id": str(event.message_id), "session_id": str(event.session_id),
                                   "user_message_id": str(event.user_message_id), "usage": event.usage.as_dict(),
                                   "timings": event.timings, "offline": event.offline, "model": event.model})
            elif isinstance(event, Failed):
                yield sse("error", {"code": event.code, "message": event.message, "retryable": event.retryable,
                                    "session_id": str(event.session_id),
                                    "user_message_id": str(event.user_message_id) if event.user_message_id else None})


ENDPOINTS = [chat]
