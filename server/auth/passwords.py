"""bcrypt hashing, always off the event loop: one hash at cost 12 takes ~250 ms of CPU.

bcrypt releases the GIL, so hashing runs in parallel with the loop. It runs in its own pool of
at most one thread per CPU (more would not finish sooner), and those threads run at a lower
CPU priority, so under a burst of logins the event-loop thread still gets a CPU the moment it
has work (the loop-lag benchmark in tests/bench/auth_load.py measures this).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import bcrypt

# bcrypt ignores bytes past 72; longer passwords are refused by the schemas instead of
# being silently truncated.
MAX_PASSWORD_BYTES = 72
DEFAULT_ROUNDS = 12
# Added to the nice value of the hashing threads (Linux applies it per thread).
NICENESS = 10

T = TypeVar("T")


def _lower_priority() -> None:
    with contextlib.suppress(AttributeError, OSError):
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + NICENESS)


HASHING_THREADS = max(1, os.cpu_count() or 1)
_pool = ThreadPoolExecutor(max_workers=HASHING_THREADS, thread_name_prefix="bcrypt",
                           initializer=_lower_priority)


async def _off_loop(work: Callable[[], T]) -> T:
    return await asyncio.get_running_loop().run_in_executor(_pool, work)


@functools.cache
def _dummy_hash(rounds: int) -> bytes:
    """A hash to verify against when the email is unknown, so both failures take the same time."""
    return bcrypt.hashpw(b"not-a-real-password", bcrypt.gensalt(rounds=rounds))


async def hash_password(password: str, rounds: int = DEFAULT_ROUNDS) -> str:
    def run() -> str:
        return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds)).decode()

    return await _off_loop(run)


async def verify_password(password: str, password_hash: str | None, *, rounds: int = DEFAULT_ROUNDS) -> bool:
    def run() -> bool:
        target = (password_hash or "").encode() or _dummy_hash(rounds)
        try:
            ok = bcrypt.checkpw(password.encode(), target)
        except ValueError:
            return False
        return ok and password_hash is not None

    return await _off_loop(run)
