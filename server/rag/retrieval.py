"""Hybrid retrieval for one dealership: Postgres full text and vector search, fused by
reciprocal rank fusion; chunks with the same text (the same passage uploaded twice) collapse
into one result. This is the Python API the conversation engine grounds its answers on:

    results = await search(state, dealership_id, "customer wants to think about it", top_k=5)
    for r in results: r.document_id, r.filename, r.page, r.text, r.score
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from server.rag.indexes import load_index
from server.rag.services import RagServices
from server.rag.stores.base import IndexInfo

RRF_K = 60
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
    async with services.sessionmaker() as session:
        return await search_in_session(services, session, dealership_id, query, top_k)


async def search_in_session(services: RagServices, session: AsyncSession, dealership_id: uuid.UUID,
                            query: str, top_k: int) -> list[SearchResult]:
    query = " ".join(query.split())
    index = await load_index(session, dealership_id)
    if index is None or not query:
        return []
    key = services.cache.results_key(dealership_id, index.generation, index.model, top_k, query)
    cached = await services.cache.results(key)
    if cached is not None:
        return [_from_json(item) for item in cached]
    candidates = max(top_k * 4, 20)
    ranked_lists = [await _full_text(session, dealership_id, query, candidates)]
    if index.model == services.embedder.model:  # never compare vectors of different models
        ranked_lists.append(await _vector(services, session, index, query, candidates))
    results = await _fuse(session, dealership_id, ranked_lists, top_k)
    await services.cache.put_results(key, [_to_json(r) for r in results])
    return results


async def _vector(services: RagServices, session: AsyncSession, index: IndexInfo, query: str,
                  k: int) -> list[uuid.UUID]:
    model = services.embedder.model
    vector = await services.cache.embedding(model, query)
    if vector is None:
        vector = await services.embedder.embed_query(query)
        await services.cache.put_embedding(model, query, vector)
    return [hit.chunk_id for hit in await services.store.search(session, index, vector, k)]


# Full text in two passes: chunks containing every query term first (websearch-style AND),
# then, if those are too few, chunks containing any term. Ranking reads each candidate's
# tsvector, so at most FULL_TEXT_CAP candidates per pass are ranked: a query made of words that
# occur everywhere stays fast on a large dealership (the vector search carries the meaning).
FULL_TEXT_CAP = 300
_FULL_TEXT = """
WITH q AS (SELECT {tsquery} AS q),
candidates AS MATERIALIZED (
    SELECT c.id, c.tsv FROM rag_chunk c, q
    WHERE c.dealership_id = :d AND c.tsv @@ q.q
    LIMIT :cap
)
SELECT candidates.id FROM candidates, q
ORDER BY ts_rank_cd(candidates.tsv, q.q) DESC, candidates.id
LIMIT :k
"""
_ALL_TERMS = text(_FULL_TEXT.format(tsquery="plainto_tsquery('english', :q)"))
_ANY_TERM = text(_FULL_TEXT.format(
    tsquery="CAST(nullif(replace(CAST(plainto_tsquery('english', :q) AS text), '&', '|'), '') AS tsquery)"))


async def _full_text(session: AsyncSession, dealership_id: uuid.UUID, query: str, k: int) -> list[uuid.UUID]:
    params = {"q": query, "d": dealership_id, "k": k, "cap": FULL_TEXT_CAP}
    ranked = [row.id for row in await session.execute(_ALL_TERMS, params)]
    if len(ranked) < k:
        seen = set(ranked)
        ranked += [row.id for row in await session.execute(_ANY_TERM, params) if row.id not in seen]
    return ranked[:k]


async def _fuse(session: AsyncSession, dealership_id: uuid.UUID, ranked_lists: list[list[uuid.UUID]],
                top_k: int) -> list[SearchResult]:
    scores: dict[uuid.UUID, float] = {}
    for ranked in ranked_lists:
        for rank, chunk in enumerate(ranked, start=1):
            scores[chunk] = scores.get(chunk, 0.0) + 1.0 / (RRF_K + rank)
    if not scores:
        return []
    # The dealership filter again: ids from an outside store are never trusted blindly.
    rows = (await session.execute(text("""
        SELECT c.id, c.document_id, c.page, c.page_end, c.heading, c.text, c.text_hash, d.filename
        FROM rag_chunk c JOIN rag_document d ON d.id = c.document_id
        WHERE c.id = ANY(:ids) AND c.dealership_id = :d
    """), {"ids": list(scores), "d": dealership_id})).all()
    best: dict[str, tuple[float, Any]] = {}
    for row in rows:
        score = scores[row.id]
        kept = best.get(row.text_hash)
        if kept is None or score > kept[0] or (score == kept[0] and str(row.id) < str(kept[1].id)):
            best[row.text_hash] = (score, row)
    ordered = sorted(best.values(), key=lambda item: (-item[0], str(item[1].id)))[:top_k]
    return [SearchResult(document_id=row.document_id, filename=row.filename, page=row.page, text=row.text,
                         score=round(score / _BEST, 6), chunk_id=row.id, page_end=row.page_end,
                         heading=row.heading) for score, row in ordered]


def _to_json(result: SearchResult) -> dict[str, Any]:
    data = asdict(result)
    data["document_id"], data["chunk_id"] = str(result.document_id), str(result.chunk_id)
    return data


def _from_json(data: dict[str, Any]) -> SearchResult:
    return SearchResult(**{**data, "document_id": uuid.UUID(data["document_id"]),
                           "chunk_id": uuid.UUID(data["chunk_id"])})


class RagRetriever:
    """These documents as the conversation engine's `Retriever` (server.conversation.grounding)."""

    def __init__(self, services: RagServices) -> None:
        self._services = services

    async def search(self, dealership_id: uuid.UUID, query: str, top_k: int) -> list[SearchResult]:
        return await search(self._services, dealership_id, query, top_k)
