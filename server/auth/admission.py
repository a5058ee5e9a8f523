"""Login admission: how much password-hashing work may wait, per client address and in total.

A password check costs ~250 ms of CPU (bcrypt cost 12) and there are only a few hashing threads.
Without a bound, a flood of logins for random emails (which the per-email throttle never sees)
queued up in front of everyone else's: a real user waited over a minute. Each check is admitted
here first, before any database read or hashing: at most `per_address` checks from one client
address and `total` in the process at once (in progress or queued); beyond that the request is
refused at once with 429 and Retry-After. Of those admitted, `running` at a time do their work
(twice the hashing threads: one hashing, one reading the account), so a burst does not start all
its database work in one loop iteration only to queue for a thread.

The counts are per process (each uvicorn worker holds its own): they bound that process's CPU.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from server.errors import RateLimited

BUSY = "Too many sign-in attempts are in progress; try again in a moment."


class LoginAdmission:
    def __init__(self, *, per_address: int, total: int, running: int) -> None:
        self.per_address = per_address
        self.total = total
        self._running = asyncio.Semaphore(running)
        self._admitted = 0
        self._by_address: dict[str, int] = {}

    @property
    def admitted(self) -> int:
        return self._admitted

    @asynccontextmanager
    async def admit(self, address: str) -> AsyncIterator[None]:
        held = self._by_address.get(address, 0)
        if held >= self.per_address or self._admitted >= self.total:
            # About one password check's time frees a place.
            raise RateLimited(1.0, BUSY)
        self._by_address[address] = held + 1
        self._admitted += 1
        try:
            async with self._running:
                yield
        finally:
            self._admitted -= 1
            left = self._by_address[address] - 1
            if left:
                self._by_address[address] = left
            else:
                del self._by_address[address]
