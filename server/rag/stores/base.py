"""The vector store interface. Chunk text and full text always live in Postgres; a store keeps
the vectors (in Postgres itself for pgvector, or in a Pinecone namespace per dealership)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

Executor = AsyncSession | AsyncConnection


@dataclass(frozen=True, slots=True)
class IndexInfo:
    """One dealership's index, as recorded in `rag_index`."""

    dealership_id: uuid.UUID
    model: str
    dimension: int
    generation: int
    hnsw_index: str | None = None


@dataclass(frozen=True, slots=True)
class VectorRecord:
    chunk_id: uuid.UUID
    document_id: uuid.UUID
    vector: Sequence[float]


@dataclass(frozen=True, slots=True)
class VectorHit:
    chunk_id: uuid.UUID
    score: float


class VectorStore(Protocol):
    name: str
    # True: vectors are written with the chunk rows (same transaction), nothing else to do.
    in_postgres: bool

    async def upsert(self, index: IndexInfo, records: Sequence[VectorRecord]) -> None: ...

    async def delete(self, dealership_id: uuid.UUID, chunk_ids: Sequence[uuid.UUID]) -> None: ...

    async def drop_dealership(self, dealership_id: uuid.UUID) -> None: ...

    async def search(self, db: Executor, index: IndexInfo, vector: Sequence[float],
                     k: int) -> list[VectorHit]: ...

    def nearest_sql(self, index: IndexInfo) -> str | None:
        """For vectors kept in Postgres: a query for the `:k` chunks nearest to the vector `:q`,
        as (id, distance), which retrieval joins into its own statement (one round trip);
        `:d` and `:m` are the dealership and model. None for an outside store."""
        ...

    async def close(self) -> None: ...


def vector_literal(vector: Sequence[float]) -> str:
    """pgvector's text form (`[0.1,0.2,...]`, the same as JSON). orjson writes 1,536 floats in a
    few microseconds, where formatting them one by one in Python took ~1 ms per query."""
    return orjson.dumps(vector if isinstance(vector, list) else [float(x) for x in vector]).decode()
