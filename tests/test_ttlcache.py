"""The per-process TTL cache behind account state and disabled personas."""

from __future__ import annotations

import time

from server.ttlcache import MISSING, TtlCache


def test_entries_expire_and_none_is_a_value() -> None:
    cache: TtlCache[str, int | None] = TtlCache(0.05)
    cache.put("gone", None, epoch=cache.epoch)
    assert cache.get("gone") is None and cache.get("other") is MISSING
    time.sleep(0.06)
    assert cache.get("gone") is MISSING


def test_a_value_read_across_an_invalidation_is_not_kept() -> None:
    # A reader looks the value up, an admin's change commits and invalidates, then the reader
    # (holding what it read before the change) tries to keep it: it must not, or the old state
    # would be served for a whole TTL.
    cache: TtlCache[str, str] = TtlCache(60)
    epoch = cache.epoch
    cache.invalidate("dealer")
    cache.put("dealer", "old state", epoch=epoch)
    assert cache.get("dealer") is MISSING
    cache.put("dealer", "new state", epoch=cache.epoch)
    assert cache.get("dealer") == "new state"
    epoch = cache.epoch
    cache.clear()
    cache.put("dealer", "old state", epoch=epoch)
    assert cache.get("dealer") is MISSING


def test_a_zero_ttl_keeps_nothing() -> None:
    cache: TtlCache[str, int] = TtlCache(0)
    cache.put("k", 1, epoch=cache.epoch)
    assert cache.get("k") is MISSING
