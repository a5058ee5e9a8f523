"""The embedded PostgreSQL 16 (+ pgvector) from `pgserver`, used when DATABASE_URL is unset."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def start_embedded(data_dir: Path) -> str:
    """Start (or join) the embedded server under `data_dir/postgres`; return an asyncpg URL.

    pgserver reference-counts the processes using one data directory, so several workers
    (or the CLI and the server) share one postmaster; it stops when the last one exits
    (`sparring serve` makes sure its exit handlers run when stopped by a signal). Processes
    killed outright are dropped from the count here, by the next process to start.
    """
    os.environ.setdefault("XDG_RUNTIME_DIR", str(Path(data_dir).resolve() / "run"))
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, parents=True, exist_ok=True)
    import pgserver  # imported late: it is only needed without DATABASE_URL

    pgdata = Path(data_dir).resolve() / "postgres"
    pgdata.mkdir(parents=True, exist_ok=True)
    with pgserver.PostgresServer._lock:  # type: ignore[attr-defined]
        _forget_dead_users(pgdata)
    server: Any = pgserver.get_server(  # type: ignore[attr-defined]
        pgdata, cleanup_mode="stop")
    _servers.append(server)  # keep the handle alive for the life of the process
    log.info("embedded postgres ready", extra={"pgdata": str(pgdata)})
    return to_asyncpg_url(server.get_uri())


_servers: list[Any] = []
HANDLES = ".handle_pids.json"  # pgserver's list of the processes using the server


def _forget_dead_users(pgdata: Path) -> None:
    """Drop the processes that died without saying so (killed) from pgserver's list: it stops the
    server only when the last listed process exits, so one stale entry kept it running forever."""
    path = pgdata / HANDLES
    try:
        pids = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return
    alive = [pid for pid in pids if isinstance(pid, int) and _running(pid)]
    if alive != pids:
        log.info("embedded postgres: forgetting exited processes", extra={"pids": sorted(set(pids) - set(alive))})
        path.write_text(json.dumps(alive))


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def to_asyncpg_url(uri: str) -> str:
    """Map a libpq URI (postgresql://...) onto SQLAlchemy's asyncpg dialect."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if uri.startswith(prefix):
            return "postgresql+asyncpg://" + uri[len(prefix):]
    raise ValueError(f"not a PostgreSQL URL: {uri.split('@')[-1]}")
