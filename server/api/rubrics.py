"""/rubrics: how a scenario is judged. Built-ins (string ids) ship with the server and are
read-only: copy one by POSTing its fields. A dealership's admins add, edit and delete their own;
everyone in the dealership reads them (a scorecard names its rubric)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import Field, ValidationError
from sqlalchemy import select

from server.api.endpoint import Ctx, endpoint, field_errors
from server.api.schemas import Input, Output
from server.db.models import Role
from server.errors import Conflict, Forbidden, NotFound, ValidationFailed
from server.training import catalog
from server.training.catalog import RubricView
from server.training.models import Rubric, Scenario
from server.training.spec import CriterionSpec, RubricSpec

TAG = "rubrics"
ADMINS = [Role.super_admin, Role.dealership_admin]


class RubricIn(RubricSpec):
    dealership_id: uuid.UUID | None = Field(default=None, description="super admins only")


class RubricPatch(Input):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    criteria: list[CriterionSpec] | None = Field(default=None, min_length=1, max_length=20)


class RubricOut(RubricView):
    dealership_id: uuid.UUID | None = None


class RubricQuery(Input):
    dealership_id: uuid.UUID | None = Field(default=None, description="super admins only: whose rubrics to list")


class RubricList(Output):
    items: list[RubricOut]
    total: int


def _out(row: Rubric) -> RubricOut:
    return RubricOut(**catalog.rubric_from_row(row).model_dump(), dealership_id=row.dealership_id)


async def _own(ctx: Ctx, rubric_id: str) -> Rubric:
    if rubric_id in catalog.builtin_rubrics():
        raise Forbidden("Built-in rubrics cannot be changed or deleted; copy one (POST /rubrics with its fields) "
                        "and change the copy.", code="builtin_rubric")
    try:
        key = uuid.UUID(rubric_id)
    except ValueError:
        raise NotFound("Rubric not found.") from None
    return await ctx.scope.get(Rubric, key, for_update=True)


@endpoint("GET", "/rubrics", summary="List the rubrics scenarios can be judged by", tag=TAG, query=RubricQuery,
          response=RubricList, errors=(422,))
async def list_rubrics(ctx: Ctx, query: RubricQuery) -> RubricList:
    items = [RubricOut(**r.model_dump()) for r in catalog.builtin_rubrics().values()]
    criteria = [Rubric.dealership_id == query.dealership_id] \
        if query.dealership_id is not None and ctx.principal.is_super_admin else []
    rows, _ = await ctx.scope.list(Rubric, *criteria, order_by=Rubric.created_at, limit=200)
    items += [_out(row) for row in rows]
    return RubricList(items=items, total=len(items))


@endpoint("GET", "/rubrics/{rubric_id}", summary="Get a rubric", tag=TAG, response=RubricOut, errors=(404,))
async def get_rubric(ctx: Ctx, rubric_id: str) -> RubricOut:
    if (builtin := catalog.builtin_rubrics().get(rubric_id)) is not None:
        return RubricOut(**builtin.model_dump())
    try:
        key = uuid.UUID(rubric_id)
    except ValueError:
        raise NotFound("Rubric not found.") from None
    return _out(await ctx.scope.get(Rubric, key))


@endpoint("POST", "/rubrics", summary="Create a rubric for your dealership (or copy a built-in)", tag=TAG,
          body=RubricIn, response=RubricOut, status=201, roles=ADMINS, errors=(403, 404, 422))
async def create_rubric(ctx: Ctx, body: RubricIn) -> RubricOut:
    dealership = await ctx.scope.dealership(body.dealership_id)
    spec = RubricSpec.model_validate(body.model_dump(exclude={"dealership_id"}))
    row = Rubric(dealership_id=dealership.id, created_by=ctx.principal.user_id, **catalog.row_fields(spec))
    ctx.db.add(row)
    await ctx.db.flush()
    await ctx.db.refresh(row)
    return _out(row)


@endpoint("PATCH", "/rubrics/{rubric_id}", summary="Edit a rubric (past scorecards keep their copy)", tag=TAG,
          body=RubricPatch, response=RubricOut, roles=ADMINS, errors=(403, 404, 422))
async def update_rubric(ctx: Ctx, rubric_id: str, body: RubricPatch) -> RubricOut:
    row = await _own(ctx, rubric_id)
    changes: dict[str, Any] = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    try:
        spec = RubricSpec.model_validate({**row.spec, "name": row.name, **changes})
    except ValidationError as exc:
        raise ValidationFailed(details=field_errors(exc, "body")) from None
    for name, value in catalog.row_fields(spec).items():
        setattr(row, name, value)
    await ctx.db.flush()
    await ctx.db.refresh(row)
    return _out(row)


@endpoint("DELETE", "/rubrics/{rubric_id}", summary="Delete a rubric no scenario uses", tag=TAG, status=204,
          roles=ADMINS, errors=(403, 404, 409))
async def delete_rubric(ctx: Ctx, rubric_id: str) -> None:
    row = await _own(ctx, rubric_id)
    users = (await ctx.db.execute(select(Scenario.title).where(
        Scenario.dealership_id == row.dealership_id, Scenario.deleted_at.is_(None),
        Scenario.spec["rubric_id"].astext == str(row.id)).limit(5))).scalars().all()
    if users:
        raise Conflict("Scenarios still use this rubric; give them another one first.", code="rubric_in_use",
                       details={"scenarios": list(users)})
    row.deleted_at = datetime.now(UTC)


ENDPOINTS = [list_rubrics, get_rubric, create_rubric, update_rubric, delete_rubric]
