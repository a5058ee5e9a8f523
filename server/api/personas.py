"""/personas: Adam and the role-play customers. Built-ins ship with the server; dealership
admins add, edit and disable their dealership's own, and disable or re-enable a built-in for
their dealership only (stored in the dealership's settings, `disabled_personas`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import partial
from typing import Any

from pydantic import Field, ValidationError

from server.api.endpoint import Ctx, endpoint, field_errors
from server.api.schemas import Input, Output
from server.avatar.looks import AvatarLook
from server.conversation.models import Persona
from server.conversation.personas import (
    DISABLED_KEY,
    Kind,
    PersonaSpec,
    PersonaView,
    builtin_personas,
    disabled_builtins,
    from_row,
)
from server.db.models import Dealership, Role
from server.errors import Forbidden, NotFound, ValidationFailed

TAG = "personas"
ADMINS = [Role.super_admin, Role.dealership_admin]
_NULLABLE = {name for name, info in PersonaSpec.model_fields.items() if info.default is None}


class PersonaIn(PersonaSpec):
    dealership_id: uuid.UUID | None = Field(default=None, description="super admins only")


class PersonaPatch(Input):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    summary: str | None = Field(default=None, max_length=500)
    difficulty: str | None = Field(default=None, pattern="^(easy|medium|hard)$")
    vehicle: str | None = Field(default=None, max_length=200)
    budget: str | None = Field(default=None, max_length=200)
    personality: str | None = Field(default=None, max_length=1000)
    objections: list[str] | None = None
    opening_line: str | None = Field(default=None, max_length=500)
    lines: dict[str, list[str]] | None = None
    agree_line: str | None = Field(default=None, max_length=500)
    voice: str | None = Field(default=None, max_length=100)
    avatar_look: AvatarLook | None = Field(default=None, description="null: the look derived from the persona's id")
    active: bool | None = None
    dealership_id: uuid.UUID | None = Field(
        default=None, description="super admins only: the dealership a built-in is disabled or enabled for")


class PersonaOut(PersonaView):
    dealership_id: uuid.UUID | None = None


class PersonaQuery(Input):
    kind: Kind | None = None
    include_inactive: bool = False
    dealership_id: uuid.UUID | None = Field(
        default=None, description="super admins only: whose disabled built-ins to show as inactive")


class PersonaList(Output):
    items: list[PersonaOut]
    total: int


def _out(row: Persona) -> PersonaOut:
    return PersonaOut(**from_row(row).model_dump(), dealership_id=row.dealership_id)


async def _own(ctx: Ctx, persona_id: str) -> Persona:
    if persona_id in builtin_personas():
        raise Forbidden("Built-in personas cannot be changed or deleted, only disabled or re-enabled for your "
                        "dealership (PATCH {\"active\": false|true}); create your dealership's own instead.",
                        code="builtin_persona")
    try:
        key = uuid.UUID(persona_id)
    except ValueError:
        raise NotFound("Persona not found.") from None
    return await ctx.scope.get(Persona, key, for_update=True)


async def _disabled(ctx: Ctx, requested: uuid.UUID | None) -> frozenset[str]:
    """Built-ins disabled for the caller's dealership (a super admin's chosen one, else none)."""
    if ctx.principal.is_super_admin and requested is None:
        return frozenset()
    return disabled_builtins((await ctx.scope.dealership(requested)).settings)


def _builtin_out(persona: PersonaView, disabled: frozenset[str]) -> PersonaOut:
    return PersonaOut(**{**persona.model_dump(), "active": persona.id not in disabled})


@endpoint("GET", "/personas", summary="List the personas you can practise with", tag=TAG, query=PersonaQuery,
          response=PersonaList, errors=(404, 422))
async def list_personas(ctx: Ctx, query: PersonaQuery) -> PersonaList:
    show_inactive = query.include_inactive and ctx.principal.is_admin
    disabled = await _disabled(ctx, query.dealership_id)
    items = [_builtin_out(p, disabled) for p in builtin_personas().values()]
    items = [p for p in items if p.active or show_inactive]
    criteria = [] if show_inactive else [Persona.active.is_(True)]
    rows, _ = await ctx.scope.list(Persona, *criteria, order_by=Persona.created_at, limit=200)
    items += [_out(row) for row in rows]
    if query.kind is not None:
        items = [p for p in items if p.kind == query.kind]
    return PersonaList(items=items, total=len(items))


@endpoint("GET", "/personas/{persona_id}", summary="Get a persona", tag=TAG, response=PersonaOut, errors=(404,))
async def get_persona(ctx: Ctx, persona_id: str) -> PersonaOut:
    if (builtin := builtin_personas().get(persona_id)) is not None:
        return _builtin_out(builtin, await _disabled(ctx, None))
    try:
        key = uuid.UUID(persona_id)
    except ValueError:
        raise NotFound("Persona not found.") from None
    return _out(await ctx.scope.get(Persona, key))


@endpoint("POST", "/personas", summary="Create a persona for your dealership", tag=TAG, body=PersonaIn,
          response=PersonaOut, status=201, roles=ADMINS, errors=(403, 404, 422))
async def create_persona(ctx: Ctx, body: PersonaIn) -> PersonaOut:
    dealership = await ctx.scope.dealership(body.dealership_id)
    row = await add(ctx, dealership.id, PersonaSpec.model_validate(body.model_dump(exclude={"dealership_id"})))
    return _out(row)


async def add(ctx: Ctx, dealership_id: uuid.UUID, spec: PersonaSpec) -> Persona:
    """A new persona of the dealership, in the request's transaction (also a scenario's inline `persona`)."""
    row = Persona(dealership_id=dealership_id, kind=spec.kind, name=spec.name, created_by=ctx.principal.user_id,
                  spec=spec.model_dump(mode="json", exclude={"kind", "name"}))
    ctx.db.add(row)
    await ctx.db.flush()
    await ctx.db.refresh(row)
    return row


@endpoint("PATCH", "/personas/{persona_id}", summary="Edit, disable or re-enable a persona", tag=TAG,
          body=PersonaPatch, response=PersonaOut, roles=ADMINS, errors=(403, 404, 422))
async def update_persona(ctx: Ctx, persona_id: str, body: PersonaPatch) -> PersonaOut:
    changes: dict[str, Any] = body.model_dump(exclude_unset=True, exclude={"dealership_id"})
    # As on every PATCH: null leaves a field as it is, except where null is a value of its own
    # (`voice`: the default voice; `avatar_look`: the look derived from the id).
    changes = {k: v for k, v in changes.items() if v is not None or k in _NULLABLE}
    if (builtin := builtin_personas().get(persona_id)) is not None and set(changes) == {"active"} \
            and changes["active"] is not None:
        return await _toggle_builtin(ctx, builtin, bool(changes["active"]), body.dealership_id)
    row = await _own(ctx, persona_id)
    if "active" in changes:
        row.active = bool(changes.pop("active"))
    merged = {**row.spec, "kind": row.kind, "name": row.name, **changes}
    try:
        spec = PersonaSpec.model_validate(merged)
    except ValidationError as exc:
        raise ValidationFailed(details=field_errors(exc, "body")) from None
    row.name = spec.name
    row.spec = spec.model_dump(mode="json", exclude={"kind", "name"})
    await ctx.db.flush()
    await ctx.db.refresh(row)
    return _out(row)


def settings_changed(ctx: Ctx, dealership_id: uuid.UUID) -> None:
    """New sessions see a dealership's changed persona settings at once on this instance."""
    engine = ctx.state.conversations
    if engine is not None:
        ctx.after_commit(partial(engine.dealership_changed, dealership_id))


async def _toggle_builtin(ctx: Ctx, persona: PersonaView, active: bool, requested: uuid.UUID | None) -> PersonaOut:
    """Disable or re-enable a built-in for one dealership. The row lock serialises concurrent
    toggles (and dealership settings edits) so none is lost."""
    dealership_id = ctx.scope.dealership_for_write(requested)
    dealership = await ctx.scope.get(Dealership, dealership_id, for_update=True)
    disabled = set(disabled_builtins(dealership.settings))
    if active:
        disabled.discard(persona.id)
    else:
        disabled.add(persona.id)
    # A new dict: SQLAlchemy does not see in-place changes to a JSON column.
    dealership.settings = {**(dealership.settings or {}), DISABLED_KEY: sorted(disabled)}
    await ctx.db.flush()
    settings_changed(ctx, dealership_id)
    return _builtin_out(persona, frozenset(disabled))


@endpoint("DELETE", "/personas/{persona_id}", summary="Delete a persona (past sessions keep their copy)", tag=TAG,
          status=204, roles=ADMINS, errors=(403, 404))
async def delete_persona(ctx: Ctx, persona_id: str) -> None:
    row = await _own(ctx, persona_id)
    row.deleted_at = datetime.now(UTC)
    row.active = False


ENDPOINTS = [list_personas, get_persona, create_persona, update_persona, delete_persona]
