"""/insights/team: how a dealership's people practise (admins only), as JSON or a CSV file."""

from __future__ import annotations

import uuid

from pydantic import Field
from sqlalchemy import select
from starlette.responses import Response

from server.api.endpoint import Ctx, endpoint
from server.api.schemas import Input, Timestamp
from server.db.models import Role, User
from server.errors import NotFound, ValidationFailed
from server.insight import export
from server.insight.team import Filter, TeamInsight, team_insight
from server.practice.models import Team, TeamMember

TAG = "insights"
ADMINS = [Role.super_admin, Role.dealership_admin]


class InsightQuery(Input):
    from_: Timestamp | None = Field(default=None, alias="from", description="sessions started at or after (ISO 8601)")
    to: Timestamp | None = Field(default=None, description="sessions started before (ISO 8601)")
    team_id: uuid.UUID | None = Field(default=None, description="only this team's members")
    dealership_id: uuid.UUID | None = Field(default=None, description="super admins: which dealership")


def leaderboard_enabled(settings: dict[str, object] | None) -> bool:
    return bool((settings or {}).get("leaderboard_enabled", True))


async def _insight(ctx: Ctx, query: InsightQuery) -> tuple[TeamInsight, str]:
    if query.from_ is not None and query.to is not None and query.to <= query.from_:
        raise ValidationFailed(details=[{"field": "to", "message": "must be after from"}])
    dealership = await ctx.scope.dealership(query.dealership_id)
    members = None
    if query.team_id is not None:
        team = await ctx.scope.get(Team, query.team_id)
        if team.dealership_id != dealership.id:  # a super admin naming another dealership's team
            raise NotFound("Team not found.")
        members = list((await ctx.db.execute(
            select(TeamMember.user_id).where(TeamMember.team_id == team.id))).scalars())
    # Names for everyone the dealership has (200 people: one small read), deleted accounts included:
    # their sessions still count.
    names = {user_id: name.strip() or email for user_id, name, email in await ctx.db.execute(
        select(User.id, User.name, User.email).where(User.dealership_id == dealership.id))}
    result = await team_insight(ctx.state.engine, Filter(dealership.id, query.from_, query.to, members), names,
                                leaderboard_enabled=leaderboard_enabled(dealership.settings),
                                team_id=query.team_id)
    return result, dealership.name


@endpoint("GET", "/insights/team", summary="Team insight: heatmap, first vs best, practice time, leaderboard",
          tag=TAG, query=InsightQuery, response=TeamInsight, roles=ADMINS, errors=(403, 404, 422))
async def get_team_insight(ctx: Ctx, query: InsightQuery) -> Response:
    result, _ = await _insight(ctx, query)
    return Response(result.model_dump_json(by_alias=True), media_type="application/json")


@endpoint("GET", "/insights/team.csv", summary="Team insight as a CSV file (every section)", tag=TAG,
          query=InsightQuery, roles=ADMINS, errors=(403, 404, 422))
async def get_team_insight_csv(ctx: Ctx, query: InsightQuery) -> Response:
    result, name = await _insight(ctx, query)
    return Response(export.to_csv(result, name), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": 'attachment; filename="team-insight.csv"', "Cache-Control": "no-store"})


ENDPOINTS = [get_team_insight, get_team_insight_csv]
