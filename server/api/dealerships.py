"""/dealerships: the tenants. Super admins manage all; others see (and admins edit) their own."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints
from sqlalchemy import delete

from server import audit
from server.accounts import unique_slug
from server.api.endpoint import Ctx, endpoint
from server.api.schemas import Input, Name, Output, PageQuery
from server.avatar import settings as avatar_settings
from server.avatar.settings import AvatarSettings, AvatarSettingsPatch
from server.db.models import AuditAction, Dealership, Role
from server.errors import Conflict, Forbidden, ValidationFailed
from server.rag.documents import forget_dealership
from server.rag.queue import notify

TAG = "dealerships"
Slug = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")]


class DealershipSettings(Input):
    knowledge_base_enabled: bool = True
    default_persona: str | None = Field(default=None, max_length=100)
    voice_id: str | None = Field(default=None, max_length=100)
    avatar_id: str | None = Field(default=None, max_length=100)
    chunk_size: int = Field(default=1000, ge=200, le=4000)
    chunk_overlap: int = Field(default=200, ge=0, le=1000)
    record_audio: bool = False
    leaderboard_enabled: bool = Field(default=True, description="team insight shows a leaderboard")
    disabled_personas: list[str] = Field(
        default_factory=list, max_length=100,
        description="built-in personas disabled for this dealership (change with PATCH /personas/{id} {active})")
    avatar: AvatarSettings = Field(default_factory=AvatarSettings,
                                   description="the avatar channel: on/off, provider, monthly photoreal minute cap")


class DealershipIn(Input):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    slug: Slug | None = None
    settings: DealershipSettings | None = None


class DealershipSettingsPatch(Input):
    knowledge_base_enabled: bool | None = None
    default_persona: str | None = Field(default=None, max_length=100)
    voice_id: str | None = Field(default=None, max_length=100)
    avatar_id: str | None = Field(default=None, max_length=100)
    chunk_size: int | None = Field(default=None, ge=200, le=4000)
    chunk_overlap: int | None = Field(default=None, ge=0, le=1000)
    record_audio: bool | None = None
    avatar: AvatarSettingsPatch | None = None
    leaderboard_enabled: bool | None = None


class DealershipPatch(Input):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None
    slug: Slug | None = None
    settings: DealershipSettingsPatch | None = None
    active: bool | None = None


class DealershipOut(Output):
    id: uuid.UUID
    name: str
    slug: str
    settings: DealershipSettings
    active: bool
    created_at: datetime


class DealershipList(Output):
    items: list[DealershipOut]
    total: int


_NULLABLE_SETTINGS = {"default_persona", "voice_id", "avatar_id"}


def _out(dealership: Dealership) -> DealershipOut:
    return DealershipOut(
        id=dealership.id, name=dealership.name, slug=dealership.slug, active=dealership.active,
        created_at=dealership.created_at, settings=DealershipSettings.model_validate(dealership.settings or {}),
    )


async def _slug_free(ctx: Ctx, slug: str, except_id: uuid.UUID | None = None) -> None:
    existing = await ctx.db.scalar(Dealership.__table__.select().with_only_columns(Dealership.id)
                                   .where(Dealership.slug == slug))
    if existing is not None and existing != except_id:
        raise Conflict("A dealership with this slug already exists.", code="slug_taken")


@endpoint("POST", "/dealerships", summary="Create a dealership", tag=TAG, body=DealershipIn,
          response=DealershipOut, status=201, roles=[Role.super_admin], errors=(409,))
async def create_dealership(ctx: Ctx, body: DealershipIn) -> DealershipOut:
    if body.slug:
        await _slug_free(ctx, body.slug)
    slug = body.slug or await unique_slug(ctx.db, body.name)
    settings = (body.settings or DealershipSettings()).model_dump()
    dealership = Dealership(name=body.name, slug=slug, settings=settings, active=True)
    ctx.db.add(dealership)
    await ctx.db.flush()
    await ctx.db.refresh(dealership)
    audit.record(ctx.db, AuditAction.dealership_created, actor_id=ctx.principal.user_id,
                 dealership_id=dealership.id, ip=ctx.client_ip)
    return _out(dealership)


@endpoint("GET", "/dealerships", summary="List the dealerships you can see", tag=TAG, query=PageQuery,
          response=DealershipList)
async def list_dealerships(ctx: Ctx, query: PageQuery) -> DealershipList:
    rows, total = await ctx.scope.list(Dealership, order_by=Dealership.name, limit=query.limit,
                                       offset=query.offset)
    return DealershipList(items=[_out(row) for row in rows], total=total)


@endpoint("GET", "/dealerships/{dealership_id:uuid}", summary="Get a dealership", tag=TAG,
          response=DealershipOut, errors=(404,))
async def get_dealership(ctx: Ctx, dealership_id: uuid.UUID) -> DealershipOut:
    return _out(await ctx.scope.get(Dealership, dealership_id))


@endpoint("PATCH", "/dealerships/{dealership_id:uuid}", summary="Update a dealership", tag=TAG,
          body=DealershipPatch, response=DealershipOut, roles=[Role.super_admin, Role.dealership_admin],
          resource=Dealership, errors=(403, 404, 409))
async def update_dealership(ctx: Ctx, dealership_id: uuid.UUID, body: DealershipPatch) -> DealershipOut:
    dealership = await ctx.scope.get(Dealership, dealership_id, for_update=True)
    if not ctx.principal.is_super_admin and (body.slug is not None or body.active is not None):
        raise Forbidden("Only a super admin can change a dealership's slug or active flag.")
    if body.name is not None:
        dealership.name = body.name
    if body.slug is not None and body.slug != dealership.slug:
        await _slug_free(ctx, body.slug, except_id=dealership.id)
        dealership.slug = body.slug
    if body.active is not None and body.active != dealership.active:
        dealership.active = body.active
        action = AuditAction.dealership_reactivated if body.active else AuditAction.dealership_suspended
        audit.record(ctx.db, action, actor_id=ctx.principal.user_id, dealership_id=dealership.id, ip=ctx.client_ip)
        # The authenticator judges every request and voice turn by the dealership's flag: drop
        # every cached account here once committed (other instances follow within the TTL).
        ctx.after_commit(ctx.state.authenticator.clear)
        if body.active:
            await notify(ctx.db)  # its waiting documents can be claimed again
    if body.settings is not None:
        current = DealershipSettings.model_validate(dealership.settings or {}).model_dump()
        changes = body.settings.model_dump(exclude_unset=True, exclude={"avatar"})
        # Nullable strings may be cleared; booleans and numbers sent as null keep their value.
        changes = {k: v for k, v in changes.items() if v is not None or k in _NULLABLE_SETTINGS}
        if body.settings.avatar is not None:
            changes["avatar"] = _avatar(ctx, AvatarSettings.model_validate(current.get("avatar") or {}),
                                        body.settings.avatar).model_dump()
        settings = DealershipSettings.model_validate({**current, **changes})
        if settings.chunk_overlap >= settings.chunk_size:
            raise ValidationFailed(details=[{"field": "settings.chunk_overlap",
                                             "message": "must be smaller than chunk_size"}])
        dealership.settings = settings.model_dump()
    await ctx.db.flush()
    return _out(dealership)


def _avatar(ctx: Ctx, current: AvatarSettings, patch: AvatarSettingsPatch) -> AvatarSettings:
    settings = avatar_settings.patched(current, patch)
    if "provider" in patch.model_fields_set and settings.provider == "liveavatar" \
            and not ctx.state.settings.liveavatar_configured:
        raise ValidationFailed(details=[{"field": "settings.avatar.provider",
                                         "message": "LiveAvatar is not configured on this server"}])
    return settings


@endpoint("DELETE", "/dealerships/{dealership_id:uuid}", summary="Delete a dealership and all its data",
          tag=TAG, status=204, roles=[Role.super_admin], resource=Dealership, errors=(403, 404))
async def delete_dealership(ctx: Ctx, dealership_id: uuid.UUID) -> None:
    dealership = await ctx.scope.get(Dealership, dealership_id)
    if ctx.state.rag is not None:
        await forget_dealership(ctx.db, ctx.state.rag, dealership.id)
    audit.record(ctx.db, AuditAction.dealership_deleted, actor_id=ctx.principal.user_id, ip=ctx.client_ip,
                 deleted_dealership_id=str(dealership.id), name=dealership.name)
    await ctx.db.execute(delete(Dealership).where(Dealership.id == dealership.id))
    ctx.after_commit(ctx.state.authenticator.clear)


ENDPOINTS = [create_dealership, list_dealerships, get_dealership, update_dealership, delete_dealership]
__all__ = ["ENDPOINTS", "Name"]
