"""The conversation engine behind the voice channel (`server.voice.brain.Brain`).

Sessions, personas, grounding and history live in Postgres through `ConversationEngine`, so a
voice session resumed after a dropped socket continues with full history on any instance, and
a typed chat and a spoken turn share one transcript.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from server.conversation.engine import Conversation, ConversationEngine
from server.conversation.events import Delta, Failed
from server.conversation.events import Done as EngineDone
from server.conversation.events import Sources as EngineSources
from server.conversation.models import Channel, Mode
from server.errors import Conflict, NotFound, SparringError
from server.tenancy import Principal
from server.training import turns
from server.voice.brain import BrainError, Done, OpenedSession, OpenRequest, ReplyEvent, Sources, TextDelta
from server.voice.protocol import ErrorCode

_OPEN_ERRORS = {"not_found": ErrorCode.session_not_found, "persona_disabled": ErrorCode.persona_not_found}


class EngineBrain:
    def __init__(self, engine: ConversationEngine) -> None:
        self._engine = engine
        # Live voice sessions, counted: a resumed socket can open a session before the dropped
        # one's teardown closes it, and that late close must not pull it from under the new one.
        self._open: dict[str, tuple[Conversation, int]] = {}

    async def open(self, principal: Principal, request: OpenRequest) -> OpenedSession:
        try:
            mode = Mode(request.mode)
            session_id = uuid.UUID(request.session_id) if request.session_id else None
            assignment_id = uuid.UUID(request.assignment_id) if request.assignment_id else None
        except ValueError:
            raise BrainError(ErrorCode.malformed, "mode must be training or roleplay; session_id and assignment_id "
                                                  "UUIDs.") from None
        try:
            conv = await self._engine.open(principal, mode=mode, persona_id=request.persona_id,
                                           session_id=session_id, channel=Channel.voice,
                                           scenario_id=request.scenario_id, assignment_id=assignment_id)
        except NotFound as exc:
            code = ErrorCode.session_not_found if session_id else ErrorCode.scenario_not_found \
                if exc.message.startswith("Scenario") else ErrorCode.assignment_not_found \
                if exc.message.startswith("Assignment") else ErrorCode.persona_not_found
            raise BrainError(code, exc.message) from None
        except SparringError as exc:
            raise BrainError(_OPEN_ERRORS.get(exc.code, ErrorCode.malformed), exc.message) from None
        if conv.created:
            await self._engine.persist(conv)
        else:
            await self._engine.touch(conv.session_id)
        key = str(conv.session_id)
        self._open[key] = (conv, self._open.get(key, (conv, 0))[1] + 1)
        return OpenedSession(session_id=str(conv.session_id), offline=self._engine.offline,
                             dealership_id=str(conv.dealership_id), persona_id=conv.persona.id,
                             persona_name=conv.persona.name,
                             scenario_id=conv.scenario.id if conv.scenario else None,
                             time_left_s=turns.time_left(conv.scenario, conv.started_at) if conv.scenario else None)

    async def reply(self, session_id: str, user_text: str, message_id: uuid.UUID) -> AsyncGenerator[ReplyEvent]:
        entry = self._open.get(session_id)
        if entry is None:
            raise BrainError(ErrorCode.session_not_found, "This voice session is not open.")
        conv = entry[0]
        async with aclosing(self._engine.reply(conv, user_text, answer_id=message_id)) as events:
            async for event in events:
                if isinstance(event, Delta):
                    yield TextDelta(event.text)
                elif isinstance(event, EngineSources):
                    yield Sources(items=event.items)
                elif isinstance(event, EngineDone):
                    yield Done(usage=event.usage.as_dict())
                elif isinstance(event, Failed):
                    raise BrainError(ErrorCode.llm_failed, event.message, retryable=event.retryable)

    async def record_assistant(self, session_id: str, message_id: uuid.UUID, text: str, *,
                               interrupted: bool) -> None:
        # The engine stores every answer itself (the partial one too, when a barge-in cancels
        # the stream); an interruption only trims it to what the user heard.
        if interrupted:
            await self._engine.record_interrupted(message_id, text)

    async def record_metrics(self, session_id: str, message_id: uuid.UUID, metrics: dict[str, Any]) -> None:
        await self._engine.record_metrics(message_id, metrics)

    async def end(self, principal: Principal, session_id: str) -> bool:
        try:
            await self._engine.end(principal, uuid.UUID(session_id))
        except Conflict:  # ended already (from another tab, or over REST)
            return False
        return True

    async def expire(self, session_id: str, idle_s: float) -> float | None:
        return await self._engine.expire(uuid.UUID(session_id), idle_s=idle_s)

    async def close(self, session_id: str) -> None:
        conv, count = self._open.get(session_id, (None, 0))
        if count > 1 and conv is not None:
            self._open[session_id] = (conv, count - 1)
        else:
            self._open.pop(session_id, None)
