"""What `ConversationEngine.reply()` yields, in order: `Started` (the ids, once the user's turn
is saved), `Delta`s as text arrives, then `Sources`, then `Done`; or, at any point, one `Failed`
(errors are data, so every channel can relay them)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from server.conversation.usage import Usage


@dataclass(frozen=True, slots=True)
class Started:
    session_id: uuid.UUID
    message_id: uuid.UUID  # the answer's id, known up front so a barge-in can name it
    user_message_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class Delta:
    text: str


@dataclass(frozen=True, slots=True)
class Sources:
    items: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Done:
    session_id: uuid.UUID
    message_id: uuid.UUID
    user_message_id: uuid.UUID
    text: str
    usage: Usage
    timings: dict[str, float | None]
    offline: bool
    model: str
    flags: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Failed:
    code: str
    message: str
    retryable: bool
    session_id: uuid.UUID
    user_message_id: uuid.UUID | None = None
    # The HTTP status a request/response channel answers with (503 for provider faults).
    status: int = 503


EngineEvent = Started | Delta | Sources | Done | Failed
