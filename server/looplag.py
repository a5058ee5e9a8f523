"""Event-loop lag: how late the loop wakes a task that asked to sleep for a fixed interval.

Anything that blocks the loop (CPU work, a synchronous call) shows up here as lag. Enabled by
LOOP_LAG_PROBE_SECONDS > 0; the figures are on /metrics as
`sparring_event_loop_lag_seconds` (histogram) and `sparring_event_loop_lag_max_seconds`, with
`sparring_asyncio_tasks` (tasks alive on the loop, read at scrape time) to spot task leaks in soaks,
and `sparring_gc_pause_seconds` (garbage-collector passes by generation), so that a stall can be
told apart: the collector's, or the machine not giving the loop a CPU.
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, Histogram

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class LoopLagMonitor:
    def __init__(self, registry: CollectorRegistry, interval: float) -> None:
        self.interval = interval
        self.worst = 0.0
        self.histogram = Histogram("sparring_event_loop_lag_seconds", "Event-loop wake-up delay per probe",
                                   buckets=BUCKETS, registry=registry)
        self.max = Gauge("sparring_event_loop_lag_max_seconds", "Largest event-loop delay since start",
                         registry=registry, multiprocess_mode="max")
        self.tasks = Gauge("sparring_asyncio_tasks", "Tasks alive on the event loop", registry=registry)
        self.tasks.set_function(_task_count)
        self.gc_pause = Histogram("sparring_gc_pause_seconds", "Garbage-collector pause per pass",
                                  ["generation"], buckets=BUCKETS, registry=registry)
        self._gc_started = 0.0

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        elif info["generation"] == 2:  # gen 0/1 passes are sub-millisecond; only gen 2 can stall
            self.gc_pause.labels(generation="2").observe(time.perf_counter() - self._gc_started)

    def observe(self, lag: float) -> None:
        self.histogram.observe(lag)
        if lag > self.worst:
            self.worst = lag
            self.max.set(lag)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        gc.callbacks.append(self._on_gc)
        try:
            while True:
                started = loop.time()
                await asyncio.sleep(self.interval)
                self.observe(max(0.0, loop.time() - started - self.interval))
        finally:
            gc.callbacks.remove(self._on_gc)


def _task_count() -> float:
    try:
        return float(len(asyncio.all_tasks()))
    except RuntimeError:  # scraped from outside the loop's thread
        return float("nan")
