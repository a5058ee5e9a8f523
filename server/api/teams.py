"""/teams: named groups of a dealership's people, to assign practice to at once and to filter
assignments and the certification board by. Admins only: who is on which team is management's."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import Field
from sqlalchemy import delete, select

from server.api.endpoint import Ctx, endpoint
from server.api.people import display_names
from server.api.schemas import Input, Name, Output
from server.db.models import Role
from server.practice import assignments
from server.practice.models import Team, TeamMember

TAG = "teams"
ADMINS = [Role.super_admin, Role.dealership_admin]
MemberIds = Annotated[list[uuid.UUID], Field(max_length=500)]


class TeamIn(Input):
    name: Name = Field(min_length=1)
    member_ids: MemberIds = Field(default_factory=list)
    dealership_id: uuid.UUID | None = Field(default=None, description="super admins only")


class TeamPatch(Input):
    name: Name | None = Field(default=None, min_length=1)
    member_ids: MemberIds | None = None


class MemberOut(Output):
    user_id: uuid.UUID
    name: str


class TeamOut(Output):
    id: uuid.UUID
    dealership_id: uuid.UUID
    name: str
    member_ids: list[uuid.UUID]
    members: list[MemberOut]


class TeamList(Output):
    items: list[TeamOut]
    total: int


async def _members(ctx: Ctx, team_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
    rows = await ctx.db.execute(select(TeamMember.team_id, TeamMember.user_id).where(TeamMember.team_id.in_(team_ids)))
    members: dict[uuid.UUID, list[uuid.UUID]] = {team_id: [] for team_id in team_ids}
    for team_id, user_id in rows:
        members[team_id].append(user_id)
    return members


async def _out(ctx: Ctx, teams: list[Team]) -> list[TeamOut]:
    members = await _members(ctx, [team.id for team in teams])
    names = await display_names(ctx.db, {u for ids in members.values() for u in ids})
    return [TeamOut(id=team.id, dealership_id=team.dealership_id, name=team.name, member_ids=members[team.id],
                    members=sorted((MemberOut(user_id=u, name=names.get(u, "")) for u in members[team.id]),
                                   key=lambda m: m.name.lower()))
            for team in teams]


async def _set_members(ctx: Ctx, team: Team, member_ids: list[uuid.UUID]) -> None:
    wanted = list(dict.fromkeys(member_ids))
    await assignments.people(ctx.scope, team.dealership_id, wanted, "member_ids")
    await ctx.db.execute(delete(TeamMember).where(TeamMember.team_id == team.id))
    ctx.db.add_all([TeamMember(team_id=team.id, user_id=u, dealership_id=team.dealership_id) for u in wanted])
    await ctx.db.flush()


@endpoint("GET", "/teams", summary="List the dealership's teams", tag=TAG, response=TeamList, roles=ADMINS)
async def list_teams(ctx: Ctx) -> TeamList:
    rows, total = await ctx.scope.list(Team, order_by=Team.name, limit=200)
    return TeamList(items=await _out(ctx, rows), total=total)


@endpoint("POST", "/teams", summary="Create a team", tag=TAG, body=TeamIn, response=TeamOut, status=201,
          roles=ADMINS, errors=(403, 404, 422))
async def create_team(ctx: Ctx, body: TeamIn) -> TeamOut:
    dealership = await ctx.scope.dealership(body.dealership_id)
    team = Team(dealership_id=dealership.id, name=body.name)
    ctx.db.add(team)
    await ctx.db.flush()
    await _set_members(ctx, team, body.member_ids)
    return (await _out(ctx, [team]))[0]


@endpoint("PATCH", "/teams/{team_id:uuid}", summary="Rename a team or set its members", tag=TAG, body=TeamPatch,
          response=TeamOut, roles=ADMINS, resource=Team, errors=(403, 404, 422))
async def update_team(ctx: Ctx, team_id: uuid.UUID, body: TeamPatch) -> TeamOut:
    team = await ctx.scope.get(Team, team_id, for_update=True)
    if body.name is not None:
        team.name = body.name
    if body.member_ids is not None:
        await _set_members(ctx, team, body.member_ids)
    return (await _out(ctx, [team]))[0]


@endpoint("DELETE", "/teams/{team_id:uuid}", summary="Delete a team (its assignments stay, with their people)",
          tag=TAG, status=204, roles=ADMINS, resource=Team, errors=(403, 404))
async def delete_team(ctx: Ctx, team_id: uuid.UUID) -> None:
    await ctx.db.delete(await ctx.scope.get(Team, team_id, for_update=True))


ENDPOINTS = [list_teams, create_team, update_team, delete_team]
