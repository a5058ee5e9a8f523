"""A fingerprint of every table, to show that a refused request changed nothing."""

from __future__ import annotations

from sqlalchemy import text

from server.db.models import Base
from server.state import AppState

PRESENCE_TABLES = {"rag_worker"}


async def snapshot(state: AppState) -> dict[str, tuple[int, str | None]]:
    """Row count and a hash of every row's full text, per table. Not `rag_worker`: worker pools
    write their presence there on their own clock (a heartbeat, a pool starting elsewhere in the
    test run), so it changes between two snapshots whatever a request did."""
    result: dict[str, tuple[int, str | None]] = {}
    async with state.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name in PRESENCE_TABLES:
                continue
            row = (await conn.execute(text(
                f'SELECT count(*), md5(string_agg(t::text, \',\' ORDER BY t::text)) FROM "{table.name}" t'
            ))).one()
            result[table.name] = (int(row[0]), row[1])
    return result
