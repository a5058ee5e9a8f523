"""A scenario's customer turn, as the engine plays and tags it (online and offline).

Offline, the scenario customer (`customer.py`) says which facts its reply reveals. Online, the
model's reply is tagged here the same way: `facts_revealed` holds the hidden facts the reply
states after a trainee turn that asked for them (`facts.revealed`), judged per turn and stored
on the customer's message, so the scorecard can say in which turn each came out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from server.conversation.personas import PersonaView
from server.errors import Conflict
from server.training.customer import scenario_reply
from server.training.facts import revealed
from server.training.spec import FrozenScenario

TIME_LIMIT_REACHED = "time_limit_reached"
History = list[tuple[str, str, dict[str, Any]]]


def already_revealed(history: History) -> set[str]:
    return {key for role, _, tags in history if role == "assistant" for key in tags.get("facts_revealed") or []}


def offline_reply(scenario: FrozenScenario, persona: PersonaView, history: History,
                  user_text: str) -> tuple[str, dict[str, Any]]:
    text, tags = scenario_reply(scenario, persona, history, user_text)
    tags.setdefault("facts_revealed", [])
    return text, tags


def online_tags(scenario: FrozenScenario, history: History, user_text: str, answer: str,
                tags: dict[str, Any]) -> dict[str, Any]:
    """The model's reply's tags plus the facts it revealed this turn."""
    found = revealed(scenario.spec.hidden_facts, user_text, answer, already_revealed(history))
    return {**tags, "facts_revealed": list(found)}


def time_up(scenario: FrozenScenario, started_at: datetime) -> Conflict | None:
    """A scenario with a time limit takes no turn once it has passed (409 `time_limit_reached`):
    the trainee ends the session for the scorecard; a voice session is ended by the server."""
    limit = scenario.spec.time_limit_s
    if limit is None or (datetime.now(UTC) - started_at).total_seconds() <= limit:
        return None
    return Conflict(f"The scenario's time limit ({limit} s) has passed; end the session to see the scorecard.",
                    code=TIME_LIMIT_REACHED)


def time_left(scenario: FrozenScenario, started_at: datetime | None) -> float | None:
    """Seconds until the scenario's time limit passes (None: it has none); from now for a new session."""
    limit = scenario.spec.time_limit_s
    if limit is None:
        return None
    elapsed = (datetime.now(UTC) - started_at).total_seconds() if started_at is not None else 0.0
    return max(0.0, limit - elapsed)
