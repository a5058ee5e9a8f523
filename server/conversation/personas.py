"""Personas: Adam the trainer and the role-play customers.

Built-in personas ship as JSON files next to this module (`personas/*.json`) and have short
string ids ("adam", "sam-price"); a dealership's own personas live in the `persona` table and
have UUID ids. Both validate into the same `PersonaSpec`.
"""

from __future__ import annotations

import json
import uuid
from functools import cache
from importlib import resources
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.avatar.looks import AvatarLook, default_look
from server.conversation.models import Mode, Persona
from server.conversation.taxonomy import Objection
from server.db.models import Dealership
from server.errors import Conflict, NotFound, ValidationFailed
from server.tenancy import Principal, Scope

Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Kind = Literal["trainer", "customer"]
TRAINER_ID = "adam"
# The customer a role-play uses when neither the caller nor the dealership's `default_persona` names one.
DEFAULT_CUSTOMER_ID = "grace-firsttime"
# The dealership settings key listing the built-in personas that dealership has disabled: built-ins
# are shared files, so "disabled" is a per-dealership fact stored with the dealership.
DISABLED_KEY = "disabled_personas"


class PersonaSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Kind
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    summary: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""
    difficulty: Literal["easy", "medium", "hard"] = "medium"
    vehicle: Annotated[str, StringConstraints(max_length=200)] = ""
    budget: Annotated[str, StringConstraints(max_length=200)] = ""
    personality: Annotated[str, StringConstraints(max_length=1000)] = ""
    objections: list[Objection] = Field(default_factory=list, max_length=7)
    opening_line: Annotated[str, StringConstraints(max_length=500)] = ""
    # The offline engine's words for each objection (first raise, then pushes); generic lines
    # fill in for any objection a persona does not script.
    lines: dict[Objection, list[Line]] = Field(default_factory=dict)
    # What the customer says when convinced, and when they finally agree to buy.
    agree_line: Annotated[str, StringConstraints(max_length=500)] = ""
    voice: str | None = Field(default=None, max_length=100, description="TTS voice for the voice channel")
    avatar_look: AvatarLook | None = Field(
        default=None, description="The built-in avatar's look; null: one derived from the persona's id")


class PersonaView(PersonaSpec):
    id: str
    builtin: bool
    active: bool = True

    @model_validator(mode="after")
    def _look(self) -> PersonaView:
        # Every persona shows a face: one without a chosen look gets the same one every time.
        if self.avatar_look is None:
            self.avatar_look = default_look(self.id)
        return self

    @property
    def mode(self) -> Mode:
        return Mode.training if self.kind == "trainer" else Mode.roleplay


@cache
def builtin_personas() -> dict[str, PersonaView]:
    found: dict[str, PersonaView] = {}
    folder = resources.files("server.conversation").joinpath("personas")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            data = json.loads(entry.read_text(encoding="utf-8"))
            view = PersonaView(builtin=True, **data)
            found[view.id] = view
    return found


def from_row(row: Persona) -> PersonaView:
    return PersonaView(id=str(row.id), builtin=False, active=row.active, kind=row.kind, name=row.name,
                       **{k: v for k, v in row.spec.items() if k not in {"kind", "name"}})


def builtin(persona_id: str | None, mode: Mode) -> PersonaView | None:
    """The built-in persona a new session uses (Adam when training without a choice), or None
    (a dealership persona, or a role-play without a choice: `resolve` decides)."""
    if persona_id is None:
        return builtin_personas()[TRAINER_ID] if mode is Mode.training else None
    persona = builtin_personas().get(persona_id)
    return _check_mode(persona, mode) if persona is not None else None


def disabled_builtins(settings: dict[str, object] | None) -> frozenset[str]:
    listed = (settings or {}).get(DISABLED_KEY)
    return frozenset(str(item) for item in listed) if isinstance(listed, list) else frozenset()


async def disabled_for(db: AsyncSession, dealership_id: uuid.UUID) -> frozenset[str]:
    """The built-in personas `dealership_id` has disabled (one primary-key read)."""
    settings = (await db.execute(select(Dealership.settings).where(Dealership.id == dealership_id))).scalar()
    return disabled_builtins(settings)


def check_enabled(persona: PersonaView, disabled: frozenset[str]) -> PersonaView:
    """A new session may not start with a built-in its dealership disabled (409 `persona_disabled`);
    sessions already started keep their copy of the persona and are not affected."""
    if persona.builtin and persona.id in disabled:
        raise Conflict(f"The persona {persona.name!r} is disabled for your dealership; pick another one.",
                       code="persona_disabled", details={"persona_id": persona.id})
    return persona


async def resolve(principal: Principal, db: AsyncSession, persona_id: str | None, mode: Mode,
                  dealership_id: uuid.UUID) -> PersonaView:
    """The persona a new session uses: built-in (unless the dealership disabled it) or the session
    dealership's own (404 otherwise). A role-play without a choice gets the dealership's
    `default_persona`, else the first enabled built-in customer, else an active dealership customer."""
    dealership = await db.get(Dealership, dealership_id)
    disabled = disabled_builtins(dealership.settings if dealership else None)
    if persona_id is None and mode is Mode.roleplay:
        preferred = (dealership.settings or {}).get("default_persona") if dealership else None
        if preferred:
            try:
                return await _resolve_one(principal, db, str(preferred), mode, dealership_id, disabled)
            except (NotFound, ValidationFailed, Conflict):
                pass  # a stale or disabled setting must not block practice: fall back to a built-in
        return await _fallback_customer(principal, db, dealership_id, disabled)
    return await _resolve_one(principal, db, persona_id, mode, dealership_id, disabled)


async def _resolve_one(principal: Principal, db: AsyncSession, persona_id: str | None, mode: Mode,
                       dealership_id: uuid.UUID, disabled: frozenset[str]) -> PersonaView:
    found = builtin(persona_id, mode)
    if found is not None:
        return check_enabled(found, disabled)
    try:
        key = uuid.UUID(str(persona_id))
    except ValueError:
        raise NotFound("Persona not found.") from None
    row = await Scope(principal, db).get(Persona, key)
    if row.dealership_id != dealership_id or not row.active:
        raise NotFound("Persona not found.")
    return _check_mode(from_row(row), mode)


async def _fallback_customer(principal: Principal, db: AsyncSession, dealership_id: uuid.UUID,
                             disabled: frozenset[str]) -> PersonaView:
    customers = [p for p in builtin_personas().values() if p.kind == "customer" and p.id not in disabled]
    customers.sort(key=lambda p: p.id != DEFAULT_CUSTOMER_ID)  # the usual default first, when enabled
    if customers:
        return customers[0]
    row = (await db.execute(Scope(principal, db).select(
        Persona, Persona.dealership_id == dealership_id, Persona.active.is_(True), Persona.kind == "customer",
    ).order_by(Persona.created_at).limit(1))).scalar_one_or_none()
    if row is None:
        raise Conflict("Every role-play customer is disabled for your dealership; ask an admin to enable one.",
                       code="persona_disabled")
    return from_row(row)


def _check_mode(persona: PersonaView, mode: Mode) -> PersonaView:
    if persona.mode is not mode:
        raise ValidationFailed(f"Persona {persona.name!r} is for {persona.mode.value} mode.",
                               details=[{"field": "persona_id", "message": f"not a {mode.value} persona"}])
    return persona
