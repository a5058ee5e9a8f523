"""Named, supervised background tasks: failures are logged, shutdown cancels with a timeout."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class TaskSupervisor:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, name: str, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("background task failed", extra={"task": task.get_name()}, exc_info=exc)

    def __len__(self) -> int:
        return len(self._tasks)

    @property
    def running(self) -> list[str]:
        return sorted(task.get_name() for task in self._tasks)

    async def drain(self, grace: float = 5.0) -> None:
        """Wait (up to `grace` seconds) for the tasks running now to finish on their own."""
        tasks = list(self._tasks)
        if tasks:
            await asyncio.wait(tasks, timeout=grace)

    async def shutdown(self, grace: float = 5.0) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=grace)
