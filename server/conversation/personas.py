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

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy.ext.asyncio import AsyncSession

from server.conversation.models import Mode, Persona
from server.conversation.taxonomy import Objection
from server.db.models import Dealership
from server.errors import NotFound, ValidationFailed
from server.tenancy import Principal, Scope

Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Kind = Literal["trainer", "customer"]
TRAINER_ID = "adam"
# The customer a role-play uses when neither the caller nor the dealership's `default_persona` names one.
DEFAULT_CUSTOMER_ID = "grace-firsttime"


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


class PersonaView(PersonaSpec):
    id: str
    builtin: bool
    active: bool = True

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


async def resolve(principal: Principal, db: AsyncSession, persona_id: str | None, mode: Mode,
                  dealership_id: uuid.UUID) -> PersonaView:
    """The persona a new session uses: built-in or the session dealership's own (404 otherwise).
    A role-play without a choice gets the dealership's `default_persona`, else a built-in customer."""
    if persona_id is None and mode is Mode.roleplay:
        dealership = await db.get(Dealership, dealership_id)
        preferred = (dealership.settings or {}).get("default_persona") if dealership else None
        persona_id = DEFAULT_CUSTOMER_ID
        if preferred:
            try:
                return await resolve(principal, db, str(preferred), mode, dealership_id)
            except (NotFound, ValidationFailed):
                pass  # a stale setting must not block practice: fall back to the built-in default
    found = builtin(persona_id, mode)
    if found is not None:
        return found
    try:
        key = uuid.UUID(str(persona_id))
    except ValueError:
        raise NotFound("Persona not found.") from None
    row = await Scope(principal, db).get(Persona, key)
    if row.dealership_id != dealership_id or not row.active:
        raise NotFound("Persona not found.")
    return _check_mode(from_row(row), mode)


def _check_mode(persona: PersonaView, mode: Mode) -> PersonaView:
    if persona.mode is not mode:
        raise ValidationFailed(f"Persona {persona.name!r} is for {persona.mode.value} mode.",
                               details=[{"field": "persona_id", "message": f"not a {mode.value} persona"}])
    return persona
