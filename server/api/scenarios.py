"""/scenarios: what to practise. Built-ins (string ids) ship with the server and are read-only:
copy one by POSTing its fields. A dealership's admins add, edit, deactivate and delete their own;
plain users read their dealership's active ones (and the built-ins) and start them from /chat or
the voice `start` with `scenario_id`. Sessions keep a frozen copy, so edits never change results."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import Field, ValidationError, model_validator
from sqlalchemy import ColumnElement

from server.api import personas
from server.api.endpoint import Ctx, endpoint, field_errors
from server.api.schemas import Input, Output
from server.conversation.personas import PersonaSpec
from server.conversation.taxonomy import Objection
from server.db.models import Role
from server.errors import Forbidden, NotFound, ValidationFailed
from server.training import catalog
from server.training.catalog import ScenarioView
from server.training.models import Scenario
from server.training.spec import Difficulty, HiddenFact, ScenarioSpec

TAG = "scenarios"
ADMINS = [Role.super_admin, Role.dealership_admin]
_NULLABLE = {"time_limit_s"}  # null is a value of its own here: no time limit


class ScenarioIn(ScenarioSpec):
    # Either names an existing persona or brings a new one (the builder's draft `{persona,
    # scenario}` saves in one call, both or neither written).
    persona_id: str | None = Field(  # type: ignore[assignment]
        default=None, min_length=1, max_length=64, description="an existing persona; or give `persona`")
    persona: PersonaSpec | None = Field(
        default=None, description="a new persona of the dealership, saved with the scenario; instead of persona_id")
    dealership_id: uuid.UUID | None = Field(default=None, description="super admins only")

    @model_validator(mode="after")
    def _one_persona(self) -> ScenarioIn:
        if (self.persona_id is None) == (self.persona is None):
            raise ValueError("give exactly one of persona_id (an existing persona) and persona (a new one)")
        return self


class ScenarioPatch(Input):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    mode: str | None = Field(default=None, pattern="^(roleplay|training)$")
    persona_id: str | None = Field(default=None, min_length=1, max_length=64)
    situation: str | None = Field(default=None, max_length=2000)
    objections: list[Objection] | None = Field(default=None, max_length=7)
    hidden_facts: list[HiddenFact] | None = Field(default=None, max_length=20)
    goal: str | None = Field(default=None, max_length=2000)
    rubric_id: str | None = Field(default=None, min_length=1, max_length=64)
    pass_score: int | None = Field(default=None, ge=0, le=100)
    time_limit_s: int | None = Field(default=None, ge=30, le=3600, description="null: no time limit")
    difficulty: Difficulty | None = None
    active: bool | None = None


class ScenarioOut(ScenarioView):
    dealership_id: uuid.UUID | None = None


class ScenarioQuery(Input):
    include_inactive: bool = Field(default=False, description="admins only")
    dealership_id: uuid.UUID | None = Field(default=None, description="super admins only: whose scenarios to list")


class ScenarioList(Output):
    items: list[ScenarioOut]
    total: int


def _out(row: Scenario) -> ScenarioOut:
    return ScenarioOut(**catalog.scenario_from_row(row).model_dump(), dealership_id=row.dealership_id)


def _key(scenario_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(scenario_id)
    except ValueError:
        raise NotFound("Scenario not found.") from None


async def _own(ctx: Ctx, scenario_id: str) -> Scenario:
    if scenario_id in catalog.builtin_scenarios():
        raise Forbidden("Built-in scenarios cannot be changed or deleted; copy one (POST /scenarios with its "
                        "fields) and change the copy.", code="builtin_scenario")
    return await ctx.scope.get(Scenario, _key(scenario_id), for_update=True)


@endpoint("GET", "/scenarios", summary="List the scenarios you can practise", tag=TAG, query=ScenarioQuery,
          response=ScenarioList, errors=(422,))
async def list_scenarios(ctx: Ctx, query: ScenarioQuery) -> ScenarioList:
    show_inactive = query.include_inactive and ctx.principal.is_admin
    items = [ScenarioOut(**s.model_dump()) for s in catalog.builtin_scenarios().values()]
    criteria: list[ColumnElement[bool]] = [] if show_inactive else [Scenario.active.is_(True)]
    if query.dealership_id is not None and ctx.principal.is_super_admin:
        criteria.append(Scenario.dealership_id == query.dealership_id)
    rows, _ = await ctx.scope.list(Scenario, *criteria, order_by=Scenario.created_at, limit=200)
    items += [_out(row) for row in rows]
    return ScenarioList(items=items, total=len(items))


@endpoint("GET", "/scenarios/{scenario_id}", summary="Get a scenario", tag=TAG, response=ScenarioOut,
          errors=(404,))
async def get_scenario(ctx: Ctx, scenario_id: str) -> ScenarioOut:
    if (builtin := catalog.builtin_scenarios().get(scenario_id)) is not None:
        return ScenarioOut(**builtin.model_dump())
    row = await ctx.scope.get(Scenario, _key(scenario_id))
    if not row.active and not ctx.principal.is_admin:
        raise NotFound("Scenario not found.")  # a deactivated scenario is the admins' business
    return _out(row)


@endpoint("POST", "/scenarios", summary="Create a scenario for your dealership (or copy a built-in)", tag=TAG,
          body=ScenarioIn, response=ScenarioOut, status=201, roles=ADMINS, errors=(403, 404, 422))
async def create_scenario(ctx: Ctx, body: ScenarioIn) -> ScenarioOut:
    dealership = await ctx.scope.dealership(body.dealership_id)
    persona_id = body.persona_id
    if body.persona is not None:
        persona_id = str((await personas.add(ctx, dealership.id, body.persona)).id)
    fields = body.model_dump(exclude={"dealership_id", "persona"})
    spec = ScenarioSpec.model_validate({**fields, "persona_id": persona_id})
    await catalog.check_references(ctx.scope, spec, dealership.id)
    row = Scenario(dealership_id=dealership.id, created_by=ctx.principal.user_id, **catalog.row_fields(spec))
    ctx.db.add(row)
    await ctx.db.flush()
    await ctx.db.refresh(row)
    return _out(row)


@endpoint("PATCH", "/scenarios/{scenario_id}", summary="Edit or (de)activate a scenario (past sessions keep "
          "their copy)", tag=TAG, body=ScenarioPatch, response=ScenarioOut, roles=ADMINS, errors=(403, 404, 422))
async def update_scenario(ctx: Ctx, scenario_id: str, body: ScenarioPatch) -> ScenarioOut:
    row = await _own(ctx, scenario_id)
    # As on every PATCH: null leaves a field as it is, except where null is a value of its own.
    changes: dict[str, Any] = {k: v for k, v in body.model_dump(exclude_unset=True).items()
                               if v is not None or k in _NULLABLE}
    try:
        spec = ScenarioSpec.model_validate({**row.spec, "title": row.title, "active": row.active, **changes})
    except ValidationError as exc:
        raise ValidationFailed(details=field_errors(exc, "body")) from None
    if {"persona_id", "rubric_id", "mode"} & set(changes):
        await catalog.check_references(ctx.scope, spec, row.dealership_id)
    for name, value in catalog.row_fields(spec).items():
        setattr(row, name, value)
    await ctx.db.flush()
    await ctx.db.refresh(row)
    return _out(row)


@endpoint("DELETE", "/scenarios/{scenario_id}", summary="Delete a scenario (past sessions keep their copy)",
          tag=TAG, status=204, roles=ADMINS, errors=(403, 404))
async def delete_scenario(ctx: Ctx, scenario_id: str) -> None:
    row = await _own(ctx, scenario_id)
    row.deleted_at = datetime.now(UTC)
    row.active = False


ENDPOINTS = [list_scenarios, get_scenario, create_scenario, update_scenario, delete_scenario]
