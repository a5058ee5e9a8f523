"""A small per-process cache whose entries expire after a fixed time.

For state read on every request that changes rarely (account state, a dealership's disabled
personas): the TTL bounds how late another instance notices a change; the instance that made
it calls `invalidate` once its transaction has committed.
"""

from __future__ import annotations

import enum
import time
from typing import Generic, Literal, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class _Missing(enum.Enum):
    MISSING = enum.auto()


MISSING: Literal[_Missing.MISSING] = _Missing.MISSING


class TtlCache(Generic[K, V]):
    def __init__(self, ttl: float, *, max_entries: int = 100_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._items: dict[K, tuple[float, V]] = {}
        self._epoch = 0  # bumped by every invalidation

    @property
    def epoch(self) -> int:
        """Read before fetching a value to `put`: if anything is invalidated meanwhile, the value
        may predate that change and is not kept."""
        return self._epoch

    def get(self, key: K) -> V | Literal[_Missing.MISSING]:
        """The cached value (which may be None), or MISSING when absent or expired."""
        hit = self._items.get(key)
        if hit is None or time.monotonic() - hit[0] >= self.ttl:
            return MISSING
        return hit[1]

    def put(self, key: K, value: V, *, epoch: int) -> None:
        if self.ttl <= 0 or epoch != self._epoch:
            return
        if len(self._items) >= self.max_entries:
            self._items.clear()  # rare (many distinct keys within one TTL); refilled by use
        self._items[key] = (time.monotonic(), value)

    def invalidate(self, key: K) -> None:
        self._epoch += 1
        self._items.pop(key, None)

    def clear(self) -> None:
        self._epoch += 1
        self._items.clear()
