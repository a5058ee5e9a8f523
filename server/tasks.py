"""Named, supervised background tasks: failures are logged, shutdown cancels with a timeout.
And `Interruption`: a wait that something else may cut short."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from types import TracebackType
from typing import Any

from server import outage

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
            outage.log_failure(log, "background task failed", exc, task=task.get_name())

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


class Interruption:
    """Lets something else (a callback, a side task) cut short what the current task awaits,
    without a task of its own for the wait (each costs a turn of the event loop):

        stop = Interruption()
        with stop:
            result = await work()     # `stop.now()` from elsewhere ends this wait
        if stop.happened: ...         # then `result` is unset

    `now()` cancels the waiting task while the block runs (never after it). The block's end
    takes that cancellation back, whether it arrived or was consumed on the way
    (`asyncio.wait_for` on Python 3.11 can drop one); a cancellation from anyone else still
    propagates."""

    __slots__ = ("_armed", "_task", "happened")

    def __init__(self) -> None:
        self._task: asyncio.Task[Any] | None = None
        self._armed = False
        self.happened = False

    def __enter__(self) -> Interruption:
        self._task = asyncio.current_task()
        assert self._task is not None
        self._armed = True
        return self

    def now(self) -> None:
        if self._armed and not self.happened:
            assert self._task is not None
            self.happened = True
            self._task.cancel()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool:
        self._armed = False
        if not self.happened:
            return False
        assert self._task is not None
        others = self._task.uncancel()
        # Swallow the cancellation only if it was ours alone.
        return kind is not None and issubclass(kind, asyncio.CancelledError) and others == 0
