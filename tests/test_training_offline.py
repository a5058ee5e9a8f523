"""The offline scenario customer, hidden facts and the offline judge, on their own: deterministic."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest

from server.conversation import offline, tagging
from server.conversation.personas import builtin_personas
from server.training import criteria, facts
from server.training.customer import scenario_reply
from server.training.evidence import verify
from server.training.offline_judge import TranscriptLine, judge, on_scale, passes
from server.training.spec import (
    SCALE_MAX,
    SCALE_MIN,
    CriterionSpec,
    FrozenScenario,
    HiddenFact,
    RubricSpec,
    ScenarioSpec,
    overall,
)
from tests.conversation_support import Scene
from tests.judge_sessions import load, play, score

CUSTOMERS = [p for p in builtin_personas().values() if p.kind == "customer"]
FACTS = [
    HiddenFact(key="current_payment", label="current payment", value="Right now I pay $389 a month on the Civic."),
    HiddenFact(key="usage", label="how the car is used", value="It's mostly school runs and weekend trips."),
    HiddenFact(key="timeline", label="when she needs it", value="My lease runs out at the end of next month."),
    HiddenFact(key="decision", label="who else decides", value="My husband Carlos has the final say."),
]
DISCOVERY = ["Hi, welcome in! What brings you in today?", "What are you paying now on your current car?",
             "How will you mostly use the new one?", "When do you need it by?", "Who else is involved in the decision?"]
PITCH = ["Hi, welcome in!", "This SUV has the best safety ratings in its class and a five-year warranty.",
         "It also includes free maintenance for two years, which saves you money.",
         "The resale value is excellent too.", "Let's get the paperwork started today."]
# What trainees say, good and bad, for sessions drawn at random (seeded): every kind of move.
MOVES = [
    "Hi, welcome in!", "Okay.", "Sure.", "Let me show you the car.", "What brings you in today?",
    "What are you paying now?", "When do you need it?", "Who else decides?", "How will you use it?",
    "I understand, that's a fair concern.", "I hear you. What's behind that?", "Can you tell me more about that?",
    "This one includes a five-year warranty and great resale value.", "It saves you money on fuel.",
    "If we could make the numbers work, would that work for you?", "Does that address your concern?",
    "Let's get the paperwork started.", "Shall we sign today?", "Trust me, it's worth it.",
    "Don't worry about that.", "So if I understand, you need room for the kids.", "Well, that's our number.",
    "I completely understand. It includes free maintenance, which saves you money. Does that help?",
    "What did the other dealer offer you?", "What payment did you have in mind?",
]


def frozen(objections: list[str], difficulty: str = "medium", rubric: RubricSpec = criteria.LAER_RUBRIC,
           hidden: list[HiddenFact] | None = None, persona: str = "maria-payment", goal: str = "") -> FrozenScenario:
    spec = ScenarioSpec.model_validate({"title": "Test", "persona_id": persona, "objections": objections,
                                        "difficulty": difficulty, "hidden_facts": [f.model_dump() for f in (
                                            FACTS if hidden is None else hidden)], "goal": goal})
    return FrozenScenario(id="s", spec=spec, rubric_id="r", rubric=rubric)


def run(scenario: FrozenScenario, turns: list[str]) -> list[TranscriptLine]:
    """The turns said to the offline scenario customer, as the engine passes them (earlier turns only)."""
    persona = builtin_personas()[scenario.spec.persona_id]
    history: list[tuple[str, str, dict[str, Any]]] = []
    lines = []
    for n, text in enumerate(turns):
        reply, tags = scenario_reply(scenario, persona, history, text)
        history += [("user", text, tagging.user_tags(text)), ("assistant", reply, tags)]
        lines += [TranscriptLine(f"u{n}", "user", text, tagging.user_tags(text)),
                  TranscriptLine(f"c{n}", "assistant", reply, tags)]
    return lines


def sentences_of(lines: list[str]) -> list[str]:
    return [s for line in lines for s in offline.said(line)]


# ---- the offline customer ------------------------------------------------------------------------

def test_three_different_lines_never_get_the_same_answer() -> None:
    """The issue's report: Tony answered three different lines with the same sentence."""
    scene = Scene("tony-competitor")
    for text in ["Hi!", "Okay.", "That's our best price.", "Well, it's a great car.", "We don't match quotes.",
                 "I can't do better than that.", "It's a good deal.", "Hmm."]:
        scene.say(text)
    said = sentences_of([reply for reply, _ in scene.replies])
    assert len(said) == len(set(said)), said
    assert sum("offer in writing" in s for s in said) <= 1


@pytest.mark.parametrize("seed", range(40))
def test_no_customer_line_repeats_in_varied_ten_turn_sessions(seed: int) -> None:
    rng = random.Random(seed)
    turns = [rng.choice(MOVES) for _ in range(10)]
    persona = CUSTOMERS[seed % len(CUSTOMERS)]
    scene = Scene(persona.id)
    for text in turns:
        scene.say(text)
    plain = sentences_of([reply for reply, _ in scene.replies])
    assert len(plain) == len(set(plain)), (persona.id, turns, plain)
    scenario = frozen([o.value for o in persona.objections], ["easy", "medium", "hard"][seed % 3],
                      persona=persona.id)
    replies = sentences_of([line.text for line in run(scenario, turns) if line.role == "assistant"])
    assert len(replies) == len(set(replies)), (persona.id, turns, replies)


def test_a_long_session_still_never_repeats() -> None:
    scenario = frozen(["monthly_payment", "spouse", "price"], "hard")
    lines = run(scenario, ["Okay.", "I hear you.", "It's great value."] * 12)
    said = sentences_of([line.text for line in lines if line.role == "assistant"])
    assert len(said) == len(set(said))


def stages(lines: list[TranscriptLine]) -> list[str]:
    return [line.tags["stage"] for line in lines if line.role == "assistant"]


ORDER = ["opening", "needs", "objections", "resolution", "walk_out"]


def test_a_good_session_moves_through_the_stages_in_order() -> None:
    turns = [
        *DISCOVERY[:3],
        "So if I understand, you need room for school runs. This SUV includes a great warranty.",
        "I understand, that's a fair concern. What payment did you have in mind?",
        "That makes sense. With a longer term we can get you close to that. Would that work for you?",
        "I hear you. What will your husband care about most?",
        "I completely understand. It has the top safety rating and free maintenance. Does that help?",
        "Shall we book a time for you both on Saturday?"]
    lines = run(frozen(["monthly_payment", "spouse"]), turns)
    seen = stages(lines)
    assert seen == sorted(seen, key=ORDER.index), seen
    assert {"opening", "needs", "objections", "resolution"} <= set(seen)
    assert [line.tags["resolved"] for line in lines if line.role == "assistant" and line.tags["resolved"]] == [
        "monthly_payment", "spouse"]
    assert any(line.tags.get("agreed") for line in lines)


def test_a_customer_who_is_ignored_and_pushed_walks_out_and_stays_gone() -> None:
    lines = run(frozen(["monthly_payment"], "hard"), [*PITCH[:2], "Trust me, it's worth it.", "Okay.",
                                                                "Sign today.", "Hello?", "Come on."])
    seen = stages(lines)
    assert "walk_out" in seen and seen == sorted(seen, key=ORDER.index), seen
    assert all(s == "walk_out" for s in seen[seen.index("walk_out"):])
    assert not any(line.tags.get("resolved") for line in lines)


@pytest.mark.parametrize("difficulty", ["easy", "medium", "hard"])
def test_one_generic_answer_never_settles_an_objection(difficulty: str) -> None:
    generic = ("I completely understand. This one includes a five-year warranty and great resale value. "
               "If we could make the numbers work, would that work for you?")
    lines = run(frozen(["price"], difficulty), ["Let me show you the car."] + [generic] * 4)
    assert not any(line.tags.get("resolved") for line in lines), "acknowledged, never explored"


@pytest.mark.parametrize(("difficulty", "turns"), [
    ("easy", ["I understand. What are you comparing it with?", "That makes sense, thanks for telling me."]),
    ("medium", ["I understand. What are you comparing it with?",
                "Fair enough. It includes the warranty and free maintenance. Does that help?"]),
    ("hard", ["I understand. What are you comparing it with?",
              "Fair enough. It includes the warranty and free maintenance. Does that help?"]),
])
def test_an_objection_is_conceded_after_acknowledging_and_exploring(difficulty: str, turns: list[str]) -> None:
    lines = run(frozen(["price"], difficulty), ["Hi!", "Let me show you the car.", *turns])
    customer = [line for line in lines if line.role == "assistant"]
    assert customer[1].tags["objection"] == "price"
    assert customer[2].tags["resolved"] is None, "a bare question is answered, not a concession"
    assert customer[3].tags["resolved"] == "price"


def test_the_customer_reacts_to_what_the_trainee_just_did() -> None:
    scenario = frozen(["price"], "hard")
    base = ["Hi!", "Let me show you the car."]
    reactions = {
        "This one has the best safety ratings in its class.": "reactions.pitched",
        "Let's get the paperwork started.": "reactions.closed_early",
        "I understand, that's a fair point.": "reactions.acknowledged",
        "Trust me, you'd be crazy to pass on it.": "reactions.pressured",
        "What are you comparing it with?": "concern.price",
    }
    book = offline.playbook()
    for text, where in reactions.items():
        reply = run(scenario, [*base, text])[-1].text
        group, key = where.split(".")
        assert any(line in reply for line in book[group][key]), (text, reply)


def test_deterministic_and_the_current_turn_in_history_changes_nothing() -> None:
    scenario = frozen(["monthly_payment", "spouse"])
    persona = builtin_personas()["maria-payment"]
    first = run(scenario, DISCOVERY + PITCH)
    assert [line.text for line in run(scenario, DISCOVERY + PITCH)] == [line.text for line in first]
    history = [(line.role, line.text, line.tags) for line in first[:6]]
    text = "I understand. What payment did you have in mind?"
    assert scenario_reply(scenario, persona, history, text) == scenario_reply(
        scenario, persona, [*history, ("user", text, tagging.user_tags(text))], text)


# ---- hidden facts --------------------------------------------------------------------------------

def test_discovery_uncovers_the_facts_and_pitching_uncovers_none() -> None:
    scenario = frozen(["monthly_payment"])
    asked = run(scenario, DISCOVERY)
    revealed = [key for line in asked if line.role == "assistant" for key in line.tags["facts_revealed"]]
    assert revealed == ["current_payment", "usage", "timeline", "decision"]
    for line in asked:
        for key in line.tags.get("facts_revealed", []):
            value = next(f.value for f in FACTS if f.key == key)
            assert value in line.text
    pitched = run(scenario, PITCH)
    assert not [key for line in pitched if line.role == "assistant" for key in line.tags["facts_revealed"]]


@pytest.mark.parametrize(("question", "key"), [
    ("What are you paying now?", "current_payment"),
    ("what are you paying each month at the moment", "current_payment"),
    ("How soon do you need it?", "timeline"),
    ("Is anyone else part of this decision?", "decision"),
    ("Tell me about your typical week, how do you use your car?", "usage"),
])
def test_a_question_asks_for_a_fact_by_meaning(question: str, key: str) -> None:
    assert [f.key for f in facts.best_asked(FACTS, question, set())][:1] == [key]


@pytest.mark.parametrize("text", ["This SUV has a great warranty.", "What colour do you like?",
                                  "Let's get the paperwork started."])
def test_a_pitch_or_an_unrelated_question_asks_for_no_fact(text: str) -> None:
    assert facts.best_asked(FACTS, text, set()) == []


def test_revealed_needs_the_question_and_the_statement() -> None:
    fact = FACTS[0]
    assert facts.revealed(FACTS, "What are you paying now?", "Right now I pay $389 a month on the Civic.",
                          set()) == ["current_payment"]
    assert facts.revealed(FACTS, "This car is great.", "Right now I pay $389 a month on the Civic.", set()) == []
    assert facts.revealed(FACTS, "What are you paying now?", "Less than you'd think.", set()) == []
    assert facts.revealed(FACTS, "What are you paying now?", "I pay $389 a month for the Civic.", {fact.key}) == []
    # A model says it in its own words: its figures and most of its words.
    assert facts.revealed(FACTS, "What do you pay at the moment?", "On the Civic I pay $389 a month right now.",
                          set()) == ["current_payment"]
    assert facts.revealed(FACTS, "What do you pay at the moment?", "I pay $450 a month on the Civic.", set()) == []


# ---- the judge -----------------------------------------------------------------------------------

def test_judge_agreement_bar_over_the_scripted_sessions() -> None:
    """The quality bar CI holds: >= 85 % of criteria agree with the human judge, no false pass."""
    sessions = load()
    assert len(sessions) >= 30
    results = [score(session, judge(session.scenario, play(session))) for session in sessions]
    agreed = sum(r.agreed for r in results)
    total = sum(r.total for r in results)
    assert total >= 150
    assert agreed / total >= 0.85, [m for r in results for m in r.misses]
    assert [r.session.name for r in results if r.false_pass] == []
    # Every session has an expectation, and both outcomes are represented.
    assert all(r.total == len(r.session.scenario.rubric.criteria) for r in results)
    assert {r.session.should_pass for r in results} == {True, False}


def test_every_quote_is_verbatim_from_the_trainees_own_message() -> None:
    for session in load():
        lines = play(session)
        mine = {line.message_id: line.text for line in lines if line.role == "user"}
        verdict = judge(session.scenario, lines)
        for result in verdict.criteria:
            for item in result.evidence:
                assert item.quote in mine[item.message_id], (session.name, result.key, item)
            kept, dropped = verify(result.evidence, mine)
            assert not dropped and kept == result.evidence


@pytest.mark.parametrize("scale", ["binary", "0-3", "1-5"])
def test_scores_land_on_each_scale(scale: str) -> None:
    keys = ["listen", "acknowledge", "explore", "respond", "confirm"]
    rubric = RubricSpec(name="LAER", criteria=[CriterionSpec.model_validate({"key": k, "label": k, "scale": scale})
                                               for k in keys])
    good = run(frozen(["price"], "medium", rubric), ["Hi!", "Let me show you the car.",
                                                     "I understand, that's fair. What are you comparing it with?",
                                                     "That makes sense. It includes the warranty. Does that help?"])
    bad = run(frozen(["price"], "medium", rubric), ["Hi!", "Let me show you the car.", "Trust me, it's worth it.",
                                                    "Okay."])
    high = judge(frozen(["price"], "medium", rubric), good)
    low = judge(frozen(["price"], "medium", rubric), bad)
    assert all(r.max == SCALE_MAX[scale] for r in high.criteria)
    assert [r.score for r in high.criteria] == [SCALE_MAX[scale]] * 5, high.criteria
    assert [r.score for r in low.criteria] == [SCALE_MIN[scale]] * 5, low.criteria
    assert overall(high.criteria, rubric) == 100 and overall(low.criteria, rubric) == 0


def test_the_ladder_maps_partial_showings_down() -> None:
    assert [on_scale(level, "binary") for level in range(5)] == [0, 0, 1, 1, 1]
    assert [on_scale(level, "0-3") for level in range(5)] == [0, 1, 1, 2, 3]
    assert [on_scale(level, "1-5") for level in range(5)] == [1, 2, 3, 4, 5]


def test_facts_in_the_verdict_name_the_customer_message_and_turn() -> None:
    scenario = frozen(["monthly_payment"], rubric=criteria.NEEDS_RUBRIC)
    lines = run(scenario, DISCOVERY)
    verdict = judge(scenario, lines)
    by_key = {f.key: f for f in verdict.facts}
    assert by_key["current_payment"].uncovered and by_key["current_payment"].turn == 2
    assert by_key["current_payment"].message_id == "c1"
    assert all(f.uncovered for f in verdict.facts)
    pitched = judge(scenario, run(scenario, PITCH))
    assert not any(f.uncovered for f in pitched.facts) and all(f.message_id is None for f in pitched.facts)


def test_a_pitcher_fails_and_a_discoverer_passes_the_needs_drill() -> None:
    scenario = frozen([], rubric=criteria.NEEDS_RUBRIC, goal="Uncover her needs before presenting.",
                      hidden=[*FACTS, HiddenFact(key="trade", label="trade-in", value="I'm trading a 2015 Civic.")])
    asked = judge(scenario, run(scenario, [*DISCOVERY, "Are you trading anything in?",
                                           "So if I understand, you need room for school runs by next month."]))
    assert passes(scenario, asked) and asked.goal_met is True
    pitched = judge(scenario, run(scenario, PITCH))
    assert not passes(scenario, pitched) and pitched.goal_met is False
    assert overall(pitched.criteria, scenario.rubric) == 0


def test_a_custom_criterion_is_judged_by_its_words_and_says_so() -> None:
    rubric = RubricSpec(name="Custom", criteria=[CriterionSpec.model_validate({
        "key": "test_drive", "label": "Offers a test drive", "description": "Invites the customer to drive it.",
        "scale": "binary"})])
    scenario = frozen([], rubric=rubric, hidden=[])
    offered = judge(scenario, run(scenario, ["Hi!", "Would you like to take it for a test drive?"]))
    assert offered.criteria[0].score == 1 and "word overlap" in offered.criteria[0].reason
    assert offered.criteria[0].evidence[0].quote == "Would you like to take it for a test drive?"
    silent = judge(scenario, run(scenario, ["Hi!", "It comes in blue."]))
    assert silent.criteria[0].score == 0 and "word overlap" in silent.criteria[0].reason


def test_builtin_rubric_keys_are_all_judged_without_falling_back_to_word_overlap() -> None:
    for rubric in criteria.BUILTIN_RUBRICS.values():
        scenario = frozen(["price"], rubric=rubric)
        verdict = judge(scenario, run(scenario, DISCOVERY + PITCH))
        assert [r.key for r in verdict.criteria] == [c.key for c in rubric.criteria]
        assert not any("word overlap" in r.reason for r in verdict.criteria), rubric.name
        assert set(criteria.OFFLINE_RULES) >= {c.key for c in rubric.criteria}


def test_an_empty_session_scores_the_bottom_of_every_scale() -> None:
    scenario = frozen(["price"], rubric=criteria.GENERAL_RUBRIC)
    verdict = judge(scenario, [])
    assert [r.score for r in verdict.criteria] == [1] * 5 and not passes(scenario, verdict)


def test_the_summary_names_strengths_and_what_to_work_on() -> None:
    scenario = frozen(["monthly_payment"], rubric=criteria.LAER_RUBRIC, goal="Resolve her objection.")
    verdict = judge(scenario, run(scenario, PITCH))
    assert re.search(r"Work on .*Explore", verdict.summary) and "Goal not met." in verdict.summary


def test_asking_what_is_behind_an_objection_reveals_the_real_concern() -> None:
    concern = HiddenFact(key="concern", label="the real concern", value="Honestly, I'm nervous about the financing.")
    scenario = frozen(["think_about_it"], "easy", hidden=[concern], persona="grace-firsttime")
    lines = run(scenario, ["Hi!", "Let me show you the car.", "I understand. What's behind that for you?"])
    assert lines[-1].tags["facts_revealed"] == ["concern"] and concern.value in lines[-1].text
    assert lines[-1].tags["objection"] == "think_about_it" and lines[-1].tags["resolved"] is None


def test_the_fi_menu_is_the_core_four_unless_the_scenario_names_its_own() -> None:
    turns = ["Hi Linda.", "Your payment is $412 a month before any protection.",
             "All optional: the service contract covers repairs and GAP covers a total loss.",
             "Tire and wheel covers road hazards and prepaid maintenance covers oil changes.",
             "With the service contract your payment is $431 a month."]
    core = frozen(["fi_products"], rubric=criteria.FI_MENU_RUBRIC, persona="linda-fi", hidden=[])
    verdict = judge(core, run(core, turns))
    assert [r.score for r in verdict.criteria] == [3, 1, 1, 1] and passes(core, verdict)
    two = judge(core, run(core, turns[:3] + turns[4:]))
    assert two.criteria[0].score == 1 and "not presented: maintenance, tire wheel" in two.criteria[0].reason
    named = core.model_copy(update={"spec": core.spec.model_copy(update={
        "situation": "The menu here is the service contract and GAP only."})})
    assert judge(named, run(named, turns[:3] + turns[4:])).criteria[0].score == 3


def test_the_plain_role_play_customer_moves_through_the_stages_too() -> None:
    scene = Scene("maria-payment")
    for text in ["Hi, welcome in!", "What brings you in today?", "Let me show you the SUV.",
                 "I completely understand. It includes the warranty, which saves you money. Would that work?",
                 "I hear you. What will your husband care about most?",
                 "That makes sense. It has top safety ratings. Does that help?", "Shall we get started?"]:
        scene.say(text)
    seen = [tags["stage"] for _, tags in scene.replies]
    assert seen == sorted(seen, key=ORDER.index) and {"opening", "needs", "objections", "resolution"} <= set(seen)


@pytest.mark.parametrize("text", ["", "   ", "?", "¿Qué tal? 🚗", "a" * 3000, "what what what ??? $$$ 12,000"])
def test_odd_input_gets_an_answer_in_character(text: str) -> None:
    scenario = frozen(["price"])
    lines = run(scenario, ["Hi!", text, text])
    assert all(line.text.strip() for line in lines if line.role == "assistant")
    assert judge(scenario, lines).criteria
