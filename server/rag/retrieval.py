"""Hybrid retrieval for one dealership: Postgres full text and vector search, fused by
reciprocal rank fusion; chunks with the same text (the same passage uploaded twice) collapse
into one result. This is the Python API the conversation engine grounds its answers on:

    results = await search(state, dealership_id, "customer wants to think about it", top_k=5)
    for r in results: r.document_id, r.filename, r.page, r.text, r.score

It sits on the critical path of every grounded answer, so it costs two database round trips,
with the query's embedding fetched beside the first:

1. the dealership's index record and the full-text ranking, in one statement;
2. (unless the result cache answers) the nearest vectors and the rows of every candidate, in
   one statement when the vectors live in Postgres; an outside store (Pinecone) is asked for
   its nearest ids first.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy import text

from server.db.engine import DriverStatement, driver_of, plain_uuid, pooled
from server.rag.services import RagServices
from server.rag.stores.base import Executor, IndexInfo, vector_literal
from server.tasks import Interruption

RRF_K = 60
MAX_TOP_K = 20  # the API's and the engine's limit


def candidates_for(top_k: int) -> int:
    """How many candidates each search ranks for `top_k` results (at most 80)."""
    return max(min(top_k, MAX_TOP_K) * 4, 20)


MAX_CANDIDATES = candidates_for(MAX_TOP_K)
_BEST = 2.0 / (RRF_K + 1)  # ranked first by both searches


@dataclass(frozen=True, slots=True)
class SearchResult:
    document_id: uuid.UUID
    filename: str
    page: int | None
    text: str
    score: float  # 1.0 = ranked first by both full text and vectors
    chunk_id: uuid.UUID
    page_end: int | None = None
    heading: str | None = None


def _services(deps: Any) -> RagServices:
    services = getattr(deps, "rag", deps)
    if not isinstance(services, RagServices):
        raise TypeError("search() needs the AppState or RagServices")
    return services


async def search(deps: Any, dealership_id: uuid.UUID, query: str, top_k: int = 5) -> list[SearchResult]:
    """Top passages of `dealership_id`'s documents for `query` (AppState or RagServices as deps)."""
    services = _services(deps)
    # Reads only, each statement consistent on its own.
    async with pooled(services.engine) as conn:
        return await search_in_session(services, conn, dealership_id, query, top_k)


async def search_in_session(services: RagServices, db: Executor, dealership_id: uuid.UUID,
                            query: str, top_k: int) -> list[SearchResult]:
    query = " ".join(query.split())
    if not query:
        return []
    return await _search(services, db, dealership_id, query, top_k)


@dataclass(slots=True)
class _FirstStatement:
    """What the first statement found, and whether the query's embedding still matters."""

    index: IndexInfo | None = None
    full_text: list[uuid.UUID] = field(default_factory=list)
    key: str = ""
    cached: list[SearchResult] | None = None
    settled: bool = False  # finished, and the embedding is not needed (or the statement failed)


async def _search(services: RagServices, db: Executor, dealership_id: uuid.UUID, query: str,
                  top_k: int) -> list[SearchResult]:
    """The query's embedding is asked for before we know whether the dealership has an index or
    the cache has the answer: the provider's round trip, the longest wait on the way to the
    model, overlaps the first statement instead of following it. It is awaited in this task,
    its request leaving first; the statement runs beside it in a task of its own. (The other way
    round cost two more turns of the event loop on the critical path: one to start the
    embedding's task, one to hand its result over.) When the statement shows the embedding is
    not needed (no index, a cached answer, vectors of another model) or fails, it interrupts the
    wait."""
    candidates = candidates_for(top_k)
    conn = await driver_of(db)
    found = _FirstStatement()
    stop = Interruption()

    async def first_statement() -> None:
        try:
            found.index, found.full_text = await _index_and_full_text(conn, dealership_id, query, candidates)
            if found.index is not None:
                found.key = services.cache.results_key(dealership_id, found.index.generation, found.index.model,
                                                       top_k, query)
                cached = await services.cache.results(found.key)
                found.cached = None if cached is None else [_from_json(item) for item in cached]
            # Never compare vectors of different models (the index is being rebuilt for a new one).
            found.settled = (found.index is None or found.cached is not None
                             or found.index.model != services.embedder.model)
        except BaseException:
            found.settled = True
            raise
        finally:
            if found.settled:
                stop.now()  # (only while the search still waits for the embedding)

    statement = asyncio.ensure_future(first_statement())
    vector: list[float] | None = None
    try:
        try:
            with stop:
                vector = await _query_vector(services, query)
        except Exception:
            await asyncio.wait([statement])
            if not found.settled:
                raise  # needed, and failed
        await statement  # done by now, as a rule: then no turn of the loop
        if found.index is None:
            return []
        if found.cached is not None:
            return found.cached
        if found.index.model != services.embedder.model:
            vector = None
        results = await _nearest_and_fuse(services, db, conn, found.index, found.full_text, vector, candidates,
                                          top_k)
        services.cache.put_results(found.key, [_to_json(r) for r in results])
        return results
    finally:
        if not statement.done():  # this search was cancelled: the connection must be free first
            statement.cancel()
            again = False
            while not statement.done():  # even through another cancellation
                try:
                    await asyncio.wait([statement])
                except asyncio.CancelledError:
                    again = True
            if again:
                raise asyncio.CancelledError
        if not statement.cancelled():
            statement.exception()  # retrieved: a failure seen by nobody is not logged as lost


async def _query_vector(services: RagServices, query: str) -> list[float]:
    model = services.embedder.model
    vector = await services.cache.embedding(model, query)
    if vector is None:
        vector = await services.embedder.embed_query(query)
        services.cache.put_embedding(model, query, vector)
    return vector


# Full text in two passes: chunks containing every query term first (websearch-style AND),
# then, only if those are too few, chunks containing any term (the second pass sits behind a
# one-time filter, so PostgreSQL skips it otherwise). Ranking reads each candidate's tsvector,
# so at most FULL_TEXT_CAP candidates per pass are ranked: a query made of words that occur
# everywhere stays fast on a large dealership (the vector search carries the meaning).
# The dealership's index record comes back on every row (and no row at all without one).
FULL_TEXT_CAP = 300
_INDEX_AND_FULL_TEXT = DriverStatement(text("""
WITH q AS (
    SELECT plainto_tsquery('english', :q) AS every,
           CAST(nullif(replace(CAST(plainto_tsquery('english', :q) AS text), '&', '|'), '') AS tsquery) AS some
),
idx AS (SELECT generation, model, dimension, hnsw_index FROM rag_index WHERE dealership_id = :d),
every_term AS MATERIALIZED (
    SELECT c.id, ts_rank_cd(c.tsv, q.every) AS rank
    FROM (SELECT c.id, c.tsv FROM rag_chunk c, q WHERE c.dealership_id = :d AND c.tsv @@ q.every LIMIT :cap) c, q
    ORDER BY rank DESC, c.id LIMIT :k
),
some_term AS (
    SELECT c.id, ts_rank_cd(c.tsv, q.some) AS rank
    FROM (SELECT c.id, c.tsv FROM rag_chunk c, q WHERE c.dealership_id = :d AND c.tsv @@ q.some LIMIT :cap) c, q
    WHERE (SELECT count(*) FROM every_term) < :k
    ORDER BY rank DESC, c.id LIMIT :k
),
ranked AS (
    SELECT id, 0 AS pass, rank FROM every_term
    UNION ALL
    SELECT id, 1 AS pass, rank FROM some_term
)
SELECT idx.generation, idx.model, idx.dimension, idx.hnsw_index, ranked.id
FROM idx LEFT JOIN ranked ON true
ORDER BY ranked.pass, ranked.rank DESC, ranked.id
"""))


async def _index_and_full_text(conn: asyncpg.Connection, dealership_id: uuid.UUID, query: str,
                               k: int) -> tuple[IndexInfo | None, list[uuid.UUID]]:
    rows = await _INDEX_AND_FULL_TEXT.fetch(conn, {"q": query, "d": dealership_id, "k": k, "cap": FULL_TEXT_CAP})
    if not rows:
        return None, []
    first = rows[0]
    index = IndexInfo(dealership_id=dealership_id, model=first["model"], dimension=first["dimension"],
                      generation=first["generation"], hnsw_index=first["hnsw_index"])
    ranked: list[uuid.UUID] = []
    for row in rows:
        if row["id"] is not None and row["id"] not in ranked:
            ranked.append(row["id"])
    return index, ranked[:k]


# The candidates' rows, with the vector rank of those the vector search found, looked up by
# primary key from the candidate ids (never a scan of the dealership's chunks). The dealership
# filter applies again: ids from an outside store are never trusted blindly.
_ROWS = """
WITH nearest AS MATERIALIZED ({nearest}),
vector_ranked AS (SELECT id, row_number() OVER (ORDER BY distance, id) AS rank FROM nearest),
candidates AS (SELECT id FROM nearest UNION SELECT unnest(CAST(:full_text AS uuid[])))
SELECT c.id, c.document_id, c.page, c.page_end, c.heading, c.text, c.text_hash, d.filename,
       vector_ranked.rank AS vector_rank
FROM candidates
JOIN rag_chunk c ON c.id = candidates.id AND c.dealership_id = :d
JOIN rag_document d ON d.id = c.document_id
LEFT JOIN vector_ranked ON vector_ranked.id = c.id
"""
_OUTSIDE = ("SELECT id, ordinality AS distance "
            "FROM unnest(CAST(:outside AS uuid[])) WITH ORDINALITY AS t(id, ordinality)")


@functools.lru_cache(maxsize=256)
def _rows_statement(nearest: str) -> DriverStatement:
    """`_ROWS` around one nearest-vectors query (one per dealership with an HNSW index of its own)."""
    return DriverStatement(text(_ROWS.format(nearest=nearest)))


async def _nearest_and_fuse(services: RagServices, db: Executor, conn: asyncpg.Connection, index: IndexInfo,
                            full_text: list[uuid.UUID], vector: Sequence[float] | None, k: int,
                            top_k: int) -> list[SearchResult]:
    params: dict[str, Any] = {"d": index.dealership_id, "full_text": full_text, "outside": [], "k": k}
    nearest = services.store.nearest_sql(index) if vector is not None else None
    if vector is not None and nearest is not None:
        params.update(q=vector_literal(vector), m=index.model)
    else:
        nearest = _OUTSIDE
        if vector is not None:  # vectors in an outside store (Pinecone): its ids, in its order
            params["outside"] = [hit.chunk_id for hit in await services.store.search(db, index, vector, k)]
    if not full_text and not params["outside"] and vector is None:
        return []
    rows = await _rows_statement(nearest).fetch(conn, params)
    full_text_rank = {chunk: rank for rank, chunk in enumerate(full_text, start=1)}
    best: dict[str, tuple[float, asyncpg.Record]] = {}
    for row in rows:
        chunk_id = row["id"]
        score = 0.0
        if chunk_id in full_text_rank:
            score += 1.0 / (RRF_K + full_text_rank[chunk_id])
        if row["vector_rank"] is not None:
            score += 1.0 / (RRF_K + row["vector_rank"])
        kept = best.get(row["text_hash"])
        if kept is None or score > kept[0] or (score == kept[0] and str(chunk_id) < str(kept[1]["id"])):
            best[row["text_hash"]] = (score, row)
    ordered = sorted(best.values(), key=lambda item: (-item[0], str(item[1]["id"])))[:top_k]
    return [SearchResult(document_id=plain_uuid(row["document_id"]), filename=row["filename"], page=row["page"],
                         text=row["text"], score=round(score / _BEST, 6), chunk_id=plain_uuid(row["id"]),
                         page_end=row["page_end"], heading=row["heading"]) for score, row in ordered]


def _to_json(result: SearchResult) -> dict[str, Any]:
    # By hand: `dataclasses.asdict` deep-copies every field, ~0.1 ms a result on the way to the model.
    return {"document_id": str(result.document_id), "filename": result.filename, "page": result.page,
            "text": result.text, "score": result.score, "chunk_id": str(result.chunk_id),
            "page_end": result.page_end, "heading": result.heading}


def _from_json(data: dict[str, Any]) -> SearchResult:
    return SearchResult(**{**data, "document_id": uuid.UUID(data["document_id"]),
                           "chunk_id": uuid.UUID(data["chunk_id"])})


class RagRetriever:
    """These documents as the conversation engine's `Retriever` (server.conversation.grounding)."""

    def __init__(self, services: RagServices) -> None:
        self._services = services

    async def search(self, dealership_id: uuid.UUID, query: str, top_k: int) -> list[SearchResult]:
        return await search(self._services, dealership_id, query, top_k)
