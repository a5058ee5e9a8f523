"""Waiting in tests on a busy machine: one generous deadline, and a poll for a condition.

Tests wait for an event or a state, never for a fixed time. A deadline only decides how long a
broken system takes to fail, so it is sized for a loaded machine (load 5 on 2 cores), never for
an idle one: PATIENCE_S (TEST_PATIENCE_S, default 60 s). The browser specs' equivalent is
PATIENCE_MS in web/e2e/lib.mjs.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from server.voice.client import VoiceClient
from server.voice.protocol import ServerEvent

T = TypeVar("T")

PATIENCE_S = float(os.environ.get("TEST_PATIENCE_S", "60"))


async def until(fetch: Callable[[], Awaitable[T]], done: Callable[[T], bool], *, wait_s: float = PATIENCE_S,
                interval_s: float = 0.1) -> T:
    """Calls `fetch` until `done(value)` holds and returns that value; at the deadline returns the
    last value instead, for the caller's assertion to show."""
    deadline = time.monotonic() + wait_s
    while True:
        value = await fetch()
        if done(value) or time.monotonic() >= deadline:
            return value
        await asyncio.sleep(interval_s)


class PatientVoiceClient(VoiceClient):
    """The voice client with the tests' deadlines: a wait shorter than PATIENCE_S is raised to it
    (the library's 10 s defaults suit a person at a terminal, not a test on a loaded machine)."""

    async def start(self, mode: str = "roleplay", *, persona_id: str | None = None, session_id: str | None = None,
                    output_rate: int = 16000, wait_s: float = PATIENCE_S,
                    scenario_id: str | None = None, avatar: str | None = None,
                    assignment_id: str | None = None) -> dict[str, Any]:
        return await super().start(mode, persona_id=persona_id, session_id=session_id, output_rate=output_rate,
                                   wait_s=max(wait_s, PATIENCE_S), scenario_id=scenario_id, avatar=avatar,
                                   assignment_id=assignment_id)

    async def wait_for(self, kind: ServerEvent | str, *, wait_s: float = PATIENCE_S) -> dict[str, Any]:
        return await super().wait_for(kind, wait_s=max(wait_s, PATIENCE_S))

    async def closed(self, wait_s: float = PATIENCE_S) -> int | None:
        return await super().closed(max(wait_s, PATIENCE_S))
