"""Everything the app holds for its lifetime, in one typed object built by the lifespan.

Handlers read it through `app_state(request)`; nothing reaches for module-level globals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from prometheus_client import CollectorRegistry
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import HTTPConnection

from server.auth.admission import LoginAdmission
from server.auth.principal import Authenticator
from server.conversation.engine import ConversationEngine
from server.drain import Drain
from server.mail.outbox import Mail
from server.ratelimit import RateLimits
from server.settings import Settings
from server.tasks import TaskSupervisor

if TYPE_CHECKING:
    from server.rag.services import RagServices
    from server.voice.runtime import VoiceRuntime
    from server.webhooks.sender import WebhookSender

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
    logins: LoginAdmission  # password checks admitted at once (server/auth/admission.py)
    registry: CollectorRegistry
    tasks: TaskSupervisor
    # The document retriever the conversation engine grounds answers in (server.rag's
    # RagRetriever; None answers without passages), and the engine every channel uses.
    retriever: Any = None
    conversations: ConversationEngine | None = None
    voice: VoiceRuntime | None = None
    rag: RagServices | None = None  # documents and retrieval (server.rag)
    # Email (server.mail): enqueue with `outbox.enqueue(db, state.mail, ...)`.
    mail: Mail = field(default_factory=lambda: Mail(transport=None))
    drain: Drain | None = None  # graceful stop on SIGTERM (server/drain.py)
    webhooks: WebhookSender | None = None  # the webhook outbox's sender (server.webhooks)


def app_state(conn: HTTPConnection) -> AppState:
    # Servers that support lifespan state (uvicorn) hand it to each request; in-process test
    # transports do not, so fall back to the copy the lifespan keeps on the app.
    state: AppState | None = getattr(conn.state, STATE_KEY, None)
    return state if state is not None else cast(AppState, conn.app.state.sparring)
