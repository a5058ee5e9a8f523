"""The offline scorecard on realistic transcripts: scores, summary and objection lists agree."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from server.conversation import scorecard, tagging
from server.conversation.models import Channel, ConversationMessage, ConversationSession, MessageRole, Mode
from server.conversation.personas import builtin_personas
from tests.conversation_support import SAM, Scene, assert_consistent, named

# Derek's trade-in objection is never answered, though the salesperson asks for the sale.
DEREK = ["Hello, welcome in!", "Okay.", "Well, that's our number.", "So shall we get the paperwork started?"]
# A model-played customer: its turns carry only the objection they raise (no `resolved` tag).
MODEL_CUSTOMER = [
    ("user", "Good morning, thanks for coming in. What are you driving now?"),
    ("assistant", "A 2014 Civic. Honestly, your price on the CR-V is more than I wanted to spend."),
    ("user", "I understand, it's a big number. It includes the certified warranty and the first two services, "
             "so it saves you money over five years."),
    ("assistant", "Okay, that helps. I still need to think about it overnight though."),
    ("user", "Of course."),
    ("assistant", "I'll call you tomorrow."),
]


def session_of(persona_id: str) -> ConversationSession:
    persona = builtin_personas()[persona_id]
    return ConversationSession(id=uuid.uuid4(), mode=Mode.roleplay, channel=Channel.text, persona_id=persona_id,
                               persona=persona.model_dump(mode="json"))


def message(role: str, text: str, tags: dict[str, Any]) -> ConversationMessage:
    return ConversationMessage(id=uuid.uuid4(), role=MessageRole(role), text=text, tags=tags, metrics={})


def played(persona_id: str, lines: list[str]) -> list[ConversationMessage]:
    """The lines said to the offline customer, and its replies, tagged as the engine tags them."""
    scene = Scene(persona_id)
    for line in lines:
        scene.say(line)
    return [message(role, text, tags) for role, text, tags in scene.history]


def model_played(turns: list[tuple[str, str]]) -> list[ConversationMessage]:
    return [message(role, text, tagging.user_tags(text) if role == "user" else tagging.customer_tags(text))
            for role, text in turns]


async def test_objections_settled_with_value_score_as_handled_and_closes_count() -> None:
    messages = played("sam-price", SAM)
    card, _ = await scorecard.build(None, session_of("sam-price"), messages)
    assert_consistent(card)
    assert card["objections"] == {"raised": ["price", "think_about_it"], "resolved": ["price", "think_about_it"],
                                  "unresolved": []}
    scores = {s["dimension"]: s for s in card["scores"]}
    assert scores["objection_handling"]["score"] == 4  # settled, though never with "I understand"
    assert scores["objection_handling"]["evidence"] == SAM[2]
    assert scores["closing"]["score"] == 4 and scores["closing"]["evidence"] == SAM[4]
    assert "objection handling" in named(card["summary"], "Strongest:")
    assert "price and think-about-it objections" in card["summary"]


async def test_an_unanswered_objection_is_open_and_what_to_work_on() -> None:
    messages = played("derek-tradein", DEREK)
    card, _ = await scorecard.build(None, session_of("derek-tradein"), messages)
    assert_consistent(card)
    assert card["objections"]["unresolved"] == ["trade_in"] and card["objections"]["resolved"] == []
    scores = {s["dimension"]: s["score"] for s in card["scores"]}
    assert scores["objection_handling"] == 1 and "objection handling" in named(card["summary"], "Work on")
    assert scores["closing"] == 3 and "The trade-in objection was left open." in card["summary"]


async def test_a_customer_who_moves_on_after_an_answer_has_let_that_objection_go() -> None:
    messages = model_played(MODEL_CUSTOMER)
    card, _ = await scorecard.build(None, session_of("sam-price"), messages)
    assert_consistent(card)
    assert card["objections"] == {"raised": ["price", "think_about_it"], "resolved": ["price"],
                                  "unresolved": ["think_about_it"]}
    scores = {s["dimension"]: s for s in card["scores"]}
    assert scores["objection_handling"]["score"] == 3 and scores["objection_handling"]["evidence"].startswith(
        "I understand")
    assert "You resolved the customer's price objection." in card["summary"]


@pytest.mark.parametrize("persona_id", ["sam-price", "derek-tradein", "maria-payment", "tony-competitor"])
@pytest.mark.parametrize("lines", [SAM, DEREK, SAM[:3], ["Hi!", "I hear you, that's a fair point.", "Okay."]])
async def test_every_card_agrees_with_itself(persona_id: str, lines: list[str]) -> None:
    card, _ = await scorecard.build(None, session_of(persona_id), played(persona_id, lines))
    assert_consistent(card)


@pytest.mark.parametrize(("line", "technique"), [
    ("Is this the one you'd want to drive home if the numbers work for you?", "trial_close"),
    ("If the payment came in under $450, would you take it today?", "trial_close"),
    ("How do you feel about the numbers so far?", "trial_close"),
    ("Why don't we book a time on Saturday for you to come back and finalise everything?", "closing_attempt"),
    ("Can I set up a follow-up call with you and your wife for Thursday evening?", "closing_attempt"),
    ("Let's schedule a second test drive for Saturday morning.", "closing_attempt"),
])
def test_trial_closes_and_booking_a_follow_up_are_closing_techniques(line: str, technique: str) -> None:
    assert technique in tagging.techniques(line)


@pytest.mark.parametrize("line", ["What are you driving now?", "I'll send you the brochure.",
                                  "The warranty covers five years.", "Is this the car you saw online?",
                                  "Our Kelley Blue Book value is fair."])
def test_lines_that_ask_for_nothing_are_not_closes(line: str) -> None:
    assert not {"trial_close", "closing_attempt"} & set(tagging.techniques(line))
