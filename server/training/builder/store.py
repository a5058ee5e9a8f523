"""The active state of builder sessions, kept with a TTL: in Redis when it is configured (shared
by every instance, expired by Redis itself), else in the session's own row (`state`, with
`expires_at`). Either way it outlives a server restart; past the TTL without an answer it is
gone and the session is `expired`.

Writes are made while the request holds the session row locked (`Scope.get(...,
for_update=True)`) and after checking that the state's revision is the one the answer was read
against, so two answers to one session never interleave, on one instance or several (the second
is a 409 `builder_conflict`). The Redis write happens before the request's transaction commits:
if that commit then fails, the state is one answer ahead of the row, which only the row's
`stage` and `revision` columns show.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from redis.asyncio import Redis

from server.training.builder.collected import title_of
from server.training.builder.flow import BuilderState
from server.training.builder.models import BuilderSession

KEY_PREFIX = "sparring:builder:"


class StateStore(Protocol):
    async def load(self, row: BuilderSession) -> BuilderState | None: ...

    async def save(self, row: BuilderSession, state: BuilderState) -> None: ...

    async def drop(self, row: BuilderSession) -> None: ...


class _Base:
    def __init__(self, ttl_s: int) -> None:
        self.ttl_s = ttl_s

    def _touch(self, row: BuilderSession, state: BuilderState) -> None:
        row.stage = state.stage.value
        row.title = title_of(state.collected) if state.collected.name else None
        row.revision = state.revision
        row.expires_at = datetime.now(UTC) + timedelta(seconds=self.ttl_s)


class PostgresStates(_Base):
    async def load(self, row: BuilderSession) -> BuilderState | None:
        if row.state is None or row.expires_at <= datetime.now(UTC):
            return None
        return BuilderState.model_validate(row.state)

    async def save(self, row: BuilderSession, state: BuilderState) -> None:
        self._touch(row, state)
        row.state = state.model_dump(mode="json")

    async def drop(self, row: BuilderSession) -> None:
        row.state = None


class RedisStates(_Base):
    def __init__(self, redis: Redis, ttl_s: int) -> None:
        super().__init__(ttl_s)
        self.redis = redis

    async def load(self, row: BuilderSession) -> BuilderState | None:
        raw = await self.redis.get(KEY_PREFIX + str(row.id))
        return BuilderState.model_validate_json(raw) if raw is not None else None

    async def save(self, row: BuilderSession, state: BuilderState) -> None:
        self._touch(row, state)
        await self.redis.set(KEY_PREFIX + str(row.id), state.model_dump_json(), ex=self.ttl_s)

    async def drop(self, row: BuilderSession) -> None:
        await self.redis.delete(KEY_PREFIX + str(row.id))


def store_for(redis: Redis | None, ttl_s: int) -> StateStore:
    return RedisStates(redis, ttl_s) if redis is not None else PostgresStates(ttl_s)
