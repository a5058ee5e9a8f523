"""Vectors in Pinecone: one namespace per dealership (`dealership-<id>`), so a query can only
ever touch its own dealership's vectors. Upserts are batched within 1,000 vectors and 2 MB,
deletes within 1,000 ids."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import orjson

from server.errors import ServiceUnavailable
from server.rag.stores.base import Executor, IndexInfo, VectorHit, VectorRecord

MAX_VECTORS = 1000
MAX_BYTES = 2 * 1024 * 1024 - 64 * 1024  # leave room for the envelope
MAX_DELETE_IDS = 1000


def namespace(dealership_id: uuid.UUID) -> str:
    return f"dealership-{dealership_id}"


class PineconeStore:
    name = "pinecone"
    in_postgres = False

    def __init__(self, *, api_key: str, host: str, timeout: float = 30.0) -> None:
        from pinecone import AsyncIndex

        self.index = AsyncIndex(host=host, api_key=api_key, timeout=timeout)

    async def upsert(self, index: IndexInfo, records: Sequence[VectorRecord]) -> None:
        items = [{"id": str(r.chunk_id), "values": [float(x) for x in r.vector],
                  "metadata": {"document_id": str(r.document_id), "model": index.model}} for r in records]
        for batch in upsert_batches(items):
            await self._call(self.index.upsert(vectors=batch, namespace=namespace(index.dealership_id)))

    async def delete(self, dealership_id: uuid.UUID, chunk_ids: Sequence[uuid.UUID]) -> None:
        ids = [str(i) for i in chunk_ids]
        for start in range(0, len(ids), MAX_DELETE_IDS):
            await self._call(self.index.delete(ids=ids[start:start + MAX_DELETE_IDS],
                                               namespace=namespace(dealership_id)))

    async def drop_dealership(self, dealership_id: uuid.UUID) -> None:
        from pinecone.errors import NotFoundError

        try:
            await self._call(self.index.delete_namespace(name=namespace(dealership_id)))
        except ServiceUnavailable as exc:
            if not isinstance(exc.__cause__, NotFoundError):
                raise

    async def search(self, db: Executor, index: IndexInfo, vector: Sequence[float], k: int) -> list[VectorHit]:
        response = await self._call(self.index.query(
            vector=[float(x) for x in vector], top_k=k, namespace=namespace(index.dealership_id),
            filter={"model": {"$eq": index.model}}))
        return [VectorHit(chunk_id=uuid.UUID(match.id), score=float(match.score or 0.0))
                for match in response.matches]

    def nearest_sql(self, index: IndexInfo) -> None:
        return None  # the vectors live in Pinecone: `search` asks it

    async def close(self) -> None:
        await self.index.close()

    @staticmethod
    async def _call(awaitable: Any) -> Any:
        from pinecone.errors import PineconeError

        try:
            return await awaitable
        except PineconeError as exc:
            raise ServiceUnavailable("The vector store (Pinecone) failed; try again.",
                                     details={"retryable": True}) from exc


def upsert_batches(items: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    size = 0
    for item in items:
        item_size = len(orjson.dumps(item)) + 1
        if batch and (len(batch) >= MAX_VECTORS or size + item_size > MAX_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += item_size
    if batch:
        yield batch
