"""bcrypt hashing, always in a worker thread: one hash at cost 12 takes ~250 ms of CPU.

bcrypt releases the GIL, so hashing does not stall the event loop; at most one hash per CPU
runs at a time, because more threads would not finish sooner and would only crowd the loop
off the CPU (the loop-lag benchmark in tests/bench/auth_load.py measures this).
"""

from __future__ import annotations

import asyncio
import functools
import os
import weakref

import anyio.to_thread
import bcrypt
from anyio import CapacityLimiter

# bcrypt ignores bytes past 72; longer passwords are refused by the schemas instead of
# being silently truncated.
MAX_PASSWORD_BYTES = 72
DEFAULT_ROUNDS = 12

_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, CapacityLimiter] = weakref.WeakKeyDictionary()


def _limiter() -> CapacityLimiter:
    # One per event loop: the CLI, the server and the tests each run their own.
    loop = asyncio.get_running_loop()
    limiter = _limiters.get(loop)
    if limiter is None:
        limiter = _limiters[loop] = CapacityLimiter(max(1, os.cpu_count() or 1))
    return limiter


@functools.cache
def _dummy_hash(rounds: int) -> bytes:
    """A hash to verify against when the email is unknown, so both failures take the same time."""
    return bcrypt.hashpw(b"not-a-real-password", bcrypt.gensalt(rounds=rounds))


async def hash_password(password: str, rounds: int = DEFAULT_ROUNDS) -> str:
    def run() -> str:
        return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds)).decode()

    return await anyio.to_thread.run_sync(run, limiter=_limiter())


async def verify_password(password: str, password_hash: str | None, *, rounds: int = DEFAULT_ROUNDS) -> bool:
    def run() -> bool:
        target = (password_hash or "").encode() or _dummy_hash(rounds)
        try:
            ok = bcrypt.checkpw(password.encode(), target)
        except ValueError:
            return False
        return ok and password_hash is not None

    return await anyio.to_thread.run_sync(run, limiter=_limiter())
