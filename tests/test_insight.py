"""Team insight (GET /insights/team and its CSV) from sessions played through the real offline
flow and from directly seeded summary rows: heatmap by objection type, first attempt versus best,
practice time per week, the leaderboard and its dealership switch, team and date filters, CSV
content and formula-injection safety, isolation and RBAC."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text

from server.db.models import Role
from server.state import AppState
from tests.conftest import Account, World
from tests.test_training_sessions import end, practise

PRICE = "price-objection"
GOOD = [
    "Hi Sam, welcome in! What brings you in today?",
    "I hear you, price matters. What number did you have in mind, and what are you comparing it with?",
    "That makes sense. This trim includes the safety package and a five-year warranty, so the value is there.",
    "If we can get the total where you need it, would you be ready to move forward today?",
]
PITCH = ["Hi, this car is great.", "It has a warranty.", "Let's sign today."]


async def insight(client: httpx.AsyncClient, account: Account, path: str = "/api/v1/insights/team",
                  **params: Any) -> httpx.Response:
    return await client.get(path, headers=account.headers, params={k: v for k, v in params.items() if v is not None})


async def test_insight_from_real_offline_sessions(client: httpx.AsyncClient, world: World) -> None:
    dealer = await world.dealership()
    admin = await world.account(Role.dealership_admin, dealer)
    ann, bob = await world.account(Role.user, dealer), await world.account(Role.user, dealer)
    cards: dict[uuid.UUID, list[float]] = {ann.id: [], bob.id: []}
    for account, scripts in ((ann, [PITCH, GOOD]), (bob, [GOOD, PITCH, GOOD])):
        for lines in scripts:
            card = await end(client, account, await practise(client, account, PRICE, lines))
            cards[account.id].append(float(card["overall"]))
    response = await insight(client, admin)
    assert response.status_code == 200, response.text
    data = response.json()
    heat = {(c["user_id"], c["objection"]): c for c in data["heatmap"]}
    assert set(heat) == {(str(ann.id), "price"), (str(bob.id), "price")}
    for user_id, scores in cards.items():
        cell = heat[(str(user_id), "price")]
        assert cell["sessions"] == len(scores)
        assert cell["best"] == max(scores) and cell["average"] == round(sum(scores) / len(scores), 1)
    firsts = {f["user_id"]: f for f in data["first_vs_best"]}
    assert firsts[str(ann.id)]["first"] == cards[ann.id][0] and firsts[str(ann.id)]["best"] == max(cards[ann.id])
    assert firsts[str(bob.id)]["attempts"] == 3 and firsts[str(bob.id)]["practice_key"] == PRICE
    assert firsts[str(bob.id)]["first"] == cards[bob.id][0] and cards[bob.id][0] > cards[bob.id][1]
    assert sum(w["sessions"] for w in data["practice_weeks"]) == 5
    assert data["leaderboard_enabled"] is True
    board = data["leaderboard"]
    assert [e["rank"] for e in board] == [1, 2]
    averages = {uid: sum(s) / len(s) for uid, s in cards.items()}
    assert board[0]["user_id"] == str(max(averages, key=lambda u: averages[u]))


async def seed(state: AppState, dealer: uuid.UUID, user: uuid.UUID, *, started: datetime, overall: float | None,
               objections: list[str], seconds: int, key: str = "price-objection", label: str = "Price") -> None:
    session_id = uuid.uuid4()
    async with state.engine.begin() as conn:
        await conn.execute(text(
            "INSERT INTO conversation_session (id, dealership_id, user_id, mode, channel, persona_id, persona, status,"
            " started_at) VALUES (:id, :d, :u, 'roleplay', 'text', 'sam-price', '{}', 'ended', :s)"),
            {"id": session_id, "d": dealer, "u": user, "s": started})
        await conn.execute(text(
            "INSERT INTO session_insight (session_id, dealership_id, user_id, practice_key, practice_label, objections,"
            " started_at, duration_s, overall, passed) VALUES (:id, :d, :u, :k, :l, :o, :s, :sec, :ov, :p)"),
            {"id": session_id, "d": dealer, "u": user, "k": key, "l": label, "o": objections, "s": started,
             "sec": seconds, "ov": overall, "p": None if overall is None else overall >= 70})


async def test_insight_numbers_from_seeded_rows(client: httpx.AsyncClient, world: World, state: AppState) -> None:
    dealer = await world.dealership()
    admin = await world.account(Role.dealership_admin, dealer)
    ann, bob = await world.account(Role.user, dealer), await world.account(Role.user, dealer)
    monday = datetime(2026, 11, 2, 9, tzinfo=UTC)
    await seed(state, dealer, ann.id, started=monday, overall=40, objections=["price", "spouse"], seconds=600)
    await seed(state, dealer, ann.id, started=monday + timedelta(days=2), overall=80, objections=["price"],
               seconds=300)
    await seed(state, dealer, ann.id, started=monday + timedelta(days=7), overall=None, objections=[], seconds=120)
    await seed(state, dealer, bob.id, started=monday + timedelta(days=8), overall=90, objections=["trade_in"],
               seconds=900, key="trade-in-objection", label="Trade-in")
    data = (await insight(client, admin)).json()
    heat = {(c["user_id"], c["objection"]): (c["average"], c["best"], c["sessions"]) for c in data["heatmap"]}
    assert heat == {(str(ann.id), "price"): (60.0, 80.0, 2), (str(ann.id), "spouse"): (40.0, 40.0, 1),
                    (str(bob.id), "trade_in"): (90.0, 90.0, 1)}
    assert [(f["user_id"], f["first"], f["best"], f["attempts"]) for f in data["first_vs_best"]
            if f["user_id"] == str(ann.id)] == [(str(ann.id), 40.0, 80.0, 2)]
    weeks = [(w["week_start"][:10], w["seconds"], w["sessions"], w["people"]) for w in data["practice_weeks"]]
    assert weeks == [("2026-11-02", 900, 2, 1), ("2026-11-09", 1020, 2, 2)]
    assert [(e["rank"], e["user_id"], e["average"]) for e in data["leaderboard"]] == [
        (1, str(bob.id), 90.0), (2, str(ann.id), 60.0)]
    # Date range: the second week only.
    ranged = (await insight(client, admin, **{"from": "2026-11-09T00:00:00Z", "to": "2026-11-16T00:00:00Z"})).json()
    assert [w["week_start"][:10] for w in ranged["practice_weeks"]] == ["2026-11-09"]
    assert {c["user_id"] for c in ranged["heatmap"]} == {str(bob.id)}
    assert ranged["from"].startswith("2026-11-09")
    # Team filter: only Bob.
    team = await client.post("/api/v1/teams", headers=admin.headers,
                             json={"name": "Closers", "member_ids": [str(bob.id)]})
    assert team.status_code == 201, team.text
    only_bob = (await insight(client, admin, team_id=team.json()["id"])).json()
    assert {p["user_id"] for p in only_bob["people"]} == {str(bob.id)}
    # The dealership switches the leaderboard off: the rest stays.
    patched = await client.patch(f"/api/v1/dealerships/{dealer}", headers=admin.headers,
                                 json={"settings": {"leaderboard_enabled": False}})
    assert patched.status_code == 200 and patched.json()["settings"]["leaderboard_enabled"] is False
    off = (await insight(client, admin)).json()
    assert off["leaderboard_enabled"] is False and off["leaderboard"] is None and off["heatmap"]
    assert "Leaderboard" not in (await insight(client, admin, "/api/v1/insights/team.csv")).text


async def test_csv_has_every_section_and_defuses_formulas(client: httpx.AsyncClient, world: World,
                                                          state: AppState) -> None:
    dealer = await world.dealership()
    admin = await world.account(Role.dealership_admin, dealer)
    evil = await world.account(Role.user, dealer)
    async with state.engine.begin() as conn:
        await conn.execute(text("UPDATE app_user SET name = :n WHERE id = :id"),
                           {"n": "=HYPERLINK(\"http://x\")", "id": evil.id})
    monday = datetime(2026, 11, 2, 9, tzinfo=UTC)
    await seed(state, dealer, evil.id, started=monday, overall=75, objections=["price"], seconds=1200,
               label="@SUM(A1:A9)")
    response = await insight(client, admin, "/api/v1/insights/team.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    cells = [cell for row in rows for cell in row]
    for title in ("Heatmap", "First attempt vs best", "Practice time per week", "People", "Leaderboard"):
        assert [title] in rows, title
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells), cells
    assert "'=HYPERLINK(\"http://x\")" in cells and "'@SUM(A1:A9)" in cells
    heat_row = rows[rows.index(["Heatmap"]) + 2]
    assert heat_row == ["'=HYPERLINK(\"http://x\")", str(evil.id), "price", "75.0", "75.0", "1"]
    week_row = rows[rows.index(["Practice time per week"]) + 2]
    assert week_row == ["2026-11-02", "20.0", "1", "1"]


async def test_insight_isolation_and_rbac(client: httpx.AsyncClient, world: World, state: AppState) -> None:
    dealer, other = await world.dealership(), await world.dealership()
    admin, other_admin = (await world.account(Role.dealership_admin, dealer),
                          await world.account(Role.dealership_admin, other))
    user = await world.account(Role.user, dealer)
    await seed(state, dealer, user.id, started=datetime(2026, 11, 2, tzinfo=UTC), overall=50, objections=["price"],
               seconds=60)
    team = (await client.post("/api/v1/teams", headers=admin.headers, json={"name": "A", "member_ids": []})).json()
    for path in ("/api/v1/insights/team", "/api/v1/insights/team.csv"):
        assert (await insight(client, user, path)).status_code == 403
        assert (await client.get(path)).status_code == 401
        # Another dealership's admin sees only their own (empty) dealership, whatever id is sent.
        theirs = await insight(client, other_admin, path, dealership_id=str(dealer))
        assert theirs.status_code == 200 and str(user.id) not in theirs.text
        assert (await insight(client, other_admin, path, team_id=team["id"])).status_code == 404
        assert (await insight(client, admin, path, team_id=str(uuid.uuid4()))).status_code == 404
        root = await world.root()
        assert (await insight(client, root, path)).status_code == 422  # a super admin names the dealership
        assert str(user.id) in (await insight(client, root, path, dealership_id=str(dealer))).text
        assert (await insight(client, root, path, dealership_id=str(other), team_id=team["id"])).status_code == 404
        bad = await insight(client, admin, path, **{"from": "2026-11-09T00:00:00Z", "to": "2026-11-01T00:00:00Z"})
        assert bad.status_code == 422
    # Only an admin edits the leaderboard switch.
    refused = await client.patch(f"/api/v1/dealerships/{dealer}", headers=user.headers,
                                 json={"settings": {"leaderboard_enabled": False}})
    assert refused.status_code == 403


async def test_the_migration_backfills_sessions_ended_before_it(client: httpx.AsyncClient, world: World,
                                                               state: AppState) -> None:
    import importlib.util

    from tests.conftest import ROOT

    spec = importlib.util.spec_from_file_location("m0012", ROOT / "alembic" / "versions" / "0012_insight.py")
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    dealer = await world.dealership()
    user = await world.account(Role.user, dealer)
    card = await end(client, user, await practise(client, user, PRICE, GOOD))
    row = text("SELECT objections, overall, practice_key, duration_s FROM session_insight")
    async with state.engine.begin() as conn:
        written = (await conn.execute(row)).one()
        await conn.execute(text("DELETE FROM session_insight"))
        await conn.execute(migration.BACKFILL)
        backfilled = (await conn.execute(row)).one()
    assert tuple(backfilled) == tuple(written) == (["price"], card["overall"], PRICE, written[3])
