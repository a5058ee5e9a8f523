"""The review queue: a flagged session and a trainee's dispute land in it; a manager confirms or
overrides the score (the original kept, audited, insight following) and the trainee sees the
outcome; judge doubts open low-confidence items; isolation and RBAC on every route."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import text

from server.db.models import Role
from server.review.confidence import doubts
from server.state import AppState
from tests.conftest import Account, World
from tests.test_insight import GOOD, PRICE
from tests.test_practice_assignments import assign, mine
from tests.test_training_sessions import ASKS, PITCHES, detail, end, practise


async def queue(client: httpx.AsyncClient, admin: Account, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/reviews", headers=admin.headers, params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def played(client: httpx.AsyncClient, user: Account) -> tuple[str, dict[str, Any]]:
    session_id = await practise(client, user, PRICE, GOOD)
    return session_id, await end(client, user, session_id)


async def test_a_flagged_session_lands_in_the_queue(client: httpx.AsyncClient, world: World) -> None:
    dealer = await world.dealership()
    admin, user = await world.account(Role.dealership_admin, dealer), await world.account(Role.user, dealer)
    response = await client.post("/api/v1/chat", headers=user.headers,
                                 json={"mode": "roleplay", "message": "Shut up, you idiot.", "scenario_id": PRICE})
    assert response.status_code == 200, response.text
    session_id = response.json()["session_id"]
    items = [i for i in await queue(client, admin) if i["reason"] == "flagged"]
    assert [(i["session_id"], i["detail"]["kinds"], i["session_url"]) for i in items] == [
        (session_id, ["abuse"], f"/sessions/{session_id}")]
    assert [i["id"] for i in await queue(client, admin) if i["reason"] == "flagged"] == [items[0]["id"]]  # once
    resolved = await client.post(f"/api/v1/reviews/{items[0]['id']}/resolve", headers=admin.headers,
                                 json={"outcome": "confirmed", "note": "Spoke to them."})
    assert resolved.status_code == 200, resolved.text
    assert not [i for i in await queue(client, admin) if i["reason"] == "flagged"]  # not reopened by the sync
    assert [i["id"] for i in await queue(client, admin, status="resolved")] == [items[0]["id"]]


async def test_dispute_then_confirm_and_override(client: httpx.AsyncClient, world: World, state: AppState) -> None:
    dealer = await world.dealership()
    admin, user = await world.account(Role.dealership_admin, dealer), await world.account(Role.user, dealer)
    first, card = await played(client, user)
    disputed = await client.post(f"/api/v1/sessions/{first}/dispute", headers=user.headers,
                                 json={"reason": "I did acknowledge the price concern."})
    assert disputed.status_code == 201, disputed.text
    assert (await client.post(f"/api/v1/sessions/{first}/dispute", headers=user.headers,
                              json={"reason": "again"})).status_code == 409
    item = next(i for i in await queue(client, admin) if i["reason"] == "dispute")
    assert item["session_id"] == first and item["detail"]["reason"] == "I did acknowledge the price concern."
    assert item["overall_score"] == card["overall"]
    confirmed = await client.post(f"/api/v1/reviews/{item['id']}/resolve", headers=admin.headers,
                                  json={"outcome": "confirmed", "note": "The score stands."})
    assert confirmed.status_code == 200 and confirmed.json()["outcome"] == "confirmed"
    seen = await detail(client, user, first)
    assert seen["overall_score"] == card["overall"]
    assert [(r["reason"], r["status"], r["outcome"], r["note"]) for r in seen["reviews"] if r["reason"] == "dispute"] \
        == [("dispute", "resolved", "confirmed", "The score stands.")]
    assert (await client.post(f"/api/v1/reviews/{item['id']}/resolve", headers=admin.headers,
                              json={"outcome": "confirmed", "note": "x"})).status_code == 409
    # A second session: disputed and overridden.
    second, card2 = await played(client, user)
    assert (await client.post(f"/api/v1/sessions/{second}/dispute", headers=user.headers,
                              json={"reason": "Too low."})).status_code == 201
    item2 = next(i for i in await queue(client, admin) if i["reason"] == "dispute")
    no_scores = await client.post(f"/api/v1/reviews/{item2['id']}/resolve", headers=admin.headers,
                                  json={"outcome": "overridden", "note": "x"})
    assert no_scores.status_code == 422
    bad_key = await client.post(f"/api/v1/reviews/{item2['id']}/resolve", headers=admin.headers,
                                json={"outcome": "overridden", "note": "x", "scores": {"criteria": {"nope": 1}}})
    assert bad_key.status_code == 422
    target = 100 - int(card2["overall"]) if card2["overall"] != 50 else 90
    overridden = await client.post(f"/api/v1/reviews/{item2['id']}/resolve", headers=admin.headers, json={
        "outcome": "overridden", "note": "Handled well.", "scores": {"overall": target}})
    assert overridden.status_code == 200, overridden.text
    assert overridden.json()["original_overall"] == card2["overall"] and overridden.json()["new_overall"] == target
    seen = await detail(client, user, second)
    assert seen["overall_score"] == target and seen["passed"] is (target >= card2["pass_score"])
    assert seen["scorecard"]["original"]["overall"] == card2["overall"]
    assert seen["scorecard"]["review"]["note"] == "Handled well."
    assert [(r["outcome"], r["new_overall"]) for r in seen["reviews"] if r["reason"] == "dispute"] == [
        ("overridden", target)]
    async with state.engine.connect() as conn:
        audits = (await conn.execute(text(
            "SELECT action, detail->>'session_id', detail->>'after' FROM audit_event "
            "WHERE action IN ('session_disputed', 'review_resolved', 'score_overridden') ORDER BY at, action"))).all()
        insight = (await conn.execute(text("SELECT overall FROM session_insight WHERE session_id = :s"),
                                      {"s": uuid.UUID(second)})).scalar_one()
    assert [a for a, _, _ in audits].count("session_disputed") == 2
    assert [(a, s, after) for a, s, after in audits if a == "score_overridden"] == [
        ("score_overridden", second, str(target))]
    assert insight == target


async def test_judge_doubts_open_a_low_confidence_item(client: httpx.AsyncClient, world: World) -> None:
    dealer = await world.dealership()
    admin, user = await world.account(Role.dealership_admin, dealer), await world.account(Role.user, dealer)
    _, card = await played(client, user)
    expected = doubts(card)
    items = [i for i in await queue(client, admin) if i["reason"] == "low_confidence"]
    assert [i["detail"]["doubts"] for i in items] == ([expected] if expected else [])


def test_doubts_rules() -> None:
    base = {"version": 2, "overall": 50, "pass_score": 70, "doubts": [],
            "criteria": [{"key": "a", "score": 1, "max": 5, "evidence": []}]}
    assert doubts(base) == []
    assert doubts({**base, "overall": 69}) == ["at_pass_mark"]
    assert doubts({**base, "overall": 72}) == ["at_pass_mark"]
    assert doubts({**base, "overall": 73}) == []
    assert doubts({**base, "doubts": ["judge_fell_back"]}) == ["judge_fell_back"]
    assert doubts({**base, "criteria": [{"key": "a", "score": 3, "max": 5, "evidence": []}]}) == ["no_evidence"]
    assert doubts({**base, "criteria": [{"key": "a", "score": 1, "max": 1, "evidence": []}]}) == ["no_evidence"]
    assert doubts({**base, "criteria": [{"key": "a", "score": 3, "max": 5,
                                         "evidence": [{"message_id": "m", "quote": "q"}]}]}) == []
    assert doubts({**base, "overall": None}) == [] and doubts(None) == []


async def test_review_isolation_and_rbac(client: httpx.AsyncClient, world: World) -> None:
    dealer, other = await world.dealership(), await world.dealership()
    admin, other_admin = (await world.account(Role.dealership_admin, dealer),
                          await world.account(Role.dealership_admin, other))
    user, colleague = await world.account(Role.user, dealer), await world.account(Role.user, dealer)
    session_id, _ = await played(client, user)
    body = {"reason": "unfair"}
    assert (await client.post(f"/api/v1/sessions/{session_id}/dispute", headers=colleague.headers,
                              json=body)).status_code == 404
    assert (await client.post(f"/api/v1/sessions/{session_id}/dispute", headers=admin.headers,
                              json=body)).status_code == 404  # an admin disputes only their own sessions
    assert (await client.post(f"/api/v1/sessions/{session_id}/dispute", headers=other_admin.headers,
                              json=body)).status_code == 404
    assert (await client.post(f"/api/v1/sessions/{uuid.uuid4()}/dispute", headers=user.headers,
                              json=body)).status_code == 404
    assert (await client.post(f"/api/v1/sessions/{session_id}/dispute", headers=user.headers,
                              json=body)).status_code == 201
    active = await client.post("/api/v1/chat", headers=user.headers,
                               json={"mode": "roleplay", "message": "Hi there", "scenario_id": PRICE})
    assert (await client.post(f"/api/v1/sessions/{active.json()['session_id']}/dispute", headers=user.headers,
                              json=body)).status_code == 409  # not scored yet
    item = next(i for i in await queue(client, admin) if i["reason"] == "dispute")
    # The colleague sees neither the queue nor the dispute on the session.
    assert (await client.get("/api/v1/reviews", headers=colleague.headers)).status_code == 403
    assert (await client.get("/api/v1/reviews", headers=user.headers)).status_code == 403
    assert (await client.get(f"/api/v1/sessions/{session_id}", headers=colleague.headers)).status_code == 404
    assert (await client.get("/api/v1/reviews")).status_code == 401
    assert await queue(client, other_admin) == []
    for path in (f"/api/v1/reviews/{item['id']}", f"/api/v1/reviews/{item['id']}/resolve"):
        method = client.get if path.endswith(item["id"]) else client.post
        kwargs: dict[str, Any] = {} if method == client.get else {"json": {"outcome": "confirmed", "note": "x"}}
        assert (await method(path, headers=other_admin.headers, **kwargs)).status_code == 404
        assert (await method(path, headers=user.headers, **kwargs)).status_code in (403, 404)
    assert (await client.post(f"/api/v1/reviews/{item['id']}/resolve", headers=user.headers,
                              json={"outcome": "overridden", "note": "mine", "scores": {"overall": 100}})
            ).status_code == 403
    root = await world.root()
    assert [i["id"] for i in await queue(client, root, dealership_id=str(dealer)) if i["reason"] == "dispute"] == [
        item["id"]]
    assert (await client.get(f"/api/v1/reviews/{item['id']}", headers=admin.headers)).status_code == 200



async def test_an_override_moves_the_assignment_it_counted_towards(client: httpx.AsyncClient, world: World) -> None:
    """A manager's score is the verdict for the assignment too: raising a failed attempt to a pass
    passes the assignment; lowering the only passing attempt takes the pass back, while a lowered
    attempt beside a pass leaves it."""
    dealer = await world.dealership()
    admin, user = await world.account(Role.dealership_admin, dealer), await world.account(Role.user, dealer)
    assignment = await assign(client, admin, user_ids=[str(user.id)])

    async def attempt(lines: list[str]) -> tuple[str, dict[str, Any]]:
        response = await client.post("/api/v1/chat", headers=user.headers,
                                     json={"mode": "roleplay", "message": lines[0], "assignment_id": assignment["id"]})
        assert response.status_code == 200, response.text
        session_id = response.json()["session_id"]
        for line in lines[1:]:
            response = await client.post("/api/v1/chat", headers=user.headers,
                                         json={"mode": "roleplay", "message": line, "session_id": session_id})
            assert response.status_code == 200, response.text
        return session_id, await end(client, user, session_id)

    async def override(session_id: str, overall: int) -> None:
        disputed = await client.post(f"/api/v1/sessions/{session_id}/dispute", headers=user.headers,
                                     json={"reason": "Please look again."})
        assert disputed.status_code == 201, disputed.text
        item = next(i for i in await queue(client, admin) if i["session_id"] == session_id and i["reason"] == "dispute")
        response = await client.post(f"/api/v1/reviews/{item['id']}/resolve", headers=admin.headers, json={
            "outcome": "overridden", "note": "Rescored.", "scores": {"overall": overall}})
        assert response.status_code == 200, response.text

    first, card = await attempt(PITCHES)
    assert card["passed"] is False and (await mine(client, user, assignment["id"]))["status"] == "failed"
    await override(first, 95)
    raised = await mine(client, user, assignment["id"])
    assert raised["status"] == "passed" and raised["passed_at"] is not None
    assert raised["attempts"] == 1 and raised["best_score"] == raised["latest_score"] == 95

    second, _ = await attempt(PITCHES)
    await override(second, 10)  # a lowered attempt beside the pass: the pass stands
    kept = await mine(client, user, assignment["id"])
    assert kept["status"] == "passed" and kept["attempts"] == 2
    assert (kept["best_score"], kept["latest_score"], kept["passed_at"]) == (95, 10, raised["passed_at"])

    third, card3 = await attempt(ASKS)
    assert card3["passed"] is True
    # The first attempt's pass is taken back: the third's own pass keeps the assignment passed.
    await override(first, 20)
    again = await mine(client, user, assignment["id"])
    assert again["status"] == "passed" and again["best_score"] == round(card3["overall"], 1)
    await override(third, 30)  # now no attempt passes: the assignment is not passed any more
    taken = await mine(client, user, assignment["id"])
    assert taken["status"] == "failed" and taken["passed_at"] is None and taken["best_score"] == 30
