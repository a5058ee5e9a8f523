"""The certification board over the real API with real offline sessions: people by stage from
their practice, a sign-off (audited) to certified, moving back only with a note, the rules the
board's drag follows (`moves`), levels by best score, and the certificate as a PDF naming the
person and the programme."""

from __future__ import annotations

import io
from typing import Any

import httpx
from pypdf import PdfReader
from sqlalchemy import select

from server.db.models import AuditAction, AuditEvent, Role
from server.state import AppState
from tests.conftest import Account, World
from tests.test_practice_assignments import due, mine
from tests.test_training_sessions import ASKS, DRILL, PITCHES, end, practise


async def board(client: httpx.AsyncClient, account: Account, program_id: str) -> dict[str, dict[str, Any]]:
    response = await client.get("/api/v1/certifications", headers=account.headers, params={"program_id": program_id})
    assert response.status_code == 200, response.text
    return {card["user_id"]: card for card in response.json()["items"]}


async def move(client: httpx.AsyncClient, admin: Account, person: Account, program_id: str,
               **body: Any) -> httpx.Response:
    return await client.post(f"/api/v1/certifications/{person.id}/{program_id}", headers=admin.headers, json=body)


async def test_the_board_moves_people_by_practice_and_sign_off(client: httpx.AsyncClient, world: World,
                                                              state: AppState) -> None:
    dealership = await world.dealership()
    admin = await world.account(Role.dealership_admin, dealership)
    ready, trying, idle = [await world.account(Role.user, dealership) for _ in range(3)]
    renamed = await client.patch(f"/api/v1/users/{ready.id}", headers=admin.headers, json={"name": "Rosa Diaz"})
    assert renamed.status_code == 200, renamed.text
    program = (await client.post("/api/v1/programs", headers=admin.headers, json={
        "name": "Floor ready: needs analysis", "scenario_ids": [DRILL],
        "levels": {"bronze": 60, "silver": 80, "gold": 95}})).json()
    pid = program["id"]
    await end(client, ready, await practise(client, ready, DRILL, ASKS))
    await end(client, trying, await practise(client, trying, DRILL, PITCHES))

    cards = await board(client, admin, pid)
    assert {u: c["stage"] for u, c in cards.items()} == {
        str(ready.id): "ready_for_review", str(trying.id): "practising", str(idle.id): "not_started"}
    assert cards[str(ready.id)]["level"] == "gold" and cards[str(ready.id)]["scenarios"][0]["passed"] is True
    assert cards[str(idle.id)]["level"] is None
    assert {m["to"] for m in cards[str(ready.id)]["moves"]} == {"certified", "practising"}
    assert cards[str(trying.id)]["moves"] == []

    # Only a person ready for review can be certified; the computed stages are not a manager's to set.
    assert (await move(client, admin, trying, pid, status="certified")).json()["error"]["code"] == "not_ready"
    assert (await move(client, admin, idle, pid, status="ready_for_review")).status_code == 409
    assert (await client.get(f"/api/v1/certifications/{ready.id}/{pid}/certificate",
                             headers=admin.headers)).status_code == 409  # not certified yet

    signed = await move(client, admin, ready, pid, status="certified", note="Watched a live floor session.")
    assert signed.status_code == 200, signed.text
    assert signed.json()["stage"] == "certified" and signed.json()["certified_at"] is not None
    assert (await board(client, admin, pid))[str(ready.id)]["stage"] == "certified"
    async with state.sessionmaker() as db:
        [event] = (await db.execute(select(AuditEvent).where(
            AuditEvent.action == AuditAction.certification_changed))).scalars()
    assert event.actor_id == admin.id and event.subject_id == ready.id and event.dealership_id == dealership
    assert event.detail["from_stage"] == "ready_for_review" and event.detail["to_stage"] == "certified"

    # The certificate: a PDF naming the person, the programme and the level; the person may print their own.
    for account in (admin, ready):
        pdf = await client.get(f"/api/v1/certifications/{ready.id}/{pid}/certificate", headers=account.headers)
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
        assert "Rosa Diaz" in text and "Floor ready: needs analysis" in text and "Gold" in text, text
    assert (await client.get(f"/api/v1/certifications/{ready.id}/{pid}/certificate",
                             headers=trying.headers)).status_code == 404
    # A trainee sees only their own card.
    assert list(await board(client, trying, pid)) == [str(trying.id)]

    # Moving back needs a note; back to practising, only sessions after the move count.
    refused = await move(client, admin, ready, pid, status="practising")
    assert refused.status_code == 422 and refused.json()["error"]["details"][0]["field"] == "note"
    back = await move(client, admin, ready, pid, status="practising", note="Rushed the close on the floor.")
    assert back.status_code == 200, back.text
    assert back.json()["stage"] == "practising" and back.json()["note"] == "Rushed the close on the floor."
    assert (await move(client, admin, ready, pid, status="certified")).status_code == 409
    await end(client, ready, await practise(client, ready, DRILL, ASKS))
    assert (await board(client, admin, pid))[str(ready.id)]["stage"] == "ready_for_review"
    async with state.sessionmaker() as db:
        events = list((await db.execute(select(AuditEvent).where(
            AuditEvent.action == AuditAction.certification_changed))).scalars())
    assert len(events) == 2 and any(e.detail["note"] == "Rushed the close on the floor." for e in events)


async def test_a_programme_assignment_needs_every_scenario(client: httpx.AsyncClient, world: World) -> None:
    dealership = await world.dealership()
    admin = await world.account(Role.dealership_admin, dealership)
    trainee = await world.account(Role.user, dealership)
    program = (await client.post("/api/v1/programs", headers=admin.headers, json={
        "name": "Two", "scenario_ids": [DRILL, "price-objection"]})).json()
    assignment = (await client.post("/api/v1/assignments", headers=admin.headers, json={
        "program_id": program["id"], "due_at": due(), "user_ids": [str(trainee.id)]})).json()
    assert assignment["scenario_ids"] == [DRILL, "price-objection"]
    response = await client.post("/api/v1/chat", headers=trainee.headers, json={
        "mode": "roleplay", "message": "Hi", "assignment_id": assignment["id"]})
    assert response.status_code == 422  # several scenarios: name one
    session_id = None
    for line in ASKS:
        body: dict[str, Any] = {"mode": "roleplay", "message": line}
        body.update({"session_id": session_id} if session_id else {"assignment_id": assignment["id"],
                                                                     "scenario_id": DRILL})
        session_id = (await client.post("/api/v1/chat", headers=trainee.headers, json=body)).json()["session_id"]
    await end(client, trainee, session_id)
    progress = await mine(client, trainee, assignment["id"])
    assert progress["status"] == "in_progress"  # one of two scenarios passed
    assert [s["passed"] for s in progress["scenarios"]] == [True, False]
    assert progress["best_score"] == round(progress["scenarios"][0]["best_score"] / 2, 1)
