"""The embedding provider interface, and the choice between OpenAI and the offline embedder."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from server.settings import Settings


class Embedder(Protocol):
    """`model` and `dimension` are recorded with each dealership's index: vectors made by
    different models are never compared."""

    model: str
    dimension: int
    offline: bool

    async def embed_documents(self, texts: Sequence[str]) -> list[list[float]]: ...

    async def embed_query(self, text: str) -> list[float]: ...

    async def close(self) -> None: ...


def build_embedder(settings: Settings) -> Embedder:
    if settings.openai_api_key:
        from server.rag.openai_embeddings import OpenAIEmbedder

        return OpenAIEmbedder(api_key=settings.openai_api_key,
                              base_url=settings.embedding_base_url or settings.openai_base_url,
                              model=settings.embedding_model, batch_size=settings.embedding_batch_size)
    from server.rag.hashing import HashingEmbedder

    return HashingEmbedder()
