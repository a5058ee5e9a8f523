"""What `/metrics` serves: this process's registry, or with several uvicorn workers every worker's.

`sparring serve --workers N` (N > 1) runs prometheus_client's multiprocess mode: each worker
writes its samples to files in PROMETHEUS_MULTIPROC_DIR (a fresh temporary directory unless the
operator names one; it is emptied at start) and whichever worker answers a scrape adds them all
up, so one scrape of the instance sees every worker. Gauges say how they combine across workers
(`multiprocess_mode`); a gauge read by a function at scrape time (`sparring_asyncio_tasks`) is
per worker and left out there. With one worker (the default) nothing of this is used.
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest, multiprocess

ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    return os.environ.get(ENV) or None


def exposition(registry: CollectorRegistry) -> bytes:
    if multiprocess_dir() is None:
        return generate_latest(registry)
    combined = CollectorRegistry()
    multiprocess.MultiProcessCollector(combined)  # type: ignore[no-untyped-call]
    return generate_latest(combined)


def prepare_directory(workers: int) -> None:
    """Before the workers start (`sparring serve`): multiprocess mode for more than one worker,
    in an empty directory (samples left by an earlier run would be added to this one's)."""
    if workers <= 1 and multiprocess_dir() is None:
        return
    directory = multiprocess_dir()
    if directory is None:
        import tempfile

        directory = tempfile.mkdtemp(prefix="sparring-metrics-")
        os.environ[ENV] = directory
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()


def process_exited() -> None:
    """A worker stopping: its live gauges (voice sessions) stop counting."""
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
