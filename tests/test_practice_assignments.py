"""Assignments over the real API with real offline sessions: a trainee's progress goes not
started -> in progress -> failed -> passed (the best score kept after a worse attempt), reminders
go out once before the due date and overdue work is marked (the sweep's clock injected), and
every route keeps to its dealership and role."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from server.db.models import Role
from server.mail.models import OutboxMessage
from server.practice import reminders
from server.state import AppState
from tests.conftest import Account, World
from tests.test_training_sessions import ASKS, DRILL, PITCHES, end

LEAD = timedelta(hours=24)


def due(days: float = 3) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


async def assign(client: httpx.AsyncClient, admin: Account, **body: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/assignments", headers=admin.headers,
                                 json={"scenario_id": DRILL, "due_at": due(), **body})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def practise(client: httpx.AsyncClient, account: Account, assignment_id: str, lines: list[str],
                   **extra: Any) -> dict[str, Any]:
    session_id: str | None = None
    for line in lines:
        body: dict[str, Any] = {"mode": "roleplay", "message": line, **extra}
        body.update({"session_id": session_id} if session_id else {"assignment_id": assignment_id})
        response = await client.post("/api/v1/chat", headers=account.headers, json=body)
        assert response.status_code == 200, response.text
        assert response.json()["assignment_id"] == assignment_id
        session_id = response.json()["session_id"]
    assert session_id is not None
    return await end(client, account, session_id)


async def mine(client: httpx.AsyncClient, account: Account, assignment_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/assignments/{assignment_id}", headers=account.headers)
    assert response.status_code == 200, response.text
    [progress] = response.json()["progress"]
    assert progress["user_id"] == str(account.id)
    return dict(progress)


async def sweep(state: AppState, now: datetime) -> reminders.Swept:
    async with state.sessionmaker() as db, db.begin():
        return await reminders.sweep(db, state.mail, now, lead=LEAD, public_url="http://web.test")


async def test_an_assignment_goes_from_not_started_to_passed_keeping_the_best_score(
        client: httpx.AsyncClient, world: World) -> None:
    dealership = await world.dealership()
    admin = await world.account(Role.dealership_admin, dealership)
    trainee = await world.account(Role.user, dealership)
    assignment = await assign(client, admin, user_ids=[str(trainee.id)], min_attempts=2)
    assert (await mine(client, trainee, assignment["id"]))["status"] == "not_started"

    failed = await practise(client, trainee, assignment["id"], PITCHES)
    assert failed["passed"] is False
    first = await mine(client, trainee, assignment["id"])
    assert first["status"] == "in_progress" and first["attempts"] == 1
    assert first["best_score"] == first["latest_score"] == first["first_score"] == round(failed["overall"], 1)

    await practise(client, trainee, assignment["id"], PITCHES)
    assert (await mine(client, trainee, assignment["id"]))["status"] == "failed"  # both attempts, no pass

    passed = await practise(client, trainee, assignment["id"], ASKS)
    assert passed["passed"] is True
    after_pass = await mine(client, trainee, assignment["id"])
    assert after_pass["status"] == "passed" and after_pass["passed_at"] is not None
    assert after_pass["best_score"] == round(passed["overall"], 1) > after_pass["first_score"]

    await practise(client, trainee, assignment["id"], PITCHES)  # a worse attempt afterwards
    final = await mine(client, trainee, assignment["id"])
    assert final["status"] == "passed" and final["attempts"] == 4
    assert final["best_score"] == round(passed["overall"], 1)
    assert final["latest_score"] == round(failed["overall"], 1) == final["first_score"]
    assert final["passed_at"] == after_pass["passed_at"]

    # The admin's view lists the person with the same progress and counts by status.
    detail = (await client.get(f"/api/v1/assignments/{assignment['id']}", headers=admin.headers)).json()
    assert detail["counts"]["passed"] == 1 and detail["progress"][0]["best_score"] == final["best_score"]


async def test_the_assignments_pass_mark_overrides_the_scenarios(client: httpx.AsyncClient, world: World) -> None:
    dealership = await world.dealership()
    admin = await world.account(Role.dealership_admin, dealership)
    trainee = await world.account(Role.user, dealership)
    strict = await assign(client, admin, user_ids=[str(trainee.id)], pass_score=95)
    card = await practise(client, trainee, strict["id"], ASKS[:-1])  # no summary at the end
    assert card["passed"] is True and card["pass_score"] <= card["overall"] < 95  # the scenario's mark, not this
    assert (await mine(client, trainee, strict["id"]))["status"] == "failed"
    lenient = await assign(client, admin, user_ids=[str(trainee.id)], pass_score=80)
    await practise(client, trainee, lenient["id"], ASKS[:-1])
    assert (await mine(client, trainee, lenient["id"]))["status"] == "passed"


async def test_reminders_go_once_before_the_due_date_and_overdue_work_is_marked(
        client: httpx.AsyncClient, world: World, state: AppState) -> None:
    dealership = await world.dealership()
    admin = await world.account(Role.dealership_admin, dealership)
    late, done = [await world.account(Role.user, dealership) for _ in range(2)]
    assignment = await assign(client, admin, user_ids=[str(late.id), str(done.id)], due_at=due(2))
    await practise(client, done, assignment["id"], ASKS)
    due_at = datetime.fromisoformat(assignment["due_at"])

    assert await sweep(state, datetime.now(UTC)) == reminders.Swept(0, 0)  # not within a day yet
    assert await sweep(state, due_at - timedelta(hours=12)) == reminders.Swept(reminded=1, overdue=0)
    assert await sweep(state, due_at - timedelta(hours=1)) == reminders.Swept(0, 0)  # once per person
    async with state.sessionmaker() as db:
        sent = list((await db.execute(select(OutboxMessage).where(
            OutboxMessage.template == "assignment_reminder"))).scalars())
    assert [m.to for m in sent] == [late.email]  # the one who passed is not reminded
    assert sent[0].idempotency_key == f"assignment-reminder:{assignment['id']}:{late.id}"
    assert "Needs Analysis" in sent[0].text or "needs" in sent[0].text.lower()
    assert f"http://web.test/?assignment={assignment['id']}" in sent[0].text
    assert (await mine(client, late, assignment["id"]))["status"] == "not_started"

    assert await sweep(state, due_at + timedelta(hours=1)) == reminders.Swept(reminded=0, overdue=1)
    assert await sweep(state, due_at + timedelta(hours=2)) == reminders.Swept(0, 0)
    assert (await mine(client, late, assignment["id"]))["status"] == "overdue"
    assert (await mine(client, done, assignment["id"]))["status"] == "passed"
    listed = await client.get("/api/v1/assignments", headers=admin.headers, params={"status": "overdue"})
    assert [a["id"] for a in listed.json()["items"]] == [assignment["id"]]


async def test_a_team_assignment_reaches_its_members_and_a_trainee_sees_only_their_own(
        client: httpx.AsyncClient, world: World) -> None:
    dealership = await world.dealership()
    admin = await world.account(Role.dealership_admin, dealership)
    one, two, outsider = [await world.account(Role.user, dealership) for _ in range(3)]
    team = await client.post("/api/v1/teams", headers=admin.headers,
                             json={"name": "Floor", "member_ids": [str(one.id), str(two.id)]})
    assert team.status_code == 201, team.text
    assignment = await assign(client, admin, team_id=team.json()["id"])
    assert {p["user_id"] for p in assignment["progress"]} == {str(one.id), str(two.id)}
    assert assignment["team_id"] == team.json()["id"]

    own = (await client.get("/api/v1/assignments", headers=one.headers)).json()
    assert [a["id"] for a in own["items"]] == [assignment["id"]]
    assert [p["user_id"] for p in own["items"][0]["progress"]] == [str(one.id)]
    # The user filter is an admin's: a trainee asking for someone else still sees only their own.
    asked = await client.get("/api/v1/assignments", headers=one.headers, params={"user_id": str(two.id)})
    assert [p["user_id"] for p in asked.json()["items"][0]["progress"]] == [str(one.id)]
    assert (await client.get("/api/v1/assignments", headers=outsider.headers)).json()["items"] == []
    assert (await client.get(f"/api/v1/assignments/{assignment['id']}", headers=outsider.headers)).status_code == 404
    by_team = await client.get("/api/v1/assignments", headers=admin.headers, params={"team_id": team.json()["id"]})
    assert [a["id"] for a in by_team.json()["items"]] == [assignment["id"]]
    by_user = await client.get("/api/v1/assignments", headers=admin.headers, params={"user_id": str(outsider.id)})
    assert by_user.json()["items"] == []


async def test_a_session_counts_only_for_an_assignee_and_an_assigned_scenario(
        client: httpx.AsyncClient, world: World) -> None:
    dealership = await world.dealership()
    admin = await world.account(Role.dealership_admin, dealership)
    trainee, other = [await world.account(Role.user, dealership) for _ in range(2)]
    assignment = await assign(client, admin, user_ids=[str(trainee.id)])

    async def start(account: Account, **body: Any) -> httpx.Response:
        return await client.post("/api/v1/chat", headers=account.headers,
                                 json={"mode": "roleplay", "message": "Hello there", **body})

    assert (await start(other, assignment_id=assignment["id"])).status_code == 404
    assert (await start(trainee, assignment_id=str(uuid.uuid4()))).status_code == 404
    wrong = await start(trainee, assignment_id=assignment["id"], scenario_id="price-objection")
    assert wrong.status_code == 422, wrong.text
    assert (await start(trainee, assignment_id=assignment["id"], scenario_id=DRILL)).status_code == 200

    withdrawn = await client.delete(f"/api/v1/assignments/{assignment['id']}", headers=admin.headers)
    assert withdrawn.status_code == 204
    assert (await start(trainee, assignment_id=assignment["id"])).status_code == 404
    assert (await client.get(f"/api/v1/assignments/{assignment['id']}", headers=admin.headers)).status_code == 404
    assert (await client.get("/api/v1/assignments", headers=trainee.headers)).json()["items"] == []


async def test_practice_routes_keep_to_their_dealership_and_role(client: httpx.AsyncClient, world: World) -> None:
    home, away = await world.dealership(), await world.dealership()
    admin = await world.account(Role.dealership_admin, home)
    trainee = await world.account(Role.user, home)
    stranger = await world.account(Role.dealership_admin, away)
    stranger_trainee = await world.account(Role.user, away)
    team = (await client.post("/api/v1/teams", headers=admin.headers,
                              json={"name": "A", "member_ids": [str(trainee.id)]})).json()
    program = (await client.post("/api/v1/programs", headers=admin.headers,
                                 json={"name": "Basics", "scenario_ids": [DRILL]})).json()
    assignment = await assign(client, admin, user_ids=[str(trainee.id)])

    # A trainee writes nothing and reads no teams.
    for method, path, body in [
        ("POST", "/api/v1/teams", {"name": "B", "member_ids": []}),
        ("PATCH", f"/api/v1/teams/{team['id']}", {"name": "C"}),
        ("DELETE", f"/api/v1/teams/{team['id']}", None),
        ("POST", "/api/v1/programs", {"name": "P", "scenario_ids": [DRILL]}),
        ("PATCH", f"/api/v1/programs/{program['id']}", {"name": "Q"}),
        ("DELETE", f"/api/v1/programs/{program['id']}", None),
        ("POST", "/api/v1/assignments", {"scenario_id": DRILL, "due_at": due(), "user_ids": [str(trainee.id)]}),
        ("DELETE", f"/api/v1/assignments/{assignment['id']}", None),
        ("POST", f"/api/v1/certifications/{trainee.id}/{program['id']}", {"status": "certified", "note": None}),
        ("GET", "/api/v1/teams", None),
    ]:
        response = await client.request(method, path, headers=trainee.headers, json=body)
        assert response.status_code == 403, (method, path, response.text)
    # Another dealership's admin (and trainee) finds none of it.
    for account in (stranger, stranger_trainee):
        for method, path, body in [
            ("PATCH", f"/api/v1/teams/{team['id']}", {"name": "C"}),
            ("DELETE", f"/api/v1/teams/{team['id']}", None),
            ("GET", f"/api/v1/programs/{program['id']}", None),
            ("PATCH", f"/api/v1/programs/{program['id']}", {"name": "Q"}),
            ("DELETE", f"/api/v1/programs/{program['id']}", None),
            ("GET", f"/api/v1/assignments/{assignment['id']}", None),
            ("DELETE", f"/api/v1/assignments/{assignment['id']}", None),
            ("GET", f"/api/v1/certifications?program_id={program['id']}", None),
            ("POST", f"/api/v1/certifications/{trainee.id}/{program['id']}", {"status": "certified"}),
            ("GET", f"/api/v1/certifications/{trainee.id}/{program['id']}/certificate", None),
        ]:
            response = await client.request(method, path, headers=account.headers, json=body)
            assert response.status_code == 404, (account.role, method, path, response.text)
    for path in ("/api/v1/teams", "/api/v1/programs", "/api/v1/assignments"):
        listed = await client.get(path, headers=stranger.headers)
        assert listed.status_code == 200 and listed.json()["items"] == [], path
    # Another dealership's people and scenarios cannot be put into this one's teams or assignments.
    assert (await client.post("/api/v1/teams", headers=stranger.headers,
                              json={"name": "X", "member_ids": [str(trainee.id)]})).status_code == 422
    assert (await client.post("/api/v1/assignments", headers=stranger.headers, json={
        "scenario_id": DRILL, "due_at": due(), "user_ids": [str(trainee.id)]})).status_code == 422
    assert (await client.post("/api/v1/assignments", headers=stranger.headers, json={
        "program_id": program["id"], "due_at": due(), "user_ids": [str(stranger_trainee.id)]})).status_code == 422
    assert (await client.post("/api/v1/assignments", headers=stranger.headers, json={
        "scenario_id": DRILL, "due_at": due(), "team_id": team["id"]})).status_code == 422
    # A past due date, or neither people nor a team, is refused.
    assert (await client.post("/api/v1/assignments", headers=admin.headers, json={
        "scenario_id": DRILL, "due_at": due(-1), "user_ids": [str(trainee.id)]})).status_code == 422
    assert (await client.post("/api/v1/assignments", headers=admin.headers, json={
        "scenario_id": DRILL, "due_at": due()})).status_code == 422
