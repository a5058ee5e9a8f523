"""Helpers shared by the conversation tests: an SSE reader and a small in-test retriever."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

_WORD = re.compile(r"[a-z0-9']+")


def parse_sse(body: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in body.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            events.append((fields["event"], json.loads(fields["data"])))
    return events


@dataclass(frozen=True)
class Doc:
    document_id: uuid.UUID
    filename: str
    page: int | None
    text: str
    score: float = 0.0


class WordOverlapRetriever:
    """Implements `server.conversation.grounding.Retriever` over a few in-test passages, scored by
    word overlap; records the dealership each search was for.
    # replaced by the real RAG retriever at merge"""

    def __init__(self) -> None:
        self.docs: dict[uuid.UUID, list[Doc]] = {}
        self.calls: list[uuid.UUID] = []

    def add(self, dealership_id: uuid.UUID, filename: str, page: int | None, text: str) -> Doc:
        doc = Doc(uuid.uuid4(), filename, page, text)
        self.docs.setdefault(dealership_id, []).append(doc)
        return doc

    async def search(self, dealership_id: uuid.UUID, query: str, top_k: int) -> list[Doc]:
        self.calls.append(dealership_id)
        wanted = set(_WORD.findall(query.lower()))
        scored = []
        for doc in self.docs.get(dealership_id, []):
            overlap = len(wanted & set(_WORD.findall(doc.text.lower())))
            if overlap:
                scored.append(Doc(doc.document_id, doc.filename, doc.page, doc.text, overlap / len(wanted)))
        return sorted(scored, key=lambda d: -d.score)[:top_k]
