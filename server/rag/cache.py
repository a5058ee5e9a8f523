"""Query-embedding and per-dealership result caches (Redis when configured, else in-process).

Writes never hold up a search: the in-process cache stores at once, Redis in a supervised
background task (its round trip used to sit between the query's embedding and the vector
search, and between the results and the model request).

Result keys carry the dealership's index generation, bumped in the same transaction as any
change to its documents: a change makes every older entry unreachable at once, on every
process, without a scan. Keys always carry the dealership id, so one dealership's warm cache
can never answer another's query.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections import OrderedDict
from typing import Any, Protocol

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from server.tasks import TaskSupervisor

log = logging.getLogger(__name__)
PREFIX = "sparring:rag:"
MAX_PENDING_WRITES = 256  # Redis writes in flight at once (each search starts up to two)


class Backend(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    def put(self, key: str, value: bytes, ttl: int) -> None:
        """Store without making the caller wait (best effort)."""
        ...

    async def drain(self) -> None:
        """Wait for the writes `put` has started."""
        ...


class MemoryBackend:
    def __init__(self, max_entries: int = 10_000) -> None:
        self._items: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self.max_entries = max_entries

    async def get(self, key: str) -> bytes | None:
        item = self._items.get(key)
        if item is None:
            return None
        expires, value = item
        if expires < time.monotonic():
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return value

    def put(self, key: str, value: bytes, ttl: int) -> None:
        self._items[key] = (time.monotonic() + ttl, value)
        self._items.move_to_end(key)
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)

    async def drain(self) -> None:
        pass


class RedisBackend:
    """Best effort: a Redis outage makes searches slower, never failed."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._writes = TaskSupervisor()

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self.redis.get(key)
            return value.encode() if isinstance(value, str) else value
        except (RedisError, OSError) as exc:
            log.warning("rag cache read failed", extra={"error": str(exc)})
            return None

    def put(self, key: str, value: bytes, ttl: int) -> None:
        if len(self._writes) >= MAX_PENDING_WRITES:  # Redis is stalling: a cache can skip a write
            log.warning("rag cache write skipped: too many in flight", extra={"pending": len(self._writes)})
            return
        self._writes.spawn("rag.cache-write", self._set(key, value, ttl))

    async def _set(self, key: str, value: bytes, ttl: int) -> None:
        try:
            await self.redis.set(key, value, ex=ttl)
        except (RedisError, OSError) as exc:
            log.warning("rag cache write failed", extra={"error": str(exc)})

    async def drain(self) -> None:
        await self._writes.drain()
        await self._writes.shutdown(grace=1.0)  # whatever Redis still holds up is given up


def _digest(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).lower().encode()).hexdigest()[:40]


class RetrievalCache:
    def __init__(self, backend: Backend, ttl: int) -> None:
        self.backend = backend
        self.ttl = ttl

    async def embedding(self, model: str, query: str) -> list[float] | None:
        if self.ttl <= 0:
            return None
        raw = await self.backend.get(f"{PREFIX}emb:{model}:{_digest(query)}")
        return orjson.loads(raw) if raw else None

    def put_embedding(self, model: str, query: str, vector: list[float]) -> None:
        if self.ttl > 0:
            self.backend.put(f"{PREFIX}emb:{model}:{_digest(query)}", orjson.dumps(vector), self.ttl)

    @staticmethod
    def results_key(dealership_id: uuid.UUID, generation: int, model: str, top_k: int, query: str) -> str:
        return f"{PREFIX}res:{dealership_id}:{generation}:{model}:{top_k}:{_digest(query)}"

    async def results(self, key: str) -> list[dict[str, Any]] | None:
        if self.ttl <= 0:
            return None
        raw = await self.backend.get(key)
        return orjson.loads(raw) if raw else None

    def put_results(self, key: str, results: list[dict[str, Any]]) -> None:
        if self.ttl > 0:
            self.backend.put(key, orjson.dumps(results), self.ttl)

    async def drain(self) -> None:
        """Wait for the writes still in flight (at shutdown, and for tests that read them back)."""
        await self.backend.drain()


def build_cache(redis: Redis | None, ttl: int) -> RetrievalCache:
    return RetrievalCache(RedisBackend(redis) if redis is not None else MemoryBackend(), ttl)
