"""Which reader turns answers into fields: the model's when one is configured, else the rules."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from server.conversation.llm import LLM
from server.training.builder import extract_offline, flow, transcript
from server.training.builder.extract_offline import Reading
from server.training.builder.extract_online import OnlineReader
from server.training.builder.flow import BuilderState


class Reader(flow.Reader, Protocol):
    """An answer reader that also drafts from a pasted conversation."""

    async def transcript(self, text: str) -> dict[str, Any]: ...


class OfflineReader:
    async def read(self, text: str, state: BuilderState) -> Reading:
        return extract_offline.read(text, state.stage, state.collected)

    async def transcript(self, text: str) -> dict[str, Any]:
        # Up to 50,000 characters: read in a thread, so the event loop keeps its turns (the
        # interpreter switches threads every 5 ms) where reading it inline could stall it for a
        # tenth of a second or more (tests/bench/builder_rules.py).
        return await asyncio.to_thread(transcript.read, text)


def reader_for(llm: LLM | None) -> Reader:
    return OnlineReader(llm) if llm is not None else OfflineReader()
