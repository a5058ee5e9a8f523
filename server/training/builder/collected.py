"""What the builder has gathered so far, and the draft persona and scenario made from it.

`Collected` is what the admin sees beside the chat (`collected` in every answer): only the
fields known so far. The draft is derived from it on demand, so a corrected field (a new budget)
changes every place it appears (the persona's budget and the scenario's situation) at once.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from server.conversation.personas import PersonaSpec
from server.conversation.taxonomy import OBJECTION_NAMES, Objection
from server.training.spec import GENERAL_RUBRIC_ID, Difficulty, HiddenFact, ScenarioSpec

# The built-in rubrics the builder can name (server/training/builtin/rubrics/*.json); a
# dealership's own rubric is picked on the scenario form after saving.
RUBRICS: dict[str, str] = {
    "laer-objections": "LAER objection handling",
    "needs-analysis": "Needs analysis",
    "fi-menu": "F&I menu presentation",
    GENERAL_RUBRIC_ID: "General sales conversation",
}
# The persona_id the validated draft carries until the client has saved the persona; the draft
# handed out has `persona_id: null` in its place.
_PERSONA_PLACEHOLDER = "draft"


class FactIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    label: str = Field(min_length=1, max_length=200)
    value: str = Field(min_length=1, max_length=2000)


class Collected(BaseModel):
    """Every field is unknown (None) until an answer gives it; a list answered "none" is []."""

    # Stripped, and the fields a draft cannot hold empty never empty: whatever a model answers,
    # a merged `Collected` always makes a valid draft.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=100)
    age: int | None = Field(default=None, ge=16, le=100)
    first_time_buyer: bool | None = None
    customer_notes: str | None = Field(default=None, max_length=500)
    vehicle: str | None = Field(default=None, max_length=200)
    trade_in: str | None = Field(default=None, max_length=200)
    budget: str | None = Field(default=None, max_length=200)
    situation: str | None = Field(default=None, max_length=2000)  # the admin's (or model's) own words
    objections: list[Objection] | None = Field(default=None, max_length=7)
    difficulty: Difficulty | None = None
    tone: str | None = Field(default=None, max_length=500)
    hidden_facts: list[FactIn] | None = Field(default=None, max_length=20)
    goal: str | None = Field(default=None, max_length=2000)
    rubric_id: str | None = Field(default=None, min_length=1, max_length=64)
    pass_score: int | None = Field(default=None, ge=0, le=100)
    time_limit_s: int | None = Field(default=None, ge=30, le=3600)
    title: str | None = Field(default=None, min_length=1, max_length=200)

    def shown(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class ScenarioDraft(BaseModel):
    """`ScenarioSpec` with `persona_id` left for the client: null until the persona is saved."""

    title: str
    mode: Literal["roleplay", "training"]
    persona_id: str | None = Field(description="null: set it to the id POST /api/v1/personas returns")
    situation: str
    objections: list[Objection]
    hidden_facts: list[HiddenFact]
    goal: str
    rubric_id: str
    pass_score: int
    time_limit_s: int | None
    difficulty: Difficulty
    active: bool


class Draft(BaseModel):
    persona: PersonaSpec
    scenario: ScenarioDraft


def missing(collected: Collected) -> list[str]:
    """What a draft cannot be made without."""
    return [] if collected.name else ["name"]


def default_rubric(collected: Collected) -> str:
    return "laer-objections" if collected.objections else "needs-analysis"


def default_goal(collected: Collected) -> str:
    if collected.objections:
        names = _join([OBJECTION_NAMES[o] for o in collected.objections])
        plural = "s" if len(collected.objections) > 1 else ""
        return f"Acknowledge and explore the customer's {names} objection{plural}, resolve it, and agree a next step."
    return "Find out what the customer needs (budget, trade-in, timeline, who decides) before presenting a vehicle."


def title_of(collected: Collected) -> str:
    if collected.title:
        return collected.title
    name = collected.name or "Customer"
    if collected.objections:
        return _clip(f"{name}: {_join([OBJECTION_NAMES[o] for o in collected.objections])} objection"
                     f"{'s' if len(collected.objections) > 1 else ''}", 200)
    if collected.vehicle:
        return _clip(f"{name} shopping for {_article(collected.vehicle)}", 200)
    return _clip(f"{name}: needs analysis", 200)


def summary_of(collected: Collected) -> str:
    """Who the customer is, in a sentence or two (the persona's summary)."""
    age = f"{collected.age}-year-old " if collected.age else ""
    if collected.first_time_buyer:
        who = f"{age}first-time buyer"
    elif collected.first_time_buyer is False:
        who = f"{age}buyer who has bought a car before"
    else:
        who = f"{age}car buyer"
    parts = [_sentence(who)]
    if collected.customer_notes:
        parts.append(_sentence(collected.customer_notes))
    return _clip(" ".join(parts), 500)


def situation_of(collected: Collected) -> str:
    if collected.situation:
        return collected.situation
    name = collected.name or "The customer"
    parts = []
    if collected.vehicle:
        parts.append(f"{name} is shopping for {_article(collected.vehicle)}")
    if collected.trade_in:
        parts.append(f"trading in {_article(collected.trade_in)}")
    text = ", ".join(parts)
    if collected.budget:
        text = f"{text} with a budget of {collected.budget}" if text else f"{name} has a budget of {collected.budget}"
    return _clip(_sentence(text), 2000) if text else ""


def draft(collected: Collected) -> Draft:
    """The persona and scenario `collected` describes (call only when `missing` is empty)."""
    objections = list(collected.objections or [])
    difficulty = collected.difficulty or "medium"
    persona = PersonaSpec(
        kind="customer", name=collected.name or "Customer", summary=summary_of(collected), difficulty=difficulty,
        vehicle=collected.vehicle or "", budget=collected.budget or "",
        personality=_clip(collected.tone or "", 1000),
        objections=objections, opening_line=_opening(collected),
    )
    facts = [HiddenFact(key=key, label=fact.label, value=fact.value)
             for key, fact in zip(fact_keys(collected.hidden_facts or []), collected.hidden_facts or [], strict=True)]
    spec = ScenarioSpec(
        title=title_of(collected), mode="roleplay", persona_id=_PERSONA_PLACEHOLDER, situation=situation_of(collected),
        objections=objections, hidden_facts=facts, goal=collected.goal or default_goal(collected),
        rubric_id=collected.rubric_id or default_rubric(collected),
        pass_score=collected.pass_score if collected.pass_score is not None else 70,
        time_limit_s=collected.time_limit_s, difficulty=difficulty,
    )
    return Draft(persona=persona, scenario=ScenarioDraft(**{**spec.model_dump(), "persona_id": None}))


def fact_keys(facts: list[FactIn]) -> list[str]:
    """Unique, valid keys (`spec.Key`) made from the facts' labels."""
    keys: list[str] = []
    for fact in facts:
        base = re.sub(r"[^a-z0-9]+", "_", fact.label.lower()).strip("_")[:56] or "fact"
        if not base[0].isalnum():
            base = "fact_" + base
        key, n = base, 2
        while key in keys:
            key, n = f"{base}_{n}", n + 1
        keys.append(key)
    return keys


def _opening(collected: Collected) -> str:
    if collected.vehicle:
        return f"Hi. I'm here to look at {_article(collected.vehicle)}."
    return "Hi. I'm just looking for now."


def _article(thing: str) -> str:
    lowered = thing.lower()
    if lowered.startswith(("a ", "an ", "the ", "my ", "her ", "his ", "their ")) or thing[:1].isdigit():
        return thing if not thing[:1].isdigit() else f"a {thing}"
    return ("an " if lowered[:1] in "aeiou" else "a ") + thing


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _sentence(text: str) -> str:
    text = _capital(text.strip())
    return text if text.endswith((".", "!", "?")) else text + "."


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
