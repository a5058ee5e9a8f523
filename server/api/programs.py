"""/programs: a programme is a named set of scenarios a person is certified for by passing all
of it, with levels (bronze, silver, gold: score thresholds 0-100) reached per scenario by the
person's best score. Admins write; everyone in the dealership reads (trainees see what they
are working towards)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Self

from pydantic import Field, model_validator

from server.api.endpoint import Ctx, endpoint
from server.api.schemas import Input, Name, Output
from server.db.models import Role
from server.practice import assignments
from server.practice.models import Program

TAG = "programs"
ADMINS = [Role.super_admin, Role.dealership_admin]
Score = Annotated[int, Field(ge=0, le=100)]
ScenarioIds = Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]], Field(min_length=1, max_length=50)]


class Levels(Input):
    bronze: Score = 60
    silver: Score = 75
    gold: Score = 90

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.bronze <= self.silver <= self.gold:
            raise ValueError("levels must rise: bronze <= silver <= gold")
        return self


class ProgramIn(Input):
    name: Name = Field(min_length=1)
    scenario_ids: ScenarioIds
    levels: Levels = Field(default_factory=Levels)
    dealership_id: uuid.UUID | None = Field(default=None, description="super admins only")


class ProgramPatch(Input):
    name: Name | None = Field(default=None, min_length=1)
    scenario_ids: ScenarioIds | None = None
    levels: Levels | None = None


class LevelsOut(Output):
    bronze: int
    silver: int
    gold: int


class ProgramOut(Output):
    id: uuid.UUID
    dealership_id: uuid.UUID
    name: str
    scenario_ids: list[str]
    levels: LevelsOut
    created_at: datetime


class ProgramList(Output):
    items: list[ProgramOut]
    total: int


def _out(row: Program) -> ProgramOut:
    return ProgramOut(id=row.id, dealership_id=row.dealership_id, name=row.name, scenario_ids=row.scenario_ids,
                      levels=LevelsOut(**row.levels), created_at=row.created_at)


@endpoint("GET", "/programs", summary="List the dealership's programmes", tag=TAG, response=ProgramList)
async def list_programs(ctx: Ctx) -> ProgramList:
    rows, total = await ctx.scope.list(Program, order_by=Program.name, limit=200)
    return ProgramList(items=[_out(row) for row in rows], total=total)


@endpoint("GET", "/programs/{program_id:uuid}", summary="Get a programme", tag=TAG, response=ProgramOut,
          errors=(404,))
async def get_program(ctx: Ctx, program_id: uuid.UUID) -> ProgramOut:
    return _out(await ctx.scope.get(Program, program_id))


@endpoint("POST", "/programs", summary="Create a programme", tag=TAG, body=ProgramIn, response=ProgramOut,
          status=201, roles=ADMINS, errors=(403, 404, 422))
async def create_program(ctx: Ctx, body: ProgramIn) -> ProgramOut:
    dealership = await ctx.scope.dealership(body.dealership_id)
    scenario_ids = list(dict.fromkeys(body.scenario_ids))
    await assignments.check_scenarios(ctx.scope, scenario_ids, dealership.id, "scenario_ids")
    row = Program(dealership_id=dealership.id, name=body.name, scenario_ids=scenario_ids,
                  levels=body.levels.model_dump())
    ctx.db.add(row)
    await ctx.db.flush()
    await ctx.db.refresh(row)
    return _out(row)


@endpoint("PATCH", "/programs/{program_id:uuid}", summary="Edit a programme (assignments made from it keep "
          "their scenarios)", tag=TAG, body=ProgramPatch, response=ProgramOut, roles=ADMINS, resource=Program,
          errors=(403, 404, 422))
async def update_program(ctx: Ctx, program_id: uuid.UUID, body: ProgramPatch) -> ProgramOut:
    row = await ctx.scope.get(Program, program_id, for_update=True)
    if body.name is not None:
        row.name = body.name
    if body.scenario_ids is not None:
        scenario_ids = list(dict.fromkeys(body.scenario_ids))
        await assignments.check_scenarios(ctx.scope, scenario_ids, row.dealership_id, "scenario_ids")
        row.scenario_ids = scenario_ids
    if body.levels is not None:
        row.levels = body.levels.model_dump()
    await ctx.db.flush()
    return _out(row)


@endpoint("DELETE", "/programs/{program_id:uuid}", summary="Delete a programme", tag=TAG, status=204,
          roles=ADMINS, resource=Program, errors=(403, 404))
async def delete_program(ctx: Ctx, program_id: uuid.UUID) -> None:
    row = await ctx.scope.get(Program, program_id, for_update=True)
    row.deleted_at = datetime.now(UTC)


ENDPOINTS = [list_programs, get_program, create_program, update_program, delete_program]
