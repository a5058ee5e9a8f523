"""Shared set-up for the document benchmarks: a throw-away embedded PostgreSQL, a dealership,
and the same services the server builds (offline embedder, pgvector)."""

from __future__ import annotations

import platform
import tempfile
import uuid
from pathlib import Path
from typing import Any

from server.db.engine import create_engine, create_sessionmaker
from server.db.migrate import upgrade_head_async
from server.db.models import Dealership
from server.rag.services import RagServices, build_services
from server.settings import Settings


def machine() -> str:
    import os

    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def start_database() -> str:
    from server.db.embedded import start_embedded

    return start_embedded(Path(tempfile.mkdtemp(prefix="sparring-bench-")))


def bench_settings(url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"environment": "test", "database_url": url, "jwt_secret": "b" * 40,
                              "openai_api_key": None, "redis_url": None, "rag_workers": 0, "log_json": False}
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def services_for(url: str, **overrides: Any) -> RagServices:
    await upgrade_head_async(url)
    engine = create_engine(url, pool_size=4)
    return build_services(bench_settings(url, **overrides), engine, create_sessionmaker(engine), None)


async def new_dealership(services: RagServices, name: str | None = None) -> uuid.UUID:
    async with services.sessionmaker() as session, session.begin():
        dealership = Dealership(name=name or "Bench", slug=(name or "bench") + "-" + uuid.uuid4().hex[:6],
                                settings={})
        session.add(dealership)
        await session.flush()
        return dealership.id


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")
