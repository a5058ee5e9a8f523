"""Assignments: scenarios given to people with a due date, and starting a session from one.

`create` resolves what is practised (one scenario, or a programme's scenarios as they are now)
and who (people named, and a team's members as they are now), writing one progress row each.
`scenario_for_start` is the check chat and voice make for `assignment_id`: the caller must be an
assignee of an assignment not withdrawn (404 otherwise, as for anyone else's), and the scenario
one of the assignment's (422); with none named, an assignment of one scenario names it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Role, User
from server.errors import NotFound, ValidationFailed
from server.practice.models import Assignment, AssignmentProgress, Program, Team, TeamMember
from server.tenancy import Principal, Scope
from server.training import catalog
from server.training.models import Scenario


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", details=[{"field": field, "message": message}])


async def check_scenarios(scope: Scope, scenario_ids: list[str], dealership_id: uuid.UUID, field: str) -> None:
    """Each id names a built-in or one of the dealership's own active scenarios (422 otherwise)."""
    builtins = catalog.builtin_scenarios()
    for scenario_id in scenario_ids:
        if scenario_id in builtins:
            continue
        try:
            key = uuid.UUID(scenario_id)
        except ValueError:
            raise _invalid(field, f"no scenario {scenario_id}") from None
        found = await scope.session.scalar(scope.select(Scenario, Scenario.id == key,
                                                        Scenario.dealership_id == dealership_id,
                                                        Scenario.active.is_(True)))
        if found is None:
            raise _invalid(field, f"no scenario {scenario_id}")


async def people(scope: Scope, dealership_id: uuid.UUID, user_ids: list[uuid.UUID], field: str) -> list[User]:
    """The dealership's active accounts with these ids (422 naming the first that is not one)."""
    if not user_ids:
        return []
    rows = list((await scope.session.execute(scope.select(
        User, User.id.in_(user_ids), User.dealership_id == dealership_id, User.active.is_(True),
        User.role != Role.super_admin))).scalars())
    found = {row.id for row in rows}
    for user_id in user_ids:
        if user_id not in found:
            raise _invalid(field, f"no person {user_id} in this dealership")
    return rows


async def create(scope: Scope, *, dealership_id: uuid.UUID, scenario_id: str | None, program_id: uuid.UUID | None,
                 user_ids: list[uuid.UUID], team_id: uuid.UUID | None, due_at: datetime, min_attempts: int,
                 pass_score: int | None, created_by: uuid.UUID) -> Assignment:
    if (scenario_id is None) == (program_id is None):
        raise _invalid("scenario_id", "give exactly one of scenario_id and program_id")
    if not user_ids and team_id is None:
        raise _invalid("user_ids", "give user_ids, team_id or both")
    if scenario_id is not None:
        scenario_ids = [scenario_id]
        await check_scenarios(scope, scenario_ids, dealership_id, "scenario_id")
    else:
        assert program_id is not None
        program = await scope.session.scalar(scope.select(Program, Program.id == program_id,
                                                          Program.dealership_id == dealership_id))
        if program is None:
            raise _invalid("program_id", f"no programme {program_id}")
        scenario_ids = list(program.scenario_ids)
    members: list[uuid.UUID] = []
    if team_id is not None:
        team = await scope.session.scalar(scope.select(Team, Team.id == team_id, Team.dealership_id == dealership_id))
        if team is None:
            raise _invalid("team_id", f"no team {team_id}")
        members = list((await scope.session.execute(
            select(TeamMember.user_id).where(TeamMember.team_id == team_id))).scalars())
    assignees = await people(scope, dealership_id, list(dict.fromkeys([*user_ids, *members])), "user_ids")
    if not assignees:
        raise _invalid("team_id", "the team has no active members")
    assignment = Assignment(dealership_id=dealership_id, scenario_id=scenario_id, program_id=program_id,
                            scenario_ids=scenario_ids, team_id=team_id, due_at=due_at, min_attempts=min_attempts,
                            pass_score=pass_score, created_by=created_by)
    scope.session.add(assignment)
    await scope.session.flush()
    for person in assignees:
        scope.session.add(AssignmentProgress(assignment_id=assignment.id, user_id=person.id,
                                             dealership_id=dealership_id, scenarios={}))
    await scope.session.flush()
    return assignment


async def scenario_for_start(db: AsyncSession, principal: Principal, assignment_id: uuid.UUID,
                             scenario_id: str | None) -> str:
    """The scenario a session started from `assignment_id` practises (see the module's docstring)."""
    row = (await db.execute(
        select(Assignment).join(AssignmentProgress, AssignmentProgress.assignment_id == Assignment.id)
        .where(Assignment.id == assignment_id, AssignmentProgress.user_id == principal.user_id,
               Assignment.dealership_id == principal.dealership_id, Assignment.withdrawn_at.is_(None))
    )).scalar_one_or_none()
    if row is None:
        raise NotFound("Assignment not found.")
    if scenario_id is None:
        if len(row.scenario_ids) != 1:
            raise _invalid("scenario_id", "this assignment has several scenarios: name the one to practise")
        return str(row.scenario_ids[0])
    if scenario_id not in row.scenario_ids:
        raise _invalid("scenario_id", f"scenario {scenario_id} is not part of this assignment")
    return scenario_id


async def titles(db: AsyncSession, scenario_ids: set[str]) -> dict[str, str]:
    """Scenario titles for display (built-ins and own rows, deleted ones included: history)."""
    builtins = catalog.builtin_scenarios()
    found = {sid: builtins[sid].title for sid in scenario_ids if sid in builtins}
    keys = []
    for sid in scenario_ids - set(found):
        try:
            keys.append(uuid.UUID(sid))
        except ValueError:
            continue
    if keys:
        rows = await db.execute(select(Scenario.id, Scenario.title).where(Scenario.id.in_(keys)))
        found |= {str(key): title for key, title in rows}
    return found
