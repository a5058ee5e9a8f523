"""/assignments: practice given to people (named, or a team's members) with a due date, a minimum
number of attempts and an optional pass mark. Admins create, read all of their dealership's and
withdraw; a plain user reads only the assignments they are given, with only their own progress.
A session started with `assignment_id` (chat, voice `start`) counts when it ends
(`server/practice/progress.py`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import Field
from sqlalchemy import ColumnElement, select

from server.api.endpoint import Ctx, endpoint
from server.api.people import display_names
from server.api.schemas import Input, Output, Timestamp
from server.db.models import Role
from server.errors import NotFound, ValidationFailed
from server.practice import assignments
from server.practice.models import Assignment, AssignmentProgress, Program, TeamMember
from server.practice.progress import Status, summarise

TAG = "assignments"
ADMINS = [Role.super_admin, Role.dealership_admin]


class AssignmentIn(Input):
    scenario_id: str | None = Field(default=None, min_length=1, max_length=64, description="or program_id")
    program_id: uuid.UUID | None = Field(default=None, description="or scenario_id: all of the programme's scenarios")
    user_ids: list[uuid.UUID] = Field(default_factory=list, max_length=500)
    team_id: uuid.UUID | None = Field(default=None, description="its members as they are now")
    due_at: Timestamp
    min_attempts: int = Field(default=1, ge=1, le=50, description="per scenario")
    pass_score: int | None = Field(default=None, ge=0, le=100, description="null: each scenario's own pass mark")
    dealership_id: uuid.UUID | None = Field(default=None, description="super admins only")


class AssignmentQuery(Input):
    user_id: uuid.UUID | None = Field(default=None, description="admins: assignments given to this person")
    team_id: uuid.UUID | None = Field(default=None, description="admins: assignments made for this team")
    status: Status | None = Field(default=None, description="assignments where someone (or `user_id`) has it")
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class ScenarioProgressOut(Output):
    scenario_id: str
    attempts: int
    best_score: float | None
    latest_score: float | None
    first_score: float | None
    passed: bool


class ProgressOut(Output):
    user_id: uuid.UUID
    name: str
    status: Status
    attempts: int
    best_score: float | None
    latest_score: float | None
    first_score: float | None
    passed_at: datetime | None = None
    reminded_at: datetime | None = None
    scenarios: list[ScenarioProgressOut]


class AssignmentOut(Output):
    id: uuid.UUID
    dealership_id: uuid.UUID
    scenario_id: str | None
    program_id: uuid.UUID | None
    title: str = Field(description="the scenario's title, or the programme's name")
    scenario_ids: list[str]
    scenario_titles: dict[str, str]
    team_id: uuid.UUID | None
    due_at: datetime
    min_attempts: int
    pass_score: int | None
    created_at: datetime
    counts: dict[str, int] = Field(description="people by status")
    progress: list[ProgressOut] = Field(description="admins: everyone's; a plain user: their own")


class AssignmentList(Output):
    items: list[AssignmentOut]
    total: int


def _progress_out(assignment: Assignment, row: AssignmentProgress, name: str, now: datetime) -> ProgressOut:
    summary = summarise(assignment, row, now)
    return ProgressOut(
        user_id=row.user_id, name=name, status=summary.status, attempts=summary.attempts,
        best_score=summary.best_score, latest_score=summary.latest_score, first_score=summary.first_score,
        passed_at=summary.passed_at, reminded_at=row.reminded_at,
        scenarios=[ScenarioProgressOut(scenario_id=sid, attempts=(e := row.scenarios.get(sid) or {}).get("attempts", 0),
                                       best_score=e.get("best"), latest_score=e.get("latest"),
                                       first_score=e.get("first"), passed=e.get("passed_at") is not None)
                   for sid in assignment.scenario_ids])


async def _render(ctx: Ctx, rows: list[Assignment], now: datetime) -> list[AssignmentOut]:
    ids = [row.id for row in rows]
    progress_query = ctx.scope.select(AssignmentProgress, AssignmentProgress.assignment_id.in_(ids))
    if not ctx.principal.is_admin:
        progress_query = progress_query.where(AssignmentProgress.user_id == ctx.principal.user_id)
    progress = list((await ctx.db.execute(progress_query)).scalars())
    names = await display_names(ctx.db, {p.user_id for p in progress})
    titles = await assignments.titles(ctx.db, {sid for row in rows for sid in row.scenario_ids})
    programs = {pid: name for pid, name in await ctx.db.execute(
        select(Program.id, Program.name).where(Program.id.in_({r.program_id for r in rows if r.program_id})))}
    by_assignment: dict[uuid.UUID, list[ProgressOut]] = {row.id: [] for row in rows}
    lookup = {row.id: row for row in rows}
    for p in progress:
        by_assignment[p.assignment_id].append(_progress_out(lookup[p.assignment_id], p, names.get(p.user_id, ""), now))
    out = []
    for row in rows:
        people = sorted(by_assignment[row.id], key=lambda p: p.name.lower())
        counts = {status.value: 0 for status in Status}
        for person in people:
            counts[person.status.value] += 1
        title = titles.get(row.scenario_id, row.scenario_id) if row.scenario_id else \
            programs.get(row.program_id, "Programme") if row.program_id else ""
        out.append(AssignmentOut(
            id=row.id, dealership_id=row.dealership_id, scenario_id=row.scenario_id, program_id=row.program_id,
            title=title or "", scenario_ids=row.scenario_ids,
            scenario_titles={sid: titles.get(sid, sid) for sid in row.scenario_ids}, team_id=row.team_id,
            due_at=row.due_at, min_attempts=row.min_attempts, pass_score=row.pass_score, created_at=row.created_at,
            counts=counts, progress=people))
    return out


async def _visible(ctx: Ctx, assignment_id: uuid.UUID) -> Assignment:
    row = await ctx.scope.get(Assignment, assignment_id)
    if row.withdrawn_at is not None:
        raise NotFound("Assignment not found.")
    if not ctx.principal.is_admin:
        mine = await ctx.db.scalar(select(AssignmentProgress.user_id).where(
            AssignmentProgress.assignment_id == row.id, AssignmentProgress.user_id == ctx.principal.user_id))
        if mine is None:
            raise NotFound("Assignment not found.")
    return row


@endpoint("GET", "/assignments", summary="List assignments (admins: the dealership's; others: their own)",
          tag=TAG, query=AssignmentQuery, response=AssignmentList, errors=(422,))
async def list_assignments(ctx: Ctx, query: AssignmentQuery) -> AssignmentList:
    now = datetime.now(UTC)
    criteria: list[ColumnElement[bool]] = [Assignment.withdrawn_at.is_(None)]
    person = query.user_id if ctx.principal.is_admin else ctx.principal.user_id
    if person is not None:
        criteria.append(Assignment.id.in_(select(AssignmentProgress.assignment_id)
                                          .where(AssignmentProgress.user_id == person)))
    if query.team_id is not None and ctx.principal.is_admin:
        criteria.append(Assignment.id.in_(
            select(AssignmentProgress.assignment_id).where(AssignmentProgress.user_id.in_(
                select(TeamMember.user_id).where(TeamMember.team_id == query.team_id))))
            | (Assignment.team_id == query.team_id))
    rows = list((await ctx.db.execute(ctx.scope.select(Assignment, *criteria)
                                      .order_by(Assignment.due_at, Assignment.created_at).limit(2000))).scalars())
    items = await _render(ctx, rows, now)
    if person is not None:
        items = [item.model_copy(update={"progress": [p for p in item.progress if p.user_id == person]})
                 for item in items]
    if query.status is not None:
        items = [item for item in items if any(p.status is query.status for p in item.progress)]
    if not ctx.principal.is_admin:
        # A trainee's home: what needs doing first, by due date; what is passed last.
        items.sort(key=lambda i: (i.progress[0].status is Status.passed if i.progress else True, i.due_at))
    return AssignmentList(items=items[query.offset:query.offset + query.limit], total=len(items))


@endpoint("GET", "/assignments/{assignment_id:uuid}", summary="Get an assignment with per-person progress",
          tag=TAG, response=AssignmentOut, errors=(404,))
async def get_assignment(ctx: Ctx, assignment_id: uuid.UUID) -> AssignmentOut:
    return (await _render(ctx, [await _visible(ctx, assignment_id)], datetime.now(UTC)))[0]


@endpoint("POST", "/assignments", summary="Assign a scenario or programme to people or a team", tag=TAG,
          body=AssignmentIn, response=AssignmentOut, status=201, roles=ADMINS, errors=(403, 404, 422))
async def create_assignment(ctx: Ctx, body: AssignmentIn) -> AssignmentOut:
    now = datetime.now(UTC)
    if body.due_at <= now:
        raise ValidationFailed("due_at: must be in the future", details=[{"field": "due_at",
                                                                          "message": "must be in the future"}])
    dealership = await ctx.scope.dealership(body.dealership_id)
    row = await assignments.create(
        ctx.scope, dealership_id=dealership.id, scenario_id=body.scenario_id, program_id=body.program_id,
        user_ids=body.user_ids, team_id=body.team_id, due_at=body.due_at, min_attempts=body.min_attempts,
        pass_score=body.pass_score, created_by=ctx.principal.user_id)
    await ctx.db.refresh(row)
    return (await _render(ctx, [row], now))[0]


@endpoint("DELETE", "/assignments/{assignment_id:uuid}", summary="Withdraw an assignment (sessions already "
          "practised stay)", tag=TAG, status=204, roles=ADMINS, resource=Assignment, errors=(403, 404))
async def withdraw_assignment(ctx: Ctx, assignment_id: uuid.UUID) -> None:
    row = await ctx.scope.get(Assignment, assignment_id, for_update=True)
    if row.withdrawn_at is not None:
        raise NotFound("Assignment not found.")
    row.withdrawn_at = datetime.now(UTC)


ENDPOINTS = [list_assignments, get_assignment, create_assignment, withdraw_assignment]
