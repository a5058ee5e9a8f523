"""The shapes of scenarios, rubrics and the version 2 scorecard.

Built-in files, API bodies, the frozen copy a session keeps and the judges all validate into
these models, so a scenario or a scorecard means the same thing wherever it appears.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from server.conversation.taxonomy import Objection

Key = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Scale = Literal["binary", "0-3", "1-5"]
Difficulty = Literal["easy", "medium", "hard"]

# The highest score on each scale; the lowest is 0 for "binary" and "0-3", 1 for "1-5".
SCALE_MAX: dict[str, int] = {"binary": 1, "0-3": 3, "1-5": 5}
SCALE_MIN: dict[str, int] = {"binary": 0, "0-3": 0, "1-5": 1}
GENERAL_RUBRIC_ID = "general-sales"  # the rubric sessions without a scenario are judged under


class CriterionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Key
    label: Label
    description: Text = ""
    weight: float = Field(default=1.0, gt=0, le=100)
    scale: Scale = "1-5"


class RubricSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Label
    description: Text = ""
    criteria: list[CriterionSpec] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _unique_keys(self) -> RubricSpec:
        keys = [c.key for c in self.criteria]
        if len(keys) != len(set(keys)):
            raise ValueError("criterion keys must be unique")
        return self


class HiddenFact(BaseModel):
    """Something the customer knows and says only when asked well (needs analysis)."""

    model_config = ConfigDict(extra="forbid")

    key: Key
    label: Label  # what it is about: "current payment"
    value: Text  # what the customer says when it comes out: "I pay $389 a month on the Civic"


class ScenarioSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Label
    mode: Literal["roleplay", "training"] = "roleplay"
    persona_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    situation: Text = ""
    objections: list[Objection] = Field(default_factory=list, max_length=7)
    hidden_facts: list[HiddenFact] = Field(default_factory=list, max_length=20)
    goal: Text = ""
    rubric_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] = GENERAL_RUBRIC_ID
    pass_score: int = Field(default=70, ge=0, le=100)
    time_limit_s: int | None = Field(default=None, ge=30, le=3600)
    difficulty: Difficulty = "medium"
    active: bool = True

    @model_validator(mode="after")
    def _unique_fact_keys(self) -> ScenarioSpec:
        keys = [f.key for f in self.hidden_facts]
        if len(keys) != len(set(keys)):
            raise ValueError("hidden fact keys must be unique")
        return self


class FrozenScenario(BaseModel):
    """What a session keeps (`conversation_session.scenario`): the scenario and its rubric as they
    were when it started, so editing either never changes past results."""

    id: str
    spec: ScenarioSpec
    rubric_id: str
    rubric: RubricSpec


class Evidence(BaseModel):
    message_id: str
    quote: str  # verbatim from that message, one of the trainee's own


class CriterionResult(BaseModel):
    key: str
    label: str
    score: int
    max: int
    reason: str
    evidence: list[Evidence] = Field(default_factory=list)


class FactResult(BaseModel):
    key: str
    label: str
    uncovered: bool
    message_id: str | None = None  # the customer's message that revealed it
    turn: int | None = None  # 1-based index of the trainee turn it answered


class Verdict(BaseModel):
    """What a judge (offline or online) decides; the scorecard adds the counted parts."""

    criteria: list[CriterionResult]
    facts: list[FactResult] = Field(default_factory=list)
    goal_met: bool | None = None
    summary: str = ""
    generated_by: str = "offline"
    # Why this verdict may be wrong, as the judge knows it (`server.review.confidence` adds what the
    # scorecard shows): "judge_fell_back" (the model failed: judged offline), "criterion_judged_offline"
    # (the model left a criterion out or off its scale), "quotes_dropped" (a quote not verbatim).
    doubts: list[str] = Field(default_factory=list)


def overall(criteria: list[CriterionResult], rubric: RubricSpec) -> int:
    """The weighted score out of 100: each criterion's position on its scale, times its weight."""
    weights = {c.key: c.weight for c in rubric.criteria}
    scales = {c.key: c.scale for c in rubric.criteria}
    total = sum(weights.get(r.key, 0.0) for r in criteria)
    if total <= 0:
        return 0
    points = 0.0
    for result in criteria:
        scale = scales.get(result.key, "1-5")
        low, high = SCALE_MIN[scale], SCALE_MAX[scale]
        points += weights.get(result.key, 0.0) * (min(max(result.score, low), high) - low) / (high - low)
    return round(100 * points / total)
