"""Everything the app holds for its lifetime, in one typed object built by the lifespan.

Handlers read it through `app_state(request)`; nothing reaches for module-level globals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import HTTPConnection

from server.auth.principal import Authenticator
from server.ratelimit import RateLimits
from server.settings import Settings
from server.tasks import TaskSupervisor

if TYPE_CHECKING:
    from server.rag.services import RagServices

STATE_KEY = "sparring"


@dataclass(frozen=True, slots=True)
class AppState:
    settings: Settings
    database_url: str
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    redis: Redis | None
    limits: RateLimits
    authenticator: Authenticator
    registry: CollectorRegistry
    tasks: TaskSupervisor
    rag: RagServices | None = None  # documents and retrieval (server.rag)


def app_state(conn: HTTPConnection) -> AppState:
    # Servers that support lifespan state (uvicorn) hand it to each request; in-process test
    # transports do not, so fall back to the copy the lifespan keeps on the app.
    state: AppState | None = getattr(conn.state, STATE_KEY, None)
    return state if state is not None else conn.app.state.sparring  # type: ignore[no-any-return, unused-ignore]
