"""What the avatar feature holds for the app's lifetime: the LiveAvatar client (when configured),
the minute meter, and the per-dealership decision of which face a session gets.

Built by `avatar_service(settings, sessionmaker, tasks)` in the app's lifespan; the voice runtime
carries it (`VoiceRuntime.avatar`), and each voice session asks it through `AvatarLink`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.avatar import settings as avatar_settings
from server.avatar.bridge import LiteBridge, Metering
from server.avatar.liveavatar import LiveAvatarApi
from server.avatar.quota import Meter
from server.db.models import Dealership
from server.settings import Settings
from server.tasks import TaskSupervisor
from server.voice.protocol import AvatarErrorCode, AvatarFallback, AvatarProvider


@dataclass(frozen=True, slots=True)
class Refusal:
    code: AvatarErrorCode
    message: str
    fallback: AvatarFallback


@dataclass(frozen=True, slots=True)
class Decision:
    provider: AvatarProvider  # what the session shows (none: plain voice)
    refusal: Refusal | None = None  # told to the client as `avatar.error` before `avatar.ready`
    remaining_s: float | None = None  # LiveAvatar: what is left of the monthly cap; None: no cap


_DISABLED = Refusal(AvatarErrorCode.avatar_disabled,
                    "The face-to-face channel is switched off for your dealership; this session is voice only.",
                    AvatarFallback.none)
_UNAVAILABLE = Refusal(AvatarErrorCode.avatar_unavailable,
                       "The photoreal avatar is not available here; using the built-in one.", AvatarFallback.builtin)
_QUOTA = Refusal(AvatarErrorCode.avatar_quota_exhausted,
                 "This month's photoreal avatar minutes are used up; using the built-in one.", AvatarFallback.builtin)


class AvatarService:
    def __init__(self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], tasks: TaskSupervisor,
                 api: LiveAvatarApi | None) -> None:
        self.settings = settings
        self.tasks = tasks
        self.meter = Meter(sessionmaker)
        self.api = api  # None: LiveAvatar is not configured on this server
        self._sessionmaker = sessionmaker

    async def decide(self, dealership_id: uuid.UUID | None, requested: str) -> Decision:
        """Which face a session that asked for `requested` gets (one dealership read; a LiveAvatar
        request also sums this month's minutes when the dealership has a cap)."""
        if requested == AvatarProvider.none:
            return Decision(AvatarProvider.none)
        stored = await self._stored(dealership_id)
        chosen = avatar_settings.effective(stored, liveavatar_configured=self.api is not None)
        if not chosen.enabled:
            return Decision(AvatarProvider.none, _DISABLED)
        if requested == AvatarProvider.builtin:
            return Decision(AvatarProvider.builtin)
        if self.api is None or chosen.provider != "liveavatar":
            return Decision(AvatarProvider.builtin, _UNAVAILABLE)
        remaining = (await self.meter.remaining(dealership_id, chosen.monthly_minutes_cap)
                     if dealership_id is not None else None)
        if remaining is not None and remaining <= 0:
            return Decision(AvatarProvider.builtin, _QUOTA)
        return Decision(AvatarProvider.liveavatar, remaining_s=remaining)

    def bridge(self, *, on_lost: Callable[[str, str], Awaitable[None]],
               on_speaking: Callable[[str, float, float], Awaitable[None]],
               on_spoken: Callable[[str, float, float], Awaitable[None]],
               dealership_id: uuid.UUID | None, session_id: uuid.UUID, user_id: uuid.UUID | None,
               remaining_s: float | None) -> LiteBridge:
        assert self.api is not None
        metering = (Metering(self.meter, dealership_id, session_id, user_id, remaining_s)
                    if dealership_id is not None else None)
        return LiteBridge(self.api, self.tasks, keepalive_s=self.settings.liveavatar_keepalive_s,
                          connect_timeout_s=self.settings.liveavatar_connect_timeout_s, on_lost=on_lost,
                          on_speaking=on_speaking, on_spoken=on_spoken, metering=metering)

    async def _stored(self, dealership_id: uuid.UUID | None) -> avatar_settings.AvatarSettings:
        if dealership_id is None:  # a super admin practising outside any dealership
            return avatar_settings.AvatarSettings()
        async with self._sessionmaker() as db:
            raw = await db.scalar(select(Dealership.settings).where(Dealership.id == dealership_id))
        return avatar_settings.stored(raw)


@asynccontextmanager
async def avatar_service(settings: Settings, sessionmaker: async_sessionmaker[AsyncSession],
                         tasks: TaskSupervisor) -> AsyncIterator[AvatarService]:
    client: httpx.AsyncClient | None = None
    api: LiveAvatarApi | None = None
    if settings.liveavatar_configured:
        assert settings.liveavatar_api_key is not None and settings.liveavatar_avatar_id is not None
        client = httpx.AsyncClient(timeout=httpx.Timeout(settings.liveavatar_http_timeout_s, connect=5.0))
        api = LiveAvatarApi(client, base_url=settings.liveavatar_base_url, api_key=settings.liveavatar_api_key,
                            avatar_id=settings.liveavatar_avatar_id, sandbox=settings.liveavatar_sandbox)
    try:
        yield AvatarService(settings, sessionmaker, tasks, api)
    finally:
        if client is not None:
            await client.aclose()
