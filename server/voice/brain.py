"""The seam between the voice path and the conversation engine.

The voice session needs exactly this from the engine; anything that implements `Brain` can sit
behind `/api/v1/voice/live`. The server uses `EngineBrain` (server/voice/engine_brain.py), the
conversation engine every channel shares.

Contract:
- `open` creates a session, stored at once so that it can be resumed or ended before its
  first turn (or resumes `session_id`, which must belong to the principal), and says whether
  replies come from an offline engine and which persona answers. It raises `BrainError` for unknown modes,
  personas or sessions.
- `reply` stores the user's text as a message and streams the assistant's answer as
  `TextDelta`s, at most one `Sources`, then `Done`. The voice session chooses `message_id`;
  the engine must NOT store the assistant message itself.
- `record_assistant` is called exactly once per reply with the text the user actually heard
  (all of it unless `interrupted`); it stores the assistant message under `message_id`.
- `record_metrics` stores the per-turn timings for that message.
- `end` ends the session for good (the client sent `end`, or the socket's idle or length limit
  ran out): a session with turns gets its scorecard. False if it had ended already.
- `expire` ends a session whose socket dropped, once nobody has used it for `idle_s` (a turn or
  a resume counts as use): None when done, else the seconds to wait before asking again.
- `close` is called once when the socket ends, whatever happened.
Cancelling the `reply` iterator (barge-in) must close the provider stream at once.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any, Protocol

from server.tenancy import Principal


class BrainError(Exception):
    def __init__(self, code: str, message: str, *, retryable: bool = False) -> None:
        self.code = code
        self.message = message
        self.retryable = retryable
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class OpenRequest:
    mode: str
    persona_id: str | None = None
    session_id: str | None = None
    scenario_id: str | None = None
    assignment_id: str | None = None


@dataclass(frozen=True, slots=True)
class OpenedSession:
    session_id: str
    offline: bool
    dealership_id: str | None = None  # whose settings apply (e.g. audio recording); None: the caller's
    persona_id: str | None = None  # who the user talks to (the server picks one when the start names none)
    persona_name: str | None = None
    scenario_id: str | None = None  # the scenario practised, if any
    time_left_s: float | None = None  # until the scenario's time limit; None: no limit


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class Sources:
    items: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Done:
    usage: dict[str, Any] = field(default_factory=dict)


ReplyEvent = TextDelta | Sources | Done


class Brain(Protocol):
    async def open(self, principal: Principal, request: OpenRequest) -> OpenedSession: ...

    def reply(self, session_id: str, user_text: str, message_id: uuid.UUID) -> AsyncGenerator[ReplyEvent]: ...

    async def record_assistant(self, session_id: str, message_id: uuid.UUID, text: str, *,
                               interrupted: bool) -> None: ...

    async def record_metrics(self, session_id: str, message_id: uuid.UUID, metrics: dict[str, Any]) -> None: ...

    async def end(self, principal: Principal, session_id: str) -> bool: ...

    async def expire(self, session_id: str, idle_s: float) -> float | None: ...

    async def close(self, session_id: str) -> None: ...
