"""Vectors in Postgres (pgvector). Exactly k results under a tenant filter, by plan:

- small dealerships (at most `exact_scan_max` chunks): an exact scan of the dealership's rows,
  found through the (dealership_id, model) B-tree. Nothing is filtered after the fact.
- large dealerships: their own partial HNSW index (`WHERE dealership_id = ... AND model = ...`),
  so the graph holds only their vectors and the index scan never post-filters. Built once the
  dealership passes the threshold; until it exists the exact plan keeps answering correctly.

pgvector 0.6 (bundled with pgserver) has no iterative index scans, and a table-wide HNSW index
filtered by dealership would return fewer than k rows (pgvector#259), hence this design.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from server.rag.stores.base import Executor, IndexInfo, VectorHit, VectorRecord, vector_literal

log = logging.getLogger(__name__)


def index_name(dealership_id: uuid.UUID, dimension: int) -> str:
    return f"ix_rag_chunk_hnsw_{dealership_id.hex}_{dimension}"


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class PgVectorStore:
    name = "pgvector"
    in_postgres = True

    async def upsert(self, index: IndexInfo, records: Sequence[VectorRecord]) -> None:
        return None  # written with the chunk rows

    async def delete(self, dealership_id: uuid.UUID, chunk_ids: Sequence[uuid.UUID]) -> None:
        return None  # deleted with the chunk rows

    async def drop_dealership(self, dealership_id: uuid.UUID) -> None:
        return None  # rows cascade; the partial index is dropped by `drop_index`

    async def close(self) -> None:
        return None

    def nearest_sql(self, index: IndexInfo) -> str:
        if index.hnsw_index:
            dim = int(index.dimension)
            # Literals, not bind parameters: the planner must see that the WHERE clause implies
            # the partial index's predicate. Both values are ours (UUID, model name). The
            # search breadth, hnsw.ef_search, is set on every connection (server.db.engine).
            return (f"SELECT id, embedding::vector({dim}) <=> CAST(:q AS vector({dim})) AS distance "  # noqa: S608
                    f"FROM rag_chunk WHERE dealership_id = {_quote(str(index.dealership_id))} "
                    f"AND model = {_quote(index.model)} "
                    f"ORDER BY embedding::vector({dim}) <=> CAST(:q AS vector({dim})) LIMIT :k")
        # The untyped `embedding <=> q` matches no index expression: an exact scan.
        return ("SELECT id, embedding <=> CAST(:q AS vector) AS distance FROM rag_chunk "
                "WHERE dealership_id = :d AND model = :m ORDER BY embedding <=> CAST(:q AS vector) LIMIT :k")

    async def search(self, db: Executor, index: IndexInfo, vector: Sequence[float], k: int) -> list[VectorHit]:
        rows = await db.execute(text(self.nearest_sql(index)), {
            "q": vector_literal(vector), "d": index.dealership_id, "m": index.model, "k": k})
        return [VectorHit(chunk_id=row.id, score=1.0 - float(row.distance)) for row in rows]


async def ensure_index(engine: AsyncEngine, dealership_id: uuid.UUID, *, exact_scan_max: int) -> str | None:
    """Build the dealership's own HNSW index once it is large; returns its name (or None)."""
    async with engine.connect() as conn:
        row = (await conn.execute(text(
            "SELECT model, dimension, hnsw_index FROM rag_index WHERE dealership_id = :d"),
            {"d": dealership_id})).one_or_none()
        if row is None:
            return None
        name = index_name(dealership_id, row.dimension)
        if row.hnsw_index == name:
            return name
        count = (await conn.execute(text(
            "SELECT count(*) FROM rag_chunk WHERE dealership_id = :d AND model = :m"),
            {"d": dealership_id, "m": row.model})).scalar_one()
        await conn.rollback()  # end the read transaction before switching to autocommit
        if count <= exact_scan_max:
            return None
        # CONCURRENTLY: ingestion and queries for everyone keep going while it builds.
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await auto.execute(text(f"DROP INDEX CONCURRENTLY IF EXISTS {name}"))
        await auto.execute(text(
            f"CREATE INDEX CONCURRENTLY {name} ON rag_chunk USING hnsw "
            f"((embedding::vector({int(row.dimension)})) vector_cosine_ops) WITH (m = 16, ef_construction = 128) "
            f"WHERE dealership_id = {_quote(str(dealership_id))} AND model = {_quote(row.model)}"))
        # Fresh statistics, or the planner (still thinking the dealership is tiny) skips the index.
        await auto.execute(text("ANALYZE rag_chunk"))
        await auto.execute(text("UPDATE rag_index SET hnsw_index = :n WHERE dealership_id = :d AND model = :m"),
                           {"n": name, "d": dealership_id, "m": row.model})
        log.info("built per-dealership HNSW index", extra={"dealership_id": str(dealership_id), "chunks": count})
        return name


async def drop_index(engine: AsyncEngine, name: str) -> None:
    async with engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await auto.execute(text(f"DROP INDEX CONCURRENTLY IF EXISTS {name}"))
