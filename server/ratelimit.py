"""Rate limiting: a sliding-window counter, in Redis when REDIS_URL is set (shared by every
instance), in process memory otherwise. Both give the same answers for the same hits."""

from __future__ import annotations

import math
import time
import uuid
from typing import Protocol

from redis.asyncio import Redis

from server.errors import RateLimited
from server.settings import Settings, parse_rate


class Limiter(Protocol):
    async def hit(self, key: str, limit: int, period: float) -> float | None:
        """Count one hit; None if allowed, else seconds until it would be."""

    async def peek(self, key: str, limit: int, period: float) -> float | None:
        """As `hit`, without counting."""

    async def reset(self) -> None: ...


def _estimate(previous: int, current: int, elapsed_fraction: float) -> float:
    # The previous window's hits count in proportion to how much of it the sliding window covers.
    return previous * (1.0 - elapsed_fraction) + current


class MemoryLimiter:
    def __init__(self) -> None:
        self._counts: dict[tuple[str, float, int], int] = {}
        self._last_sweep = 0.0

    async def hit(self, key: str, limit: int, period: float) -> float | None:
        return self._count(key, limit, period, add=True)

    async def peek(self, key: str, limit: int, period: float) -> float | None:
        return self._count(key, limit, period, add=False)

    def _count(self, key: str, limit: int, period: float, *, add: bool) -> float | None:
        now = time.time()
        window = math.floor(now / period)
        fraction = (now / period) - window
        previous = self._counts.get((key, period, window - 1), 0)
        current = self._counts.get((key, period, window), 0)
        if _estimate(previous, current, fraction) >= limit:
            return _retry_after(previous, current, limit, period, fraction)
        if not add:
            return None
        self._counts[(key, period, window)] = current + 1
        if now - self._last_sweep > 60:
            self._last_sweep = now
            self._counts = {k: v for k, v in self._counts.items() if k[2] >= math.floor(now / k[1]) - 1}
        return None

    async def reset(self) -> None:
        self._counts.clear()


_LUA = """
local current = tonumber(redis.call('GET', KEYS[2]) or '0')
local previous = tonumber(redis.call('GET', KEYS[1]) or '0')
local fraction = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
if previous * (1 - fraction) + current >= limit then
  return {0, previous, current}
end
current = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return {1, previous, current}
"""


class RedisLimiter:
    def __init__(self, redis: Redis, prefix: str = "sparring:rl:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_LUA)

    async def hit(self, key: str, limit: int, period: float) -> float | None:
        now = time.time()
        window = math.floor(now / period)
        fraction = (now / period) - window
        keys = [f"{self._prefix}{key}:{int(period)}:{window - 1}", f"{self._prefix}{key}:{int(period)}:{window}"]
        allowed, previous, current = await self._script(
            keys=keys, args=[f"{fraction:.6f}", limit, int(period * 2000)]
        )
        if allowed:
            return None
        return _retry_after(int(previous), int(current), limit, period, fraction)

    async def peek(self, key: str, limit: int, period: float) -> float | None:
        now = time.time()
        window = math.floor(now / period)
        fraction = (now / period) - window
        keys = [f"{self._prefix}{key}:{int(period)}:{window - 1}", f"{self._prefix}{key}:{int(period)}:{window}"]
        previous, current = (int(v or 0) for v in await self._redis.mget(keys))
        if _estimate(previous, current, fraction) < limit:
            return None
        return _retry_after(previous, current, limit, period, fraction)

    async def reset(self) -> None:
        async for key in self._redis.scan_iter(match=f"{self._prefix}*"):
            await self._redis.delete(key)


def _retry_after(previous: int, current: int, limit: int, period: float, fraction: float) -> float:
    if current >= limit or previous == 0:
        return (1.0 - fraction) * period
    # Time until the previous window's weight has decayed enough to let one more through.
    needed_fraction = 1.0 - (limit - 1 - current) / previous
    return max(0.5, (needed_fraction - fraction) * period)


class RateLimits:
    """Named limits from the settings ('login', 'login_address' (failures), 'chat', 'voice',
    'password_reset' (per email), 'password_reset_address')."""

    def __init__(self, limiter: Limiter, settings: Settings) -> None:
        self.limiter = limiter
        self.rates = {
            "login": parse_rate(settings.rate_limit_login),
            "login_address": parse_rate(settings.rate_limit_login_address),
            "chat": parse_rate(settings.rate_limit_chat),
            "voice": parse_rate(settings.rate_limit_voice),
            "password_reset": parse_rate(settings.rate_limit_password_reset),
            "password_reset_address": parse_rate(settings.rate_limit_password_reset_address),
        }

    async def check(self, name: str, key: str) -> None:
        limit, period = self.rates[name]
        retry_after = await self.limiter.hit(f"{name}:{key}", limit, period)
        if retry_after is not None:
            raise RateLimited(retry_after)

    async def check_failures(self, name: str, key: str) -> None:
        """Refuse (429) once `key` has used up its failures; `fail` counts one."""
        limit, period = self.rates[name]
        retry_after = await self.limiter.peek(f"{name}:{key}", limit, period)
        if retry_after is not None:
            raise RateLimited(retry_after)

    async def fail(self, name: str, key: str) -> None:
        limit, period = self.rates[name]
        await self.limiter.hit(f"{name}:{key}", limit, period)

    async def count_turn(self, user_id: uuid.UUID) -> None:
        """One conversation turn that will reach the model, from any channel (REST chat, a typed
        or spoken voice turn): all count against the user's one `chat` limit."""
        await self.check("chat", str(user_id))
