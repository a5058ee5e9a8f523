"""Where rubrics and scenarios come from: built-in files (string ids, read-only, the same for every
dealership) and a dealership's own rows (UUID ids), both validated into the `spec.py` models.

`freeze` is what a new session keeps: the scenario and its rubric as they are now.
"""

from __future__ import annotations

import json
import uuid
from functools import cache
from importlib import resources
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from server.errors import NotFound, ValidationFailed
from server.tenancy import Principal, Scope
from server.training.models import Rubric, Scenario
from server.training.spec import GENERAL_RUBRIC_ID, FrozenScenario, RubricSpec, ScenarioSpec

M = TypeVar("M", bound=BaseModel)


class RubricView(RubricSpec):
    id: str
    builtin: bool


class ScenarioView(ScenarioSpec):
    id: str
    builtin: bool


def _load(folder: str, model: type[M]) -> dict[str, M]:
    found: dict[str, M] = {}
    root = resources.files("server.training").joinpath("builtin", folder)
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            data = json.loads(entry.read_text(encoding="utf-8"))
            item = model.model_validate({**data, "builtin": True})
            found[data["id"]] = item
    return found


@cache
def builtin_rubrics() -> dict[str, RubricView]:
    return _load("rubrics", RubricView)


@cache
def builtin_scenarios() -> dict[str, ScenarioView]:
    return _load("scenarios", ScenarioView)


def general_rubric() -> RubricSpec:
    """The rubric sessions without a scenario are judged under (today's five dimensions)."""
    return builtin_rubrics()[GENERAL_RUBRIC_ID]


def rubric_from_row(row: Rubric) -> RubricView:
    return RubricView(id=str(row.id), builtin=False, name=row.name, **row.spec)


def scenario_from_row(row: Scenario) -> ScenarioView:
    return ScenarioView(id=str(row.id), builtin=False, title=row.title, active=row.active, **row.spec)


def row_fields(spec: RubricSpec | ScenarioSpec) -> dict[str, Any]:
    """A spec as the columns of its row: the name/title and `active` have columns of their own."""
    if isinstance(spec, ScenarioSpec):
        return {"title": spec.title, "active": spec.active,
                "spec": spec.model_dump(mode="json", exclude={"title", "active"})}
    return {"name": spec.name, "spec": spec.model_dump(mode="json", exclude={"name"})}


def _uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"{what} not found.") from None


async def rubric(scope: Scope, rubric_id: str, dealership_id: uuid.UUID | None = None) -> RubricView:
    """A built-in rubric or one of the caller's dealership (404 otherwise; with `dealership_id`,
    only that dealership's)."""
    if (found := builtin_rubrics().get(rubric_id)) is not None:
        return found
    row = await scope.get(Rubric, _uuid(rubric_id, "Rubric"))
    if dealership_id is not None and row.dealership_id != dealership_id:
        raise NotFound("Rubric not found.")
    return rubric_from_row(row)


async def scenario(scope: Scope, scenario_id: str, dealership_id: uuid.UUID | None = None, *,
                   active_only: bool = False) -> ScenarioView:
    """A built-in scenario or one of the caller's dealership (404 otherwise, and for an inactive one
    when `active_only`: a plain user cannot start or see a deactivated scenario)."""
    found = builtin_scenarios().get(scenario_id)
    if found is None:
        row = await scope.get(Scenario, _uuid(scenario_id, "Scenario"))
        if dealership_id is not None and row.dealership_id != dealership_id:
            raise NotFound("Scenario not found.")
        found = scenario_from_row(row)
    if active_only and not found.active:
        raise NotFound("Scenario not found.")
    return found


async def freeze(principal: Principal, db: AsyncSession, scenario_id: str,
                 dealership_id: uuid.UUID) -> FrozenScenario:
    """The copy a new session keeps: the active scenario and its rubric, of the session's dealership."""
    scope = Scope(principal, db)
    found = await scenario(scope, scenario_id, dealership_id, active_only=True)
    rubric_view = await rubric(scope, found.rubric_id, dealership_id)
    return FrozenScenario(id=found.id, spec=ScenarioSpec.model_validate(found.model_dump(exclude={"id", "builtin"})),
                          rubric_id=rubric_view.id,
                          rubric=RubricSpec.model_validate(rubric_view.model_dump(exclude={"id", "builtin"})))


async def check_references(scope: Scope, spec: ScenarioSpec, dealership_id: uuid.UUID) -> None:
    """A scenario's persona and rubric must exist for its dealership (422 per field otherwise), and
    the persona must play the scenario's mode (a customer for a role-play, the trainer for training)."""
    from server.conversation.models import Persona
    from server.conversation.personas import builtin_personas, from_row

    problems: list[dict[str, str]] = []
    persona = builtin_personas().get(spec.persona_id)
    if persona is None:
        try:
            row = await scope.get(Persona, uuid.UUID(spec.persona_id))
            persona = from_row(row) if row.dealership_id == dealership_id else None
        except (ValueError, NotFound):
            persona = None
    if persona is None:
        problems.append({"field": "persona_id", "message": "no such persona in this dealership"})
    elif persona.mode.value != spec.mode:
        problems.append({"field": "persona_id", "message": f"{persona.name} is not a {spec.mode} persona"})
    try:
        await rubric(scope, spec.rubric_id, dealership_id)
    except NotFound:
        problems.append({"field": "rubric_id", "message": "no such rubric in this dealership"})
    if problems:
        raise ValidationFailed("The scenario names a persona or rubric that does not exist here.",
                               details=problems)
