"""The practice events as webhooks: `assignment.passed` when a real offline session passes an
assignment, `assignment.overdue` when the sweep (its clock injected) finds one past due, and
`scorecard.ready` again (with `review_id`) when a manager's review overrides a score, each
delivered signed to a loopback receiver."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from standardwebhooks.webhooks import Webhook
from starlette.applications import Starlette

from server.db.models import Role
from server.settings import Settings
from tests.conftest import World
from tests.test_practice_assignments import assign, practise, sweep
from tests.test_training_sessions import ASKS, DRILL, end
from tests.test_training_sessions import practise as training_practise

# `receiver` is test_webhooks' fixture (a loopback receiver), imported so pytest finds it here.
from tests.test_webhooks import Receiver, hook_app, hook_settings, receiver, register, until  # noqa: F401


async def test_assignment_passed_and_overdue_reach_the_receiver(
        app: Starlette, database_url: str, settings: Settings, receiver: tuple[Receiver, str]) -> None:  # noqa: F811
    target, url = receiver
    async with hook_app(hook_settings(database_url, settings)) as (state, client):
        world = World(client, state)
        dealership = await world.dealership()
        admin = await world.account(Role.dealership_admin, dealership)
        trainee, late = await world.account(Role.user, dealership), await world.account(Role.user, dealership)
        hook = await register(client, admin.headers, url, ["assignment.passed", "assignment.overdue"])
        passing = await assign(client, admin, user_ids=[str(trainee.id)])
        assert (await practise(client, trainee, passing["id"], ASKS))["passed"] is True
        await until(lambda: len(target.hits) == 1)
        passed = json.loads(target.hits[0].body)
        assert passed["type"] == "assignment.passed" and passed["dealership_id"] == str(dealership)
        assert (passed["data"]["assignment_id"], passed["data"]["user_id"]) == (passing["id"], str(trainee.id))
        assert passed["data"]["best_score"] is not None and passed["data"]["passed_at"]

        lagging = await assign(client, admin, user_ids=[str(late.id)])
        await sweep(state, datetime.now(UTC) + timedelta(days=4))
        await until(lambda: len(target.hits) == 2)
        overdue = json.loads(target.hits[1].body)
        assert overdue["type"] == "assignment.overdue"
        assert (overdue["data"]["assignment_id"], overdue["data"]["user_id"]) == (lagging["id"], str(late.id))
        for hit in target.hits:
            Webhook(hook["secret"]).verify(hit.body, hit.headers)


async def test_an_overridden_score_is_sent_again_with_its_review(
        app: Starlette, database_url: str, settings: Settings, receiver: tuple[Receiver, str]) -> None:  # noqa: F811
    target, url = receiver
    async with hook_app(hook_settings(database_url, settings)) as (state, client):
        world = World(client, state)
        dealership = await world.dealership()
        admin = await world.account(Role.dealership_admin, dealership)
        trainee = await world.account(Role.user, dealership)
        hook = await register(client, admin.headers, url, ["scorecard.ready"])
        session_id = await training_practise(client, trainee, DRILL, ASKS)
        card = await end(client, trainee, session_id)
        await until(lambda: len(target.hits) == 1)
        assert (await client.post(f"/api/v1/sessions/{session_id}/dispute", headers=trainee.headers,
                                  json={"reason": "Too low."})).status_code == 201
        items = (await client.get("/api/v1/reviews", headers=admin.headers)).json()["items"]
        item = next(i for i in items if i["session_id"] == session_id)
        target_score = 40 if card["overall"] > 50 else 90
        resolved = await client.post(f"/api/v1/reviews/{item['id']}/resolve", headers=admin.headers, json={
            "outcome": "overridden", "note": "Rescored.", "scores": {"overall": target_score}})
        assert resolved.status_code == 200, resolved.text
        await until(lambda: len(target.hits) == 2)
        first, again = (json.loads(hit.body) for hit in target.hits)
        assert first["data"]["overall"] == card["overall"] and "review_id" not in first["data"]
        assert again["type"] == "scorecard.ready" and again["data"]["session_id"] == session_id
        assert (again["data"]["overall"], again["data"]["review_id"]) == (target_score, item["id"])
        assert again["data"]["passed"] is (target_score >= card["pass_score"])
        for hit in target.hits:
            Webhook(hook["secret"]).verify(hit.body, hit.headers)
