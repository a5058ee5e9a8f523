"""`StandaloneBrain`: a stage-level test harness that feeds the voice reply pipeline.

The server uses `server.voice.engine_brain.EngineBrain`; this one streams from an OpenAI-compatible
endpoint (the fake) with in-memory history, so the pipeline stages can be tested on their own.

It streams replies from an OpenAI-compatible chat endpoint and keeps sessions in process memory
(so resume works only on the same instance, and nothing survives a restart). It exists so the
voice path can be built and tested before the conversation engine (issue 4) is wired in; the
real engine replaces it by implementing `server.voice.brain.Brain`. Without an API key it
answers with a short offline acknowledgement, labelled offline in `ready`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any, cast

import openai

from server.tenancy import Principal
from server.voice.brain import BrainError, Done, OpenedSession, OpenRequest, ReplyEvent, TextDelta

MODES = {
    "roleplay": "You are a car buyer at a dealership raising objections. Speak briefly and naturally.",
    "training": "You are Adam, a sales trainer coaching a dealership salesperson. Answer briefly.",
}


@dataclass
class _Conversation:
    owner: uuid.UUID
    mode: str
    messages: list[dict[str, str]]
    interrupted: set[uuid.UUID] = field(default_factory=set)
    metrics: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)


class StandaloneBrain:
    def __init__(self, client: openai.AsyncOpenAI | None, *, model: str) -> None:
        self._client = client
        self._model = model
        self.conversations: dict[str, _Conversation] = {}

    async def open(self, principal: Principal, request: OpenRequest) -> OpenedSession:
        if request.session_id is not None:
            conversation = self.conversations.get(request.session_id)
            if conversation is None or conversation.owner != principal.user_id:
                raise BrainError("session_not_found", "No such voice session to resume.")
            return OpenedSession(request.session_id, offline=self._client is None)
        if request.mode not in MODES:
            raise BrainError("bad_mode", f"mode must be one of {sorted(MODES)}")
        session_id = str(uuid.uuid4())
        self.conversations[session_id] = _Conversation(
            owner=principal.user_id, mode=request.mode,
            messages=[{"role": "system", "content": MODES[request.mode]}])
        return OpenedSession(session_id, offline=self._client is None)

    async def reply(self, session_id: str, user_text: str, message_id: uuid.UUID) -> AsyncGenerator[ReplyEvent]:
        conversation = self.conversations[session_id]
        conversation.messages.append({"role": "user", "content": user_text})
        if self._client is None:
            yield TextDelta(f"I heard you say: {user_text}. I am running offline.")
            yield Done()
            return
        try:
            stream = await self._client.chat.completions.create(
                model=self._model, messages=cast(Any, conversation.messages),
                stream=True, stream_options={"include_usage": True})
            usage: dict[str, Any] = {}
            async with stream:
                async for chunk in stream:
                    if chunk.usage is not None:
                        usage = chunk.usage.model_dump()
                    if chunk.choices and chunk.choices[0].delta.content:
                        yield TextDelta(chunk.choices[0].delta.content)
        except openai.APIStatusError as exc:
            raise BrainError("llm_failed", f"the language model answered {exc.status_code}",
                             retryable=exc.status_code >= 500 or exc.status_code == 429) from exc
        except openai.APIError as exc:
            raise BrainError("llm_failed", "the language model stream broke off", retryable=True) from exc
        yield Done(usage=usage)

    async def record_assistant(self, session_id: str, message_id: uuid.UUID, text: str, *,
                               interrupted: bool) -> None:
        conversation = self.conversations[session_id]
        conversation.messages.append({"role": "assistant", "content": text})
        if interrupted:
            conversation.interrupted.add(message_id)

    async def end(self, principal: Principal, session_id: str) -> bool:
        return self.conversations.pop(session_id, None) is not None

    async def expire(self, session_id: str, idle_s: float) -> float | None:
        self.conversations.pop(session_id, None)
        return None

    async def close(self, session_id: str) -> None:
        pass  # history stays for an in-process resume

    async def record_metrics(self, session_id: str, message_id: uuid.UUID, metrics: dict[str, Any]) -> None:
        self.conversations[session_id].metrics[message_id] = metrics
