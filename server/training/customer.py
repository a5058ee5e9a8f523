"""The offline customer in a scenario: deterministic rules with the effect of the online
customer's instructions.

Stages, in order: the opening line; needs (discovery questions answered, hidden facts revealed
only when a question asks for them); objections (the scenario's, in order, each voiced until
the trainee has acknowledged and explored it, and for medium and hard customers answered it
too, hard ones only after exploring it first and never on the first try); resolution (agrees
to a close once every objection is settled) or walk-out (when the trainee keeps doing nothing
with an objection, or pushes). The customer reacts to what the trainee just did, stays in
character (never sells, never talks about its instructions) and never says a sentence twice in
a session.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from server.conversation import tagging
from server.conversation.offline import (
    CustomerState,
    customer_state,
    needs_lines,
    objection_lines,
    pick,
    playbook,
    pool,
)
from server.conversation.personas import PersonaView
from server.conversation.taxonomy import Objection, Technique
from server.training import facts as fact_rules
from server.training.signals import Signal, signals
from server.training.spec import FrozenScenario, HiddenFact

History = list[tuple[str, str, dict[str, Any]]]
# Times a customer voices an objection the trainee does nothing with (or pushes on) before leaving.
WALK_AFTER = {"easy": 5, "medium": 4, "hard": 3}
MAX_NEEDS_EXTRA = 2  # needs answers beyond one per hidden fact before the customer brings up a concern
_OFFER = re.compile(r"\b(?:would|do) you (?:like|want) to (?:take|drive|see|try|sit|go)\b|\bwant to (?:take|drive) "
                    r"(?:it|her|this)\b|\btest[- ]drive\b", re.IGNORECASE)


@dataclass
class Handling:
    """What the trainee has done with the objection the customer is pressing, since it was raised."""

    acknowledged: bool = False
    explored: bool = False
    responded: bool = False
    responded_after_exploring: bool = False
    turns: int = 0
    pushed: int = 0  # turns with pressure or a dismissal

    def add(self, text: str) -> None:
        shown = set(tagging.techniques(text))
        found = signals(text)
        self.turns += 1
        explored_now = explores(text, shown, found)
        if self.explored and responds(shown, found):
            self.responded_after_exploring = True
        self.acknowledged |= Technique.acknowledge_objection in shown
        self.explored |= explored_now
        self.responded |= responds(shown, found)
        self.pushed += bool(found & {Signal.pressure, Signal.dismiss})

    def settled(self, difficulty: str, text: str) -> bool:
        """Whether the customer lets the objection go on this turn (`text`): never before it was
        acknowledged and explored, never on a bare question (the customer answers it first)."""
        shown = set(tagging.techniques(text))
        found = signals(text)
        if explores(text, shown, found) and not responds(shown, found):
            return False
        if self.pushed and difficulty != "easy":
            return False
        if not (self.acknowledged and self.explored):
            return False
        if difficulty == "easy":
            return True
        if difficulty == "medium":
            return self.responded_after_exploring or (self.responded and responds(shown, found))
        return self.responded_after_exploring and self.turns >= 2


def explores(text: str, shown: set[Technique], found: set[Signal]) -> bool:
    """A question about the concern: a clarifying one, or any open question. (Not the tagger's
    discovery question: it also fires on "which" in a statement that ends in a trial close.)"""
    return Signal.explore in found or fact_rules.is_open_question(text)


def responds(shown: set[Technique], found: set[Signal]) -> bool:
    return bool(shown & {Technique.value_statement, Technique.trial_close}) or Signal.optional in found


@dataclass
class _Scene:
    state: CustomerState
    handling: Handling
    revealed: set[str] = field(default_factory=set)


def _replay(history: History) -> _Scene:
    state = customer_state(history)
    handling = Handling()
    revealed: set[str] = set()
    pressing: str | None = None
    for role, text, tags in history:
        if role == "assistant":
            revealed |= set(tags.get("facts_revealed") or [])
            if tags.get("objection") and tags.get("objection") != pressing:
                pressing, handling = tags["objection"], Handling()
            elif tags.get("resolved") == pressing:
                pressing, handling = None, Handling()
        elif pressing is not None:
            handling.add(text)
    return _Scene(state, handling, revealed)


def _fact_answers(facts: list[HiddenFact], text: str, already: set[str], *, again: bool = False) -> list[str]:
    """The facts a question asks for; with `again`, asked about one already told, the customer
    says it again (in other words: `pick` never repeats a sentence)."""
    found = fact_rules.best_asked(facts, text, already)
    if not found and again:
        found = fact_rules.best_asked(facts, text, set(), limit=1)
    return [fact.value for fact in found]


def scenario_reply(scenario: FrozenScenario, persona: PersonaView, history: History,
                   user_text: str) -> tuple[str, dict[str, Any]]:
    """The customer's next line in a scenario and its tags: `objection` (the one voiced, if any),
    `resolved` (the one let go in this reply), `facts_revealed` (fact keys first stated in this
    reply), `stage`, `agreed` (this reply accepts the deal), `by`."""
    if history and history[-1][0] == "user" and history[-1][1] == user_text:
        history = history[:-1]  # the turn being answered, passed along with the earlier ones
    spec = scenario.spec
    difficulty = spec.difficulty
    objections = list(spec.objections)  # a scenario lists its objections: none listed, none raised
    scene = _replay(history)
    state = scene.state
    shown = set(tagging.techniques(user_text))
    found = signals(user_text)
    asking = fact_rules.is_question(user_text)
    tags: dict[str, Any] = {"objection": None, "resolved": None, "facts_revealed": [], "stage": "opening",
                            "by": "offline"}
    parts: list[str] = []

    def finish() -> tuple[str, dict[str, Any]]:
        text = " ".join(parts)
        tags["facts_revealed"] = fact_rules.revealed(spec.hidden_facts, user_text, text, scene.revealed)
        return text, tags

    if state.turns == 0:
        opening = persona.opening_line or f"Hi, I'm {persona.name}. I'm here about {persona.vehicle or 'a car'}."
        pick([opening, f"Hi, I'm {persona.name}."], state, parts)
        if asking:  # "Hi, what are you driving now?" gets its answer with the hello
            for value in _fact_answers(spec.hidden_facts, user_text, scene.revealed):
                pick([value], state, parts)
        return finish()
    if state.walked:
        tags["stage"] = "walk_out"
        pick(pool("after_walk"), state, parts)
        return finish()
    if state.agreed:
        tags["stage"] = "resolution"
        for value in _fact_answers(spec.hidden_facts, user_text, scene.revealed) if asking else []:
            pick([value], state, parts)
        if not parts:
            pick(pool("after_buy"), state, parts)
        return finish()
    answers = _fact_answers(spec.hidden_facts, user_text, scene.revealed) if asking else []
    # A question asking for a fact is discovery, even in a trial close's words ("what payment are
    # you comfortable with?").
    closing = Technique.closing_attempt in shown or (Technique.trial_close in shown and not answers)
    current = state.current
    if current is not None:
        handling = scene.handling
        handling.add(user_text)
        tags["stage"] = "objections"
        if not handling.settled(difficulty, user_text):
            tags["objection"] = current.value
            _press(current, handling, explores(user_text, shown, found), shown, found, answers, persona, state,
                   parts, tags, difficulty)
            return finish()
        tags["resolved"] = current.value
        state.resolved.add(current)
        for value in answers:
            pick([value], state, parts)
        pick([persona.agree_line, *pool("agree")] if persona.agree_line else pool("agree"), state, parts)
    elif not state.raised and asking and not (closing and not objections) and (
            state.needs < len(spec.hidden_facts) + MAX_NEEDS_EXTRA or not objections):
        tags["stage"] = "needs"
        for value in answers:
            pick([value], state, parts)
        if not answers:
            answers = _fact_answers(spec.hidden_facts, user_text, scene.revealed, again=True)
            for value in answers:
                pick([value], state, parts)
        if not answers:
            if Signal.summarise in found:
                pick(pool("summary_ok"), state, parts)
            elif _OFFER.search(user_text):
                pick(pool("offer"), state, parts)
            else:
                # What they want in general, for a question on buying a car; never a hidden fact
                # unasked; "no idea" for a question on something else (colour, music).
                general = [line for line in needs_lines(persona)
                           if not any(fact_rules.states(f, line) for f in spec.hidden_facts)]
                on_topic = fact_rules.relevance_any(user_text) or Technique.discovery_question in shown
                pick(general + pool("unknown") if on_topic else pool("unknown") + general, state, parts)
        return finish()
    else:
        for value in answers:
            pick([value], state, parts)
    upcoming = [o for o in objections if o not in state.raised and o not in state.resolved]
    if not objections and not closing:
        # Nothing to object to: the customer listens to the presentation and takes up offers.
        tags["stage"] = "needs"
        if _OFFER.search(user_text):
            pick(pool("offer"), state, parts)
        elif not parts:
            pick(pool("interested") if Technique.value_statement in shown else pool("small_talk"), state, parts)
        return finish()
    if upcoming:
        tags["objection"] = upcoming[0].value
        tags["stage"] = "objections"
        if not parts and shown & {Technique.closing_attempt, Technique.trial_close}:
            pick([str(line) for line in playbook()["reactions"]["closed_early"]], state, parts)
        pick(objection_lines(persona, upcoming[0]), state, parts)
    elif closing:
        tags["stage"] = "resolution"
        tags["agreed"] = True
        pick(pool("buy"), state, parts)
    else:
        tags["stage"] = "resolution"
        if not parts:
            pick(pool("next_step"), state, parts)
    return finish()


def _press(current: Objection, handling: Handling, explored_now: bool, shown: set[Technique], found: set[Signal],
           answers: list[str], persona: PersonaView, state: CustomerState, parts: list[str], tags: dict[str, Any],
           difficulty: str) -> None:
    """The objection still stands: react to what the trainee did, then voice the concern again
    (or, asked about it, say what is behind it); leave after too many turns of nothing or pushing."""
    reactions = playbook()["reactions"]
    pushing = bool(found & {Signal.pressure, Signal.dismiss})
    did_something = explored_now or Technique.acknowledge_objection in shown or responds(shown, found)
    tags["stalled"] = pushing or not did_something
    if tags["stalled"] and state.stalls + 1 >= WALK_AFTER[difficulty]:
        tags["stage"] = "walk_out"
        pick(pool("walk_out"), state, parts)
        return
    if pushing:
        pick([str(line) for line in reactions["pressured"]], state, parts)
    elif explored_now or answers:
        for value in answers:
            pick([value], state, parts)
        if not answers:
            pick([str(line) for line in playbook()["concern"][current.value]], state, parts)
        return  # answering a question is enough for this turn: the concern stands, told more fully
    elif shown & {Technique.closing_attempt, Technique.trial_close} and not handling.explored:
        pick([str(line) for line in reactions["closed_early"]], state, parts)
    elif Technique.acknowledge_objection in shown:
        pick([str(line) for line in reactions["acknowledged"]], state, parts)
    elif responds(shown, found):
        pick([str(line) for line in reactions["pitched"]], state, parts)
    elif state.pushes >= 1:
        pick([str(line) for line in reactions["ignored"]], state, parts)
    pick(objection_lines(persona, current), state, parts)
