"""The application factory: `create_app(settings)`.

Startup is a short chain of lifespans (database -> redis -> app state); each owns what it
opens and closes it on the way out. `uvicorn --factory server.app:create_app` works as is.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from typing import Any

from prometheus_client import CollectorRegistry
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from server.api.endpoint import fault_response
from server.api.routes import build_routes
from server.auth.admission import LoginAdmission
from server.auth.dev_secret import with_development_secret
from server.auth.passwords import HASHING_THREADS
from server.auth.principal import Authenticator
from server.avatar.service import avatar_service
from server.conversation.engine import ConversationEngine
from server.conversation.llm import LLM, OpenAIChat
from server.db.engine import create_engine, create_sessionmaker, resolve_database_url
from server.db.migrate import upgrade_head_async
from server.drain import Drain
from server.errors import SparringError, error_for_status, error_response
from server.log import configure_logging
from server.looplag import LoopLagMonitor
from server.mail.sender import mail_lifespan
from server.middleware.body_limit import BodyLimitMiddleware
from server.middleware.metrics import MetricsMiddleware, RequestMetrics
from server.middleware.request_id import RequestIdMiddleware
from server.middleware.security_headers import SecurityHeadersMiddleware
from server.practice import reminders
from server.prometheus import process_exited
from server.rag.lifespan import rag_lifespan
from server.rag.retrieval import MAX_CANDIDATES, RagRetriever
from server.ratelimit import Limiter, MemoryLimiter, RateLimits, RedisLimiter
from server.recording.store import RecordingStore
from server.settings import Settings, load_settings
from server.state import STATE_KEY, AppState
from server.tasks import TaskSupervisor
from server.voice.engine_brain import EngineBrain
from server.voice.runtime import voice_runtime
from server.web import WebApp
from server.webhooks.sender import webhooks_lifespan

log = logging.getLogger(__name__)

UPLOAD_PATH = "/api/v1/rag/upload"
GC_GEN0_THRESHOLD = 10_000  # net container allocations between collector passes (CPython default 700)


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[tuple[str, AsyncEngine]]:
    url = resolve_database_url(settings)
    await upgrade_head_async(url)
    engine = create_engine(url, pool_size=settings.database_pool_size, max_overflow=settings.database_max_overflow,
                           # An HNSW scan returns at most ef_search rows: never fewer than asked for.
                           hnsw_ef_search=max(settings.rag_hnsw_ef_search, MAX_CANDIDATES))
    try:
        yield url, engine
    finally:
        await engine.dispose()


@asynccontextmanager
async def redis_client(settings: Settings) -> AsyncIterator[Redis | None]:
    if not settings.redis_url:
        yield None
        return
    client = Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=2)
    try:
        yield client
    finally:
        await client.aclose()


@asynccontextmanager
async def conversation_engine(settings: Settings, sessionmaker: async_sessionmaker[AsyncSession],
                              tasks: TaskSupervisor, retriever: Any) -> AsyncIterator[ConversationEngine]:
    """The model behind conversations: OpenAI-compatible when a key is set, else the offline engine."""
    chat = OpenAIChat(settings) if settings.openai_api_key else None
    llm: LLM | None = chat
    try:
        yield ConversationEngine(settings, sessionmaker, tasks, llm=llm, retriever=retriever)
    finally:
        if chat is not None:
            await chat.close()


def create_app(settings: Settings | None = None) -> Starlette:
    settings = with_development_secret(settings or load_settings())
    registry = CollectorRegistry()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        async with AsyncExitStack() as stack:
            url, engine = await stack.enter_async_context(database(settings))
            redis = await stack.enter_async_context(redis_client(settings))
            sessionmaker = create_sessionmaker(engine)
            limiter: Limiter = RedisLimiter(redis) if redis is not None else MemoryLimiter()
            stack.callback(process_exited)  # with several workers: this one's live gauges stop counting
            tasks = TaskSupervisor()
            stack.push_async_callback(tasks.shutdown)
            rag = await stack.enter_async_context(rag_lifespan(settings, url, engine, sessionmaker, redis, tasks))
            if settings.loop_lag_probe_seconds > 0:
                tasks.spawn("loop-lag", LoopLagMonitor(registry, settings.loop_lag_probe_seconds).run())
            mail = await stack.enter_async_context(mail_lifespan(settings, sessionmaker, tasks))
            if settings.assignment_sweep_seconds > 0:
                tasks.spawn("assignment-reminders", reminders.run(
                    sessionmaker, mail, every_s=settings.assignment_sweep_seconds,
                    lead=timedelta(hours=settings.assignment_reminder_hours), public_url=settings.public_url))
            webhooks = await stack.enter_async_context(
                webhooks_lifespan(settings, url, engine, sessionmaker, tasks, mail))
            retriever = RagRetriever(rag)
            conversations = await stack.enter_async_context(
                conversation_engine(settings, sessionmaker, tasks, retriever))
            recordings = RecordingStore(sessionmaker, tasks, clip_max_s=settings.voice_recording_clip_max_s,
                                        max_s=settings.voice_recording_max_s)
            avatar = await stack.enter_async_context(avatar_service(settings, sessionmaker, tasks))
            voice = await stack.enter_async_context(
                voice_runtime(settings, EngineBrain(conversations), recordings=recordings, avatar=avatar,
                              redis=redis, registry=registry))
            tasks.spawn("voice-slots", voice.slots.run())
            drain = Drain(settings.shutdown_grace_s)
            stack.callback(drain.install())
            state = AppState(
                settings=settings, database_url=url, engine=engine, sessionmaker=sessionmaker, redis=redis,
                limits=RateLimits(limiter, settings),
                authenticator=Authenticator(sessionmaker, secret=settings.jwt_secret,
                                            ttl=settings.principal_cache_seconds),
                logins=LoginAdmission(per_address=settings.login_max_per_address or max(1, HASHING_THREADS // 2),
                                      total=settings.login_max_pending, running=2 * HASHING_THREADS),
                registry=registry, tasks=tasks, rag=rag, retriever=retriever, conversations=conversations,
                voice=voice, mail=mail, drain=drain, webhooks=webhooks,
            )
            app.state.sparring = state  # for code outside a request (tests, CLI helpers)
            # What startup built lives as long as the process: take it out of the collector's
            # reach, so a full collection walks only what requests made. With the startup heap
            # (~190k objects) in view, each gen-2 pass stalled the loop ~75 ms, longer than the
            # voice pacer's lead: every reply playing at that moment ran dry (tests/bench/voice_load.py).
            gc.collect()
            gc.freeze()
            # Most objects a request makes die young and are freed by reference counting; the
            # collector's passes over what is alive in between are pure cost. At the default
            # gen-0 threshold (700 net allocations) 50 streaming chats ran ~9 passes a second,
            # a gen-1 pass (~5 ms) every second and a gen-2 pass (~20 ms, the chats in flight
            # are ~40k objects) every ~12 s, and each stall bunched the chats behind it. At
            # 10,000 a pass runs every few seconds, and cyclic garbage still triggers one.
            gc.set_threshold(GC_GEN0_THRESHOLD, 10, 10)
            log.info("sparring ready", extra={"environment": settings.environment,
                                              "providers": settings.provider_status()})
            yield {STATE_KEY: state}

    middleware: list[Middleware] = []
    if settings.forwarded_allow_ips:
        # The client address (login limits, audit) and scheme come from X-Forwarded-* only when the
        # connection is from a proxy we trust; `sparring serve` leaves uvicorn's own handling off.
        middleware.append(Middleware(ProxyHeadersMiddleware, trusted_hosts=settings.forwarded_allow_ips))
    middleware += [
        Middleware(RequestIdMiddleware),
        Middleware(MetricsMiddleware, metrics=RequestMetrics(registry)),
        Middleware(SecurityHeadersMiddleware),
        Middleware(BodyLimitMiddleware, default_limit=settings.max_body_bytes,
                   path_limits={UPLOAD_PATH: settings.max_upload_mb * 1024 * 1024 + 64 * 1024}),
    ]
    if settings.cors_origins:
        middleware.append(Middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=True,
            allow_methods=["GET", "POST", "PATCH", "DELETE"], allow_headers=["authorization", "content-type"],
            expose_headers=["x-request-id", "retry-after"],
        ))

    return Starlette(
        routes=[*build_routes(), WebApp(settings.web_dist_dir)],  # the web app last: API routes win
        middleware=middleware,
        exception_handlers={HTTPException: _http_error, SparringError: _sparring_error, Exception: _crash},
        lifespan=lifespan,
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error = error_for_status(exc.status_code)
    if exc.status_code == 404:
        error.message = "No such endpoint."
    response = error_response(error)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _sparring_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SparringError)
    return error_response(exc)


async def _crash(request: Request, exc: Exception) -> Response:
    return fault_response(exc, request.url.path)


def asgi_factory() -> Starlette:
    """Entry point for uvicorn workers: settings from the environment, logging configured."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_json)
    return create_app(settings)
