"""The per-user cap on concurrent voice sessions (`VOICE_MAX_SESSIONS_PER_USER`), across instances.

With Redis (`REDIS_URL`), a user's open sessions are one sorted set shared by every instance:
each member is one socket's slot, scored by when it lapses. A slot lives `VOICE_SLOT_TTL_S`
and the instance holding it pushes that out every third of it while the socket is open, so an
instance that dies (SIGKILL, a lost node) frees its users' slots within the TTL instead of
holding them forever. Taking a slot is one Lua call: lapsed members are dropped, the rest
counted, and the new one added only under the cap, so two instances racing for the last slot
cannot both win. Without Redis the count is this process's own (one machine, one process).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from typing import Protocol

from redis.asyncio import Redis

from server import outage

log = logging.getLogger(__name__)


class SessionSlots(Protocol):
    async def acquire(self, user_id: uuid.UUID) -> str | None:
        """A slot for one more session of this user, or None at the cap."""

    async def release(self, user_id: uuid.UUID, slot: str) -> None: ...

    async def run(self) -> None:
        """Keeps this instance's slots alive (a supervised task)."""

    def held(self) -> int:
        """Slots this instance holds now (its live voice sessions)."""


class MemorySlots:
    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._active: Counter[uuid.UUID] = Counter()

    async def acquire(self, user_id: uuid.UUID) -> str | None:
        if self._active[user_id] >= self.cap:
            return None
        self._active[user_id] += 1
        return uuid.uuid4().hex

    async def release(self, user_id: uuid.UUID, slot: str) -> None:
        self._active[user_id] -= 1
        if self._active[user_id] <= 0:
            del self._active[user_id]

    async def run(self) -> None:
        return None

    def held(self) -> int:
        return sum(self._active.values())


_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""


class RedisSlots:
    def __init__(self, redis: Redis, cap: int, ttl_s: float, prefix: str = "sparring:voice:slots:") -> None:
        self.cap = cap
        self.ttl_s = ttl_s
        self._redis = redis
        self._prefix = prefix
        self._acquire = redis.register_script(_ACQUIRE)
        self._mine: dict[str, uuid.UUID] = {}  # slot -> user, the slots this instance keeps alive

    def _key(self, user_id: uuid.UUID) -> str:
        return f"{self._prefix}{user_id}"

    async def acquire(self, user_id: uuid.UUID) -> str | None:
        slot = uuid.uuid4().hex
        now = time.time()
        taken = await self._acquire(keys=[self._key(user_id)], args=[
            f"{now:.3f}", self.cap, f"{now + self.ttl_s:.3f}", slot, int(self.ttl_s * 2000)])
        if not int(taken):
            return None
        self._mine[slot] = user_id
        return slot

    async def release(self, user_id: uuid.UUID, slot: str) -> None:
        self._mine.pop(slot, None)
        try:
            await self._redis.zrem(self._key(user_id), slot)
        except Exception as exc:
            # The slot lapses on its own within the TTL: a lost release costs the user a wait, not a slot.
            outage.log_failure(log, "voice slot not released", exc)

    async def refresh(self) -> None:
        """Every slot this instance holds lives another TTL (one round trip for all of them).
        XX: a slot already released (or lapsed and swept) is not brought back."""
        if not self._mine:
            return
        until = time.time() + self.ttl_s
        async with self._redis.pipeline(transaction=False) as pipe:
            for slot, user_id in list(self._mine.items()):
                pipe.zadd(self._key(user_id), {slot: until}, xx=True)
                pipe.pexpire(self._key(user_id), int(self.ttl_s * 2000))
            await pipe.execute()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.ttl_s / 3)
            try:
                await self.refresh()
            except Exception as exc:
                if not outage.lost_dependency(exc):
                    raise
                outage.log_failure(log, "voice slots not refreshed", exc)

    def held(self) -> int:
        return len(self._mine)


def session_slots(redis: Redis | None, cap: int, ttl_s: float) -> SessionSlots:
    return RedisSlots(redis, cap, ttl_s) if redis is not None else MemorySlots(cap)
