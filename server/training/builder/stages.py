"""The builder's questions, in order; a stage is skipped when its fields are already known."""

from __future__ import annotations

import enum

from server.conversation.taxonomy import OBJECTION_NAMES
from server.training.builder.collected import (
    RUBRICS,
    Collected,
    draft,
    situation_of,
    title_of,
)


class Stage(enum.StrEnum):
    customer = "customer"
    vehicle = "vehicle"  # vehicle and situation
    objections = "objections"
    difficulty = "difficulty"  # difficulty and tone
    hidden_facts = "hidden_facts"
    goal = "goal"  # goal and rubric
    review = "review"


ORDER = list(Stage)

_QUESTIONS: dict[Stage, str] = {
    Stage.customer: "Who is the customer? Give me a name, and anything that matters: age, first-time buyer, "
                    "family, job.",
    Stage.vehicle: "What are they shopping for, and what is the situation? For example the vehicle, a trade-in, "
                   "a budget or monthly payment.",
    Stage.objections: "What will they object to? For example price, monthly payment, trade-in value, needing to "
                      "think about it, a spouse, a competitor's offer, or the F&I products. Say \"none\" for none.",
    Stage.difficulty: "How tough should they be: easy, medium or hard? And their tone, if it matters "
                      "(friendly, impatient, sceptical...).",
    Stage.hidden_facts: "What does the customer know that they reveal only when asked well? One fact per line or "
                        "sentence, e.g. \"she pays $389 a month on her Civic\". Say \"none\" for none.",
    Stage.goal: "What must the trainee achieve? You can also name the rubric (LAER objection handling, needs "
                "analysis, F&I menu, general sales), a pass mark and a time limit.",
}

# Asked again, more narrowly, after an answer that gave nothing for the stage.
_AGAIN: dict[Stage, str] = {
    Stage.customer: "I didn't catch a name. What should the customer be called? (For example: \"Maria, 34, "
                    "first-time buyer\".)",
    Stage.vehicle: "I didn't catch a vehicle. What are they looking at? (For example: \"a 2024 Honda CR-V\" or "
                   "\"a used family SUV\"; say \"skip\" to leave it open.)",
    Stage.objections: "I didn't catch an objection. Which of these will they raise: price, monthly payment, "
                      "trade-in, think about it, spouse, competitor, F&I products? Say \"none\" for none.",
    Stage.difficulty: "Easy, medium or hard? (Say \"skip\" for medium.)",
    Stage.hidden_facts: "I didn't catch a fact. Tell me something the customer knows, like a current payment, "
                        "a payoff amount or a competing quote, or say \"none\".",
    Stage.goal: "What should the trainee get done in this conversation? (For example: \"book a test drive\" or "
                "\"uncover the budget and the trade-in\"; say \"skip\" for the usual goal.)",
}


def known(stage: Stage, collected: Collected) -> bool:
    match stage:
        case Stage.customer:
            return collected.name is not None
        case Stage.vehicle:
            return collected.vehicle is not None or collected.situation is not None
        case Stage.objections:
            return collected.objections is not None
        case Stage.difficulty:
            return collected.difficulty is not None
        case Stage.hidden_facts:
            return collected.hidden_facts is not None
        case Stage.goal:
            return collected.goal is not None
        case Stage.review:
            return False


def next_stage(collected: Collected) -> Stage:
    """The first stage whose fields are still unknown (review once all are)."""
    return next(stage for stage in ORDER if not known(stage, collected))


def question(stage: Stage, collected: Collected, *, again: bool = False) -> str:
    if stage is Stage.review:
        text = review(collected)
        return ("I didn't catch a change. " if again else "") + text
    asked = _AGAIN[stage] if again else _QUESTIONS[stage]
    if collected.name and stage is not Stage.customer:
        asked = asked.replace("the customer", collected.name.split()[0])
    return asked


def review(collected: Collected) -> str:
    """The draft read back in a few lines, and what to say next."""
    made = draft(collected)
    scenario = made.scenario
    lines = [f"Here is the draft \"{title_of(collected)}\":",
             f"- Customer: {made.persona.name}. {made.persona.summary}",
             f"- Situation: {situation_of(collected) or 'not given'}",
             "- Objections: " + (", ".join(OBJECTION_NAMES[o] for o in scenario.objections) or "none"),
             f"- Difficulty: {scenario.difficulty}" + (f", {collected.tone}" if collected.tone else ""),
             "- Hidden facts: " + ("; ".join(f"{f.label}: {f.value.rstrip('.')}" for f in scenario.hidden_facts)
                                   or "none"),
             f"- Goal: {scenario.goal}" + ("" if collected.goal else " (the usual goal)"),
             f"- Rubric: {RUBRICS.get(scenario.rubric_id, scenario.rubric_id)}"
             + ("" if collected.rubric_id else " (chosen for you)") + f", pass mark {scenario.pass_score}"
             + (f", time limit {scenario.time_limit_s // 60} min" if scenario.time_limit_s else ""),
             "Tell me anything to change, or say \"looks good\" to finish."]
    return "\n".join(lines)
