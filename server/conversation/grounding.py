"""Retrieval seen from a conversation: the `Retriever` the engine depends on, and sources.

The documents feature (server/rag) provides the real retriever; anything with an async
`search(dealership_id, query, top_k)` returning passage-like objects fits. The dealership id
is always the session's own, so answers cite only that dealership's documents.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

EXCERPT_CHARS = 300


class PassageLike(Protocol):
    @property
    def document_id(self) -> uuid.UUID: ...
    @property
    def filename(self) -> str: ...
    @property
    def page(self) -> int | None: ...
    @property
    def text(self) -> str: ...
    @property
    def score(self) -> float: ...


class Retriever(Protocol):
    async def search(self, dealership_id: uuid.UUID, query: str, top_k: int) -> Sequence[PassageLike]: ...


@dataclass(frozen=True, slots=True)
class Passage:
    document_id: uuid.UUID
    filename: str
    page: int | None
    text: str
    score: float
    heading: str | None = None  # the section the passage starts in, where the document has headings

    @classmethod
    def of(cls, item: PassageLike) -> Passage:
        heading = getattr(item, "heading", None)  # (optional: not every retriever knows one)
        return cls(document_id=item.document_id, filename=item.filename, page=item.page, text=item.text,
                   score=float(item.score), heading=heading if isinstance(heading, str) else None)

    @property
    def citation(self) -> str:
        return f"{self.filename}, p. {self.page}" if self.page else self.filename

    def source(self, quoted: str | None = None) -> dict[str, Any]:
        """The shape the chat API returns in `sources` and stores with the message; the excerpt
        is what the answer `quoted`, or else the passage's beginning."""
        excerpt = " ".join((quoted or self.text).split())
        if len(excerpt) > EXCERPT_CHARS:
            excerpt = excerpt[: EXCERPT_CHARS - 1].rsplit(" ", 1)[0] + "…"
        return {"document_id": str(self.document_id), "filename": self.filename, "page": self.page,
                "excerpt": excerpt, "score": round(self.score, 4)}


async def retrieve(retriever: Retriever | None, dealership_id: uuid.UUID, query: str, top_k: int) -> list[Passage]:
    if retriever is None or top_k <= 0:
        return []
    return [Passage.of(item) for item in await retriever.search(dealership_id, query, top_k)]
