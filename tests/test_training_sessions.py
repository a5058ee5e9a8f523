"""Practising a scenario end to end with the offline engine, over the real API: the session keeps
a frozen copy, the customer reveals hidden facts only when asked (tagged per turn), and the
version 2 scorecard passes a trainee who asks and fails one who only pitches, quoting only the
trainee's own words."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import text

from server.db.models import Role
from server.state import AppState
from tests.conftest import Account, World

DRILL = "needs-analysis-drill"
ASKS = [
    "Hi Grace, welcome in! What brings you in today?",
    "What kind of monthly budget do you have in mind?",
    "Do you have a car to trade in?",
    "Who else will be involved in the decision?",
    "How will you mostly use the car, what does your daily drive look like?",
    "And what is your timeline, when do you need the car by?",
    "So if I understand, around three fifty a month, no trade, mostly highway commuting. Shall we look at the hybrid?",
]
PITCHES = [
    "Hi Grace, this hybrid hatchback is our best seller.",
    "It gets fifty miles per gallon and has a five-year warranty.",
    "The price is great right now with rebates included.",
    "Let's get you signed today, it's the best deal in town.",
]


async def practise(client: httpx.AsyncClient, account: Account, scenario_id: str, lines: list[str],
                   **extra: Any) -> str:
    session_id: str | None = None
    for line in lines:
        body: dict[str, Any] = {"mode": "roleplay", "message": line, **extra}
        body.update({"session_id": session_id} if session_id else {"scenario_id": scenario_id})
        response = await client.post("/api/v1/chat", headers=account.headers, json=body)
        assert response.status_code == 200, response.text
        assert response.json()["scenario_id"] == scenario_id
        session_id = response.json()["session_id"]
    assert session_id is not None
    return session_id


async def end(client: httpx.AsyncClient, account: Account, session_id: str) -> dict[str, Any]:
    response = await client.post(f"/api/v1/sessions/{session_id}/end", headers=account.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def detail(client: httpx.AsyncClient, account: Account, session_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/sessions/{session_id}", headers=account.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def assert_quotes_verbatim(card: dict[str, Any], messages: list[dict[str, Any]]) -> int:
    mine = {m["id"]: m["text"] for m in messages if m["role"] == "user"}
    count = 0
    for criterion in card["criteria"]:
        for item in criterion["evidence"]:
            assert item["message_id"] in mine, item
            assert item["quote"] in mine[item["message_id"]], item
            count += 1
    return count


async def test_a_trainee_who_asks_uncovers_the_facts_and_passes(client: httpx.AsyncClient, world: World) -> None:
    user = await world.account(Role.user, await world.dealership())
    session_id = await practise(client, user, DRILL, ASKS)
    card = await end(client, user, session_id)
    assert card["version"] == 2 and card["scenario_id"] == DRILL and card["rubric_id"] == "needs-analysis"
    assert card["generated_by"] == "offline"
    assert card["passed"] is True and card["overall"] >= card["pass_score"] == 70, card
    uncovered = {f["key"] for f in card["facts"] if f["uncovered"]}
    assert {"budget", "trade_in", "decision_maker", "usage"} <= uncovered, card["facts"]
    messages = (await detail(client, user, session_id))["messages"]
    by_id = {m["id"]: m for m in messages}
    for fact in card["facts"]:
        if fact["uncovered"]:
            revealing = by_id[fact["message_id"]]
            assert revealing["role"] == "assistant" and fact["key"] in revealing["tags"]["facts_revealed"]
            assert fact["turn"] is not None and 1 <= fact["turn"] <= len(ASKS)
    assert all("facts_revealed" in m["tags"] for m in messages if m["role"] == "assistant")
    assert assert_quotes_verbatim(card, messages) > 0
    assert {c["key"] for c in card["criteria"]} == {"open_questions", "budget", "usage", "timeline",
                                                    "decision_maker", "trade_in", "summarise"}
    assert all(0 <= c["score"] <= c["max"] and c["reason"] for c in card["criteria"])
    # Today's fields are still there for the clients that read them.
    assert {"scores", "objections", "talk_ratio", "talk_words", "turns"} <= set(card)
    assert card["talk_ratio"] is not None
    listed = (await client.get("/api/v1/sessions", headers=user.headers,
                               params={"scenario_id": DRILL})).json()["items"]
    assert [s["id"] for s in listed] == [session_id]
    assert listed[0]["scenario_title"] == "Needs analysis drill" and listed[0]["passed"] is True
    assert listed[0]["overall_score"] == card["overall"]


async def test_a_trainee_who_only_pitches_uncovers_nothing_and_fails(client: httpx.AsyncClient,
                                                                    world: World) -> None:
    user = await world.account(Role.user, await world.dealership())
    session_id = await practise(client, user, DRILL, PITCHES)
    card = await end(client, user, session_id)
    assert card["passed"] is False and card["overall"] < card["pass_score"], card
    assert not any(f["uncovered"] for f in card["facts"]) and len(card["facts"]) == 5
    assert card["goal_met"] is False
    messages = (await detail(client, user, session_id))["messages"]
    assert all(m["tags"]["facts_revealed"] == [] for m in messages if m["role"] == "assistant")
    assert_quotes_verbatim(card, messages)


async def test_the_session_keeps_a_frozen_copy(client: httpx.AsyncClient, world: World) -> None:
    dealership = await world.dealership()
    admin, user = await world.account(Role.dealership_admin, dealership), await world.account(Role.user, dealership)
    drill = (await client.get(f"/api/v1/scenarios/{DRILL}", headers=admin.headers)).json()
    created = await client.post("/api/v1/scenarios", headers=admin.headers, json={
        **{k: v for k, v in drill.items() if k not in {"id", "builtin", "dealership_id"}}, "title": "Our drill"})
    assert created.status_code == 201, created.text
    scenario_id = created.json()["id"]
    session_id = await practise(client, user, scenario_id, ASKS[:4])
    # Edited mid-session: a pass mark nobody reaches, the facts renamed, another rubric.
    edited = await client.patch(f"/api/v1/scenarios/{scenario_id}", headers=admin.headers, json={
        "pass_score": 100, "rubric_id": "laer-objections", "title": "Renamed",
        "hidden_facts": [{"key": "other", "label": "other", "value": "Something else entirely."}]})
    assert edited.status_code == 200, edited.text
    await practise(client, user, scenario_id, ASKS[4:], session_id=session_id)
    card = await end(client, user, session_id)
    assert card["pass_score"] == 70 and card["rubric_id"] == "needs-analysis" and card["passed"] is True
    assert card["scenario_title"] == "Our drill" and "other" not in {f["key"] for f in card["facts"]}
    stored = await detail(client, user, session_id)
    assert stored["scenario"]["spec"]["title"] == "Our drill" and stored["scenario"]["rubric_id"] == "needs-analysis"
    # Edited (and deleted) afterwards: the scorecard stays as it was.
    await client.patch(f"/api/v1/scenarios/{scenario_id}", headers=admin.headers, json={"pass_score": 10})
    assert (await client.delete(f"/api/v1/scenarios/{scenario_id}", headers=admin.headers)).status_code == 204
    again = await detail(client, user, session_id)
    assert again["scorecard"] == stored["scorecard"] and again["scorecard"]["overall"] == card["overall"]
    assert again["scenario"] == stored["scenario"]


async def test_starting_a_scenario_is_scoped(client: httpx.AsyncClient, world: World) -> None:
    mine, theirs = await world.dealership(), await world.dealership()
    admin, user = await world.account(Role.dealership_admin, mine), await world.account(Role.user, mine)
    outsider = await world.account(Role.user, theirs)
    drill = (await client.get(f"/api/v1/scenarios/{DRILL}", headers=admin.headers)).json()
    own = (await client.post("/api/v1/scenarios", headers=admin.headers, json={
        **{k: v for k, v in drill.items() if k not in {"id", "builtin", "dealership_id"}}})).json()["id"]

    async def start(account: Account, **body: Any) -> httpx.Response:
        return await client.post("/api/v1/chat", headers=account.headers,
                                 json={"mode": "roleplay", "message": "Hello there, what brings you in?", **body})

    assert (await start(outsider, scenario_id=own)).status_code == 404
    assert (await start(user, scenario_id="no-such-scenario")).status_code == 404
    assert (await start(user, scenario_id=DRILL, mode="training")).status_code == 422
    await client.patch(f"/api/v1/scenarios/{own}", headers=admin.headers, json={"active": False})
    assert (await start(user, scenario_id=own)).status_code == 404
    # With a persona of the caller's choosing, the scenario still frames the session.
    other = await start(user, scenario_id=DRILL, persona_id="sam-price")
    assert other.status_code == 200 and other.json()["persona_id"] == "sam-price"
    assert other.json()["scenario_id"] == DRILL
    # Continuing with another scenario than the session's is refused.
    session_id = other.json()["session_id"]
    assert (await start(user, session_id=session_id, scenario_id="price-objection")).status_code == 422


async def test_a_time_limited_scenario_refuses_turns_once_the_limit_passed(client: httpx.AsyncClient,
                                                                           world: World, state: AppState) -> None:
    user = await world.account(Role.user, await world.dealership())
    session_id = await practise(client, user, "price-objection", ["Hi Sam, what brings you in today?"])
    limit = (await client.get("/api/v1/scenarios/price-objection", headers=user.headers)).json()["time_limit_s"]
    assert limit == 600
    await practise(client, user, "price-objection", ["What matters most to you in the SUV?"], session_id=session_id)
    async with state.engine.begin() as conn:  # the session began longer ago than its limit
        await conn.execute(text("UPDATE conversation_session SET started_at = now() - make_interval(secs => :s) "
                                "WHERE id = :id"), {"s": limit + 1, "id": session_id})
    refused = await client.post("/api/v1/chat", headers=user.headers, json={
        "mode": "roleplay", "message": "What budget do you have in mind?", "session_id": session_id})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "time_limit_reached", refused.text
    card = await end(client, user, session_id)
    assert card["turns"] == 4 and card["version"] == 2


async def test_a_session_without_a_scenario_is_judged_under_the_general_rubric(client: httpx.AsyncClient,
                                                                               world: World) -> None:
    user = await world.account(Role.user, await world.dealership())
    session_id: str | None = None
    for line in ["Hi Sam, welcome in! What brings you in today?",
                 "I understand. The mid trim includes the safety package and a five-year warranty, real value.",
                 "Would that work for you if the numbers fit? Let's get the paperwork started."]:
        body: dict[str, Any] = {"mode": "roleplay", "persona_id": "sam-price", "message": line}
        if session_id:
            body["session_id"] = session_id
        response = await client.post("/api/v1/chat", headers=user.headers, json=body)
        assert response.status_code == 200 and response.json()["scenario_id"] is None
        session_id = response.json()["session_id"]
    assert session_id is not None
    card = await end(client, user, session_id)
    assert card["version"] == 2 and card["rubric_id"] == "general-sales" and card["scenario_id"] is None
    assert [c["key"] for c in card["criteria"]] == [s["dimension"] for s in card["scores"]]
    pairs = zip(card["criteria"], card["scores"], strict=True)
    assert all(c["score"] == s["score"] and c["max"] == 5 for c, s in pairs)
    assert card["overall"] == round(100 * sum(s["score"] - 1 for s in card["scores"]) / (4 * len(card["scores"])))
    assert card["legacy_overall"] == round(sum(s["score"] for s in card["scores"]) / len(card["scores"]), 2)
    assert card["passed"] == (card["overall"] >= 70) and card["facts"] == []
    assert_quotes_verbatim(card, (await detail(client, user, session_id))["messages"])
