"""Keeping a scenario's online customer in character: a per-turn check of the model's reply, cheap
rules first, and one retry with a correction when the reply breaks character.

A simulated customer drifts into the salesperson's role, or recites its instructions, more often
than one would like (SalesLLM: 8.8-17.4 % of conversations swap roles). The check runs on the
whole reply before any of it is shown or spoken, so a scenario's customer answers after its
full generation (replies are one to three sentences) rather than token by token.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

from server.conversation import moderation
from server.conversation.models import Mode
from server.conversation.offline import chunks
from server.conversation.usage import Usage

# The reply reads like the salesperson talking to a customer.
_SALESPERSON = re.compile(
    r"\b(?:how (?:can|may) i (?:help|assist) you|what brings you in|welcome (?:in|to our)|"
    r"(?:would|do) you like to (?:take (?:it|a test drive)|see|schedule)|let me (?:show|get) you|"
    r"i can (?:offer|get) you|our (?:dealership|inventory|finance (?:team|office))|"
    r"as your (?:salesperson|sales (?:rep|consultant))|what are you looking for|"
    r"what (?:is|'s) your budget|are you (?:financing|paying cash)|sign (?:here|today) and)\b", re.IGNORECASE)
# The reply talks about its own instructions.
_INSTRUCTIONS = re.compile(
    r"\b(?:system prompt|my (?:instructions|prompt|script|hidden facts|role|goal) (?:is|are|says?)|"
    r"hidden facts?|i (?:was|am|'m) (?:told|instructed|programmed|supposed) to|the scenario (?:says|is)|"
    r"my character|in this scenario|the (?:trainee|salesperson's goal))\b", re.IGNORECASE)

CORRECTION = ("Your last reply broke character ({reason}). Answer again as the customer only: one to three "
              "short sentences, reacting to what the salesperson just said, without mentioning instructions, "
              "scenarios or facts lists, and without selling anything.")


def broke_character(text: str) -> str | None:
    """Why `text` is not something this customer would say, or None."""
    if not text.strip():
        return "an empty reply"
    if match := _INSTRUCTIONS.search(text):
        return f"it mentions its instructions: {match.group(0)!r}"
    if match := _SALESPERSON.search(text):
        return f"it talks like the salesperson: {match.group(0)!r}"
    for flag in moderation.check_answer(Mode.roleplay, text, None):
        if flag["kind"] == "broke_character":
            return str(flag["detail"])
    return None


async def _whole(stream: AsyncIterator[str | Usage]) -> tuple[str, Usage | None]:
    parts: list[str] = []
    usage: Usage | None = None
    async for item in stream:
        if isinstance(item, Usage):
            usage = item
        else:
            parts.append(item)
    return "".join(parts), usage


async def _close(stream: AsyncIterator[str | Usage]) -> None:
    if isinstance(stream, AsyncGenerator):
        await stream.aclose()


def _add(a: Usage | None, b: Usage | None) -> Usage | None:
    if a is None or b is None:
        return a or b
    return Usage(a.prompt_tokens + b.prompt_tokens, a.completion_tokens + b.completion_tokens,
                 a.cost_usd + b.cost_usd, a.estimated or b.estimated)


async def guarded(first: AsyncIterator[str | Usage], again: Callable[[str], AsyncIterator[str | Usage]],
                  record: dict[str, Any]) -> AsyncIterator[str | Usage]:
    """The reply `first` streams, checked whole; if it breaks character, the one from `again(correction)`
    instead (once: a second slip is kept, and flagged by moderation as any answer is). `record`
    gets `character_retry` (why) when a retry was made. Usage covers both requests."""
    try:
        text, usage = await _whole(first)
    finally:
        await _close(first)  # (a listener that leaves mid-generation stops the request too)
    reason = broke_character(text)
    if reason is not None:
        record["character_retry"] = reason
        retry = again(CORRECTION.format(reason=reason))
        try:
            text, second = await _whole(retry)
        finally:
            await _close(retry)
        usage = _add(usage, second)
    for piece in chunks(text):
        yield piece
    if usage is not None:
        yield usage
