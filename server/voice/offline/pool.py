"""A bounded thread pool for offline model inference, sized to the CPUs.

CTranslate2 and ONNX Runtime release the GIL while they compute, so one thread per core keeps
every core busy without oversubscribing them (each model call runs on one thread). Jobs beyond
the pool's size wait in its queue: the event loop never blocks on a model, so idle sessions stay
responsive however busy the models are.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def cpu_count() -> int:
    """The CPUs this process may run on (a container's limit, not the host's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class InferencePool:
    def __init__(self, workers: int = 0) -> None:
        self.workers = workers if workers > 0 else cpu_count()
        self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="offline-voice")
        self._lock = threading.Lock()
        self._jobs = 0

    @property
    def jobs(self) -> int:
        """Jobs running or waiting for a thread (a cancelled caller's job counts until it stops)."""
        return self._jobs

    @property
    def saturated(self) -> bool:
        """Every thread is taken: a new job would wait in the queue."""
        return self._jobs >= self.workers

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        with self._lock:
            self._jobs += 1
        future = self._executor.submit(fn, *args)
        future.add_done_callback(self._done)
        return future

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        # A cancelled await cancels the job if it has not started; a running model call ends
        # on its own (it cannot be interrupted) and frees its thread then.
        return await asyncio.wrap_future(self.submit(fn, *args))

    def _done(self, _: Future[Any]) -> None:
        with self._lock:
            self._jobs -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
