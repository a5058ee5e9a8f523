"""bcrypt hashing, always in a worker thread: one hash at cost 12 takes ~250 ms of CPU."""

from __future__ import annotations

import functools

import anyio.to_thread
import bcrypt

# bcrypt ignores bytes past 72; longer passwords are refused by the schemas instead of
# being silently truncated.
MAX_PASSWORD_BYTES = 72


@functools.cache
def _dummy_hash(rounds: int) -> bytes:
    """A hash to verify against when the email is unknown, so both failures take the same time."""
    return bcrypt.hashpw(b"not-a-real-password", bcrypt.gensalt(rounds=rounds))


async def hash_password(password: str, rounds: int) -> str:
    def run() -> str:
        return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds)).decode()

    return await anyio.to_thread.run_sync(run)


async def verify_password(password: str, password_hash: str | None, *, rounds: int = 12) -> bool:
    def run() -> bool:
        target = (password_hash or "").encode() or _dummy_hash(rounds)
        try:
            ok = bcrypt.checkpw(password.encode(), target)
        except ValueError:
            return False
        return ok and password_hash is not None

    return await anyio.to_thread.run_sync(run)
