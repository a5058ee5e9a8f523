"""pgvector tenant filtering: exactly k results for a small dealership inside a large shared
table, and for a large dealership served by its own HNSW index."""

from __future__ import annotations

import random
import uuid

from sqlalchemy import insert, text

from server.db.models import Dealership
from server.rag.chunking import text_hash
from server.rag.hashing import MODEL, embed_text
from server.rag.indexes import load_index
from server.rag.models import Chunk, Document, RagIndex
from server.rag.retrieval import _ROWS
from server.rag.stores.base import vector_literal
from server.rag.stores.pgvector import ensure_index, index_name
from server.state import AppState
from tests.fixtures.make_documents import VOCABULARY


async def _dealership_with_chunks(state: AppState, count: int, rng: random.Random) -> uuid.UUID:
    async with state.sessionmaker() as session, session.begin():
        dealership = Dealership(name=f"D{uuid.uuid4().hex[:6]}", slug=uuid.uuid4().hex[:12], settings={})
        session.add(dealership)
        await session.flush()
        session.add(RagIndex(dealership_id=dealership.id, model=MODEL, dimension=384))
        document = Document(dealership_id=dealership.id, filename="bulk.txt", kind="text",
                            sha256=uuid.uuid4().hex, size=1, status="ready", chunks=count)
        session.add(document)
        await session.flush()
        rows = []
        for position in range(count):
            body = " ".join(rng.choice(VOCABULARY) for _ in range(40)) + f" item {position}"
            rows.append({"id": uuid.uuid4(), "dealership_id": dealership.id, "document_id": document.id,
                         "position": position, "page": 1, "text": body, "text_hash": text_hash(body),
                         "model": MODEL, "embedding": embed_text(body)})
        for start in range(0, len(rows), 1000):
            await session.execute(insert(Chunk), rows[start:start + 1000])
    return dealership.id


async def test_exactly_k_for_small_and_large_dealerships_in_one_table(state: AppState) -> None:
    assert state.rag is not None
    rng = random.Random(7)
    large = await _dealership_with_chunks(state, 4000, rng)
    small = await _dealership_with_chunks(state, 12, rng)
    name = await ensure_index(state.engine, large, exact_scan_max=1000)
    assert name == index_name(large, 384)
    assert await ensure_index(state.engine, small, exact_scan_max=1000) is None
    store = state.rag.store
    query_vector = embed_text("customer monthly payment warranty")
    async with state.sessionmaker() as session:
        small_index = await load_index(session, small)
        large_index = await load_index(session, large)
        assert small_index is not None and large_index is not None and large_index.hnsw_index == name
        for k in (1, 10, 12):
            assert len(await store.search(session, small_index, query_vector, k)) == k
        assert len(await store.search(session, small_index, query_vector, 50)) == 12  # all there is
        for k in (10, 100, 400):
            hits = await store.search(session, large_index, query_vector, k)
            assert len(hits) == k and len({h.chunk_id for h in hits}) == k

        # The large dealership's query really runs on its own HNSW index; the small one's never does.
        plan = "\n".join(r[0] for r in await session.execute(text(
            f"EXPLAIN SELECT id FROM rag_chunk WHERE dealership_id = '{large}' AND model = '{MODEL}' "
            f"ORDER BY embedding::vector(384) <=> CAST(:q AS vector(384)) LIMIT 10"),
            {"q": str(query_vector)}))
        assert name in plan
        exact = await store.search(session, small_index, query_vector, 12)
        scores = [h.score for h in exact]
        assert scores == sorted(scores, reverse=True)

        # Retrieval's second statement looks the candidates up by primary key: it never walks the
        # large dealership's 4,000 chunks to find the 20 or so it needs.
        full_text = [h.chunk_id for h in exact[:3]]
        rows_plan = "\n".join(r[0] for r in await session.execute(
            text("EXPLAIN " + _ROWS.format(nearest=store.nearest_sql(large_index))),
            {"q": vector_literal(query_vector), "d": large, "m": MODEL, "k": 20, "full_text": full_text}))
        assert "rag_chunk_pkey" in rows_plan and name in rows_plan, rows_plan
