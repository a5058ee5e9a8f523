"""Engine and session factory, built once per app from the settings."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
from sqlalchemy import JSON, TextClause
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from server.db.embedded import start_embedded, to_asyncpg_url
from server.settings import Settings


def resolve_database_url(settings: Settings) -> str:
    if settings.database_url:
        return to_asyncpg_url(settings.database_url)
    return start_embedded(settings.data_dir)


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def create_engine(url: str, *, pool_size: int = 10, max_overflow: int | None = None,
                  hnsw_ef_search: int = 400) -> AsyncEngine:
    """`hnsw_ef_search`: how many candidates a pgvector HNSW scan keeps (its recall, and the
    most rows it can return). Set once per connection, in the startup message, so a vector
    search needs no `SET` round trip of its own (RAG_HNSW_EF_SEARCH)."""
    return create_async_engine(
        url,
        # JSON columns (metrics, sources, personas) on every message: orjson writes ~10x faster.
        json_serializer=_json_dumps,
        connect_args={"server_settings": {"hnsw.ef_search": str(hnsw_ef_search)}},
        pool_size=pool_size,
        max_overflow=pool_size * 2 if max_overflow is None else max_overflow,
        pool_pre_ping=False,
        pool_recycle=1800,
        # A cancelled request must not leave a connection mid-transaction in the pool.
        pool_reset_on_return="rollback",
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def pooled(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A pooled connection for `DriverStatement`s (on `driver_of` it), each of which stands alone
    outside any transaction: no BEGIN/COMMIT round trips. It goes back to the pool inline, without
    the extra turn of the event loop that `async with engine.connect()` costs (it closes in a task
    of its own, ~0.5 ms, up to 2 ms at 50 chats). Closing a connection outside a transaction never
    waits, so a cancellation cannot cut it short. (Anything run through SQLAlchemy on it would be
    in a transaction rolled back at the end: use the sessionmaker for that.)"""
    conn = await engine.connect()
    try:
        yield conn
    except BaseException as exc:
        # SQLAlchemy never sees what fails on the driver: a connection that died under a
        # statement (a restart, a terminated backend) must not go back to the pool as healthy.
        # asyncpg marks it closed whichever way it learnt of the death; a statement's own error
        # (a constraint, a bad parameter) leaves a healthy connection that is kept.
        if (await driver_of(conn)).is_closed():
            await conn.invalidate(exc)
        raise
    finally:
        await conn.close()


@asynccontextmanager
async def driver(engine: AsyncEngine) -> AsyncIterator[asyncpg.Connection]:
    """`pooled`, as the asyncpg connection itself."""
    async with pooled(engine) as conn:
        yield await driver_of(conn)


class DriverStatement:
    """A `text()` statement compiled once, run on the asyncpg connection itself.

    For the few statements on the way of every chat (retrieval, the user's turn, the answer):
    SQLAlchemy's execution path (cache-key lookup, parameter and result processing, a greenlet
    hop) cost ~0.2 ms of the event loop per statement there, as much as asyncpg's own work.
    Parameters go in by name as SQLAlchemy's are; JSON ones are serialised here (the codec
    SQLAlchemy installs on each connection takes text). Rows come back as asyncpg records."""

    __slots__ = ("json", "names", "sql")

    def __init__(self, clause: TextClause) -> None:
        compiled = clause.compile(dialect=_ASYNCPG)
        self.sql: str = compiled.string
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        self.json = frozenset(name for name in self.names if isinstance(compiled.binds[name].type, JSON))

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        return [_json_dumps(params[name]) if name in self.json else params[name] for name in self.names]

    async def fetch(self, conn: asyncpg.Connection, params: Mapping[str, Any]) -> list[asyncpg.Record]:
        return list(await conn.fetch(self.sql, *self.args(params)))

    async def execute(self, conn: asyncpg.Connection, params: Mapping[str, Any]) -> int:
        """The number of rows the statement wrote (from its command tag, e.g. `INSERT 0 1`)."""
        status: str = await conn.execute(self.sql, *self.args(params))
        return int(status.rsplit(" ", 1)[-1])


_ASYNCPG = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]


def plain_uuid(value: uuid.UUID) -> uuid.UUID:
    """A UUID from a `DriverStatement`'s row (asyncpg's own subclass) as a plain one: orjson, for
    one, writes only the latter."""
    return uuid.UUID(bytes=value.bytes)


async def driver_of(db: AsyncConnection | AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under a SQLAlchemy connection or session (in its transaction, if
    it has begun one), for `DriverStatement`s."""
    conn = await db.connection() if isinstance(db, AsyncSession) else db
    raw = await conn.get_raw_connection()
    driver: asyncpg.Connection = raw.driver_connection
    return driver
