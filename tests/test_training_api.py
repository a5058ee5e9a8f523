"""Rubrics and scenarios over REST: built-ins are read-only and copyable, admins write their own,
plain users read their dealership's active scenarios, another dealership's answer 404, and a
scenario names only a persona and rubric that exist for its dealership."""

from __future__ import annotations

from typing import Any

import httpx

from server.db.models import Role
from tests.conftest import World

RUBRIC = {"name": "Our phone-up rubric", "description": "Inbound calls.",
          "criteria": [{"key": "appointment", "label": "Sets the appointment", "scale": "binary", "weight": 2},
                       {"key": "discovery", "label": "Discovery", "scale": "0-3"}]}


def scenario(**overrides: Any) -> dict[str, Any]:
    return {"title": "Payment under $450", "persona_id": "maria-payment", "situation": "2019 trade-in.",
            "objections": ["monthly_payment"], "goal": "Find the payment she can live with.",
            "hidden_facts": [{"key": "budget", "label": "budget", "value": "We need to stay under $450."}],
            "rubric_id": "laer-objections", "pass_score": 60, "time_limit_s": 300, "difficulty": "hard",
            **overrides}


async def test_builtin_rubrics_and_scenarios_are_listed_and_read_only(client: httpx.AsyncClient,
                                                                     world: World) -> None:
    dealership = await world.dealership()
    admin, user = await world.account(Role.dealership_admin, dealership), await world.account(Role.user, dealership)
    rubrics = (await client.get("/api/v1/rubrics", headers=user.headers)).json()["items"]
    ids = {r["id"] for r in rubrics}
    assert {"general-sales", "laer-objections", "needs-analysis", "fi-menu"} <= ids
    general = next(r for r in rubrics if r["id"] == "general-sales")
    assert general["name"] == "General sales conversation" and general["builtin"] is True
    assert [c["key"] for c in general["criteria"]] == ["rapport", "discovery", "objection_handling",
                                                       "value_building", "closing"]
    laer = (await client.get("/api/v1/rubrics/laer-objections", headers=user.headers)).json()
    assert [c["key"] for c in laer["criteria"]] == ["listen", "acknowledge", "explore", "respond", "confirm"]
    scenarios = (await client.get("/api/v1/scenarios", headers=user.headers)).json()["items"]
    builtin = [s for s in scenarios if s["builtin"]]
    assert len(builtin) >= 8
    covered = {o for s in builtin for o in s["objections"]}
    assert covered == {"price", "trade_in", "monthly_payment", "think_about_it", "spouse", "competitor", "fi_products"}
    assert {"needs-analysis-drill", "fi-menu-presentation"} <= {s["id"] for s in builtin}
    for path in ("/api/v1/rubrics/laer-objections", "/api/v1/scenarios/price-objection"):
        patched = await client.patch(path, headers=admin.headers, json={"pass_score": 1} if "scen" in path
                                     else {"name": "Mine"})
        assert patched.status_code == 403 and patched.json()["error"]["code"].startswith("builtin_")
        assert (await client.delete(path, headers=admin.headers)).status_code == 403
    # Copying a built-in is a POST of its fields.
    copy = {k: v for k, v in laer.items() if k not in {"id", "builtin", "dealership_id"}}
    created = await client.post("/api/v1/rubrics", headers=admin.headers, json={**copy, "name": "LAER (ours)"})
    assert created.status_code == 201, created.text
    assert created.json()["builtin"] is False and created.json()["criteria"] == laer["criteria"]
    price = (await client.get("/api/v1/scenarios/price-objection", headers=user.headers)).json()
    copied = await client.post("/api/v1/scenarios", headers=admin.headers, json={
        **{k: v for k, v in price.items() if k not in {"id", "builtin", "dealership_id"}},
        "rubric_id": created.json()["id"]})
    assert copied.status_code == 201, copied.text
    assert copied.json()["hidden_facts"] == price["hidden_facts"]


async def test_rubric_rbac_and_isolation(client: httpx.AsyncClient, world: World) -> None:
    mine, theirs = await world.dealership(), await world.dealership()
    admin, user = await world.account(Role.dealership_admin, mine), await world.account(Role.user, mine)
    outsider = await world.account(Role.dealership_admin, theirs)
    assert (await client.post("/api/v1/rubrics", headers=user.headers, json=RUBRIC)).status_code == 403
    created = await client.post("/api/v1/rubrics", headers=admin.headers, json=RUBRIC)
    assert created.status_code == 201, created.text
    rubric_id = created.json()["id"]
    assert created.json()["dealership_id"] == str(mine)
    assert (await client.get(f"/api/v1/rubrics/{rubric_id}", headers=user.headers)).status_code == 200
    assert rubric_id in {r["id"] for r in (await client.get("/api/v1/rubrics", headers=user.headers)).json()["items"]}
    for method in ("GET", "PATCH", "DELETE"):
        response = await client.request(method, f"/api/v1/rubrics/{rubric_id}", headers=outsider.headers,
                                        json={"name": "Stolen"} if method == "PATCH" else None)
        assert response.status_code == 404, (method, response.text)
    assert rubric_id not in {r["id"] for r in
                             (await client.get("/api/v1/rubrics", headers=outsider.headers)).json()["items"]}
    assert (await client.patch(f"/api/v1/rubrics/{rubric_id}", headers=user.headers,
                               json={"name": "X"})).status_code == 403
    bad = await client.post("/api/v1/rubrics", headers=admin.headers, json={
        **RUBRIC, "criteria": [RUBRIC["criteria"][0], RUBRIC["criteria"][0]]})
    assert bad.status_code == 422
    off_scale = await client.post("/api/v1/rubrics", headers=admin.headers, json={
        **RUBRIC, "criteria": [{"key": "x", "label": "X", "scale": "1-10"}]})
    assert off_scale.status_code == 422
    patched = await client.patch(f"/api/v1/rubrics/{rubric_id}", headers=admin.headers, json={"name": "Phone-ups"})
    assert patched.status_code == 200 and patched.json()["name"] == "Phone-ups"
    assert patched.json()["criteria"] == created.json()["criteria"]
    # In use by a scenario: 409 until the scenario is gone.
    used = await client.post("/api/v1/scenarios", headers=admin.headers, json=scenario(rubric_id=rubric_id))
    assert used.status_code == 201, used.text
    refused = await client.delete(f"/api/v1/rubrics/{rubric_id}", headers=admin.headers)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "rubric_in_use"
    assert (await client.delete(f"/api/v1/scenarios/{used.json()['id']}", headers=admin.headers)).status_code == 204
    assert (await client.delete(f"/api/v1/rubrics/{rubric_id}", headers=admin.headers)).status_code == 204
    assert (await client.get(f"/api/v1/rubrics/{rubric_id}", headers=admin.headers)).status_code == 404
    assert (await client.get("/api/v1/rubrics/not-a-rubric", headers=admin.headers)).status_code == 404


async def test_scenario_rbac_isolation_and_active_only_for_users(client: httpx.AsyncClient, world: World) -> None:
    mine, theirs = await world.dealership(), await world.dealership()
    admin, user = await world.account(Role.dealership_admin, mine), await world.account(Role.user, mine)
    outsider_admin = await world.account(Role.dealership_admin, theirs)
    outsider_user = await world.account(Role.user, theirs)
    assert (await client.post("/api/v1/scenarios", headers=user.headers, json=scenario())).status_code == 403
    created = await client.post("/api/v1/scenarios", headers=admin.headers, json=scenario())
    assert created.status_code == 201, created.text
    body = created.json()
    scenario_id = body["id"]
    assert body["active"] is True and body["time_limit_s"] == 300 and body["builtin"] is False
    assert (await client.get(f"/api/v1/scenarios/{scenario_id}", headers=user.headers)).status_code == 200
    for account in (outsider_admin, outsider_user):
        assert (await client.get(f"/api/v1/scenarios/{scenario_id}", headers=account.headers)).status_code == 404
        listed = (await client.get("/api/v1/scenarios", headers=account.headers)).json()["items"]
        assert scenario_id not in {s["id"] for s in listed}
    assert (await client.patch(f"/api/v1/scenarios/{scenario_id}", headers=outsider_admin.headers,
                               json={"title": "Stolen"})).status_code == 404
    assert (await client.delete(f"/api/v1/scenarios/{scenario_id}",
                                headers=outsider_admin.headers)).status_code == 404
    assert (await client.patch(f"/api/v1/scenarios/{scenario_id}", headers=user.headers,
                               json={"title": "Mine"})).status_code == 403
    # Deactivated: gone for users, still there for admins (and listed on request).
    off = await client.patch(f"/api/v1/scenarios/{scenario_id}", headers=admin.headers,
                             json={"active": False, "time_limit_s": None})
    assert off.status_code == 200 and off.json()["active"] is False and off.json()["time_limit_s"] is None
    assert off.json()["hidden_facts"] == body["hidden_facts"]
    assert (await client.get(f"/api/v1/scenarios/{scenario_id}", headers=user.headers)).status_code == 404
    user_list = (await client.get("/api/v1/scenarios", headers=user.headers,
                                  params={"include_inactive": "true"})).json()["items"]
    assert scenario_id not in {s["id"] for s in user_list}
    admin_list = (await client.get("/api/v1/scenarios", headers=admin.headers,
                                   params={"include_inactive": "true"})).json()["items"]
    assert scenario_id in {s["id"] for s in admin_list}
    assert scenario_id not in {s["id"] for s in (await client.get("/api/v1/scenarios",
                                                                  headers=admin.headers)).json()["items"]}
    assert (await client.get(f"/api/v1/scenarios/{scenario_id}", headers=admin.headers)).status_code == 200
    assert (await client.delete(f"/api/v1/scenarios/{scenario_id}", headers=admin.headers)).status_code == 204
    assert (await client.get(f"/api/v1/scenarios/{scenario_id}", headers=admin.headers)).status_code == 404


async def test_a_scenario_names_a_persona_and_rubric_of_its_dealership(client: httpx.AsyncClient,
                                                                      world: World) -> None:
    mine, theirs = await world.dealership(), await world.dealership()
    admin, outsider = await world.account(Role.dealership_admin, mine), await world.account(Role.dealership_admin,
                                                                                           theirs)
    their_rubric = (await client.post("/api/v1/rubrics", headers=outsider.headers, json=RUBRIC)).json()["id"]
    their_persona = (await client.post("/api/v1/personas", headers=outsider.headers, json={
        "kind": "customer", "name": "Theirs", "objections": ["price"]})).json()["id"]
    cases = [({"persona_id": "nobody"}, "persona_id"), ({"persona_id": their_persona}, "persona_id"),
             ({"persona_id": "adam"}, "persona_id"),  # the trainer does not play a role-play customer
             ({"rubric_id": "no-such-rubric"}, "rubric_id"), ({"rubric_id": their_rubric}, "rubric_id")]
    for change, field in cases:
        response = await client.post("/api/v1/scenarios", headers=admin.headers, json=scenario(**change))
        assert response.status_code == 422, (change, response.text)
        assert field in {d["field"] for d in response.json()["error"]["details"]}, response.text
    bad_fields = [{"pass_score": 101}, {"objections": ["weather"]}, {"time_limit_s": 5},
                  {"hidden_facts": [{"key": "a", "label": "A", "value": "x"},
                                    {"key": "a", "label": "B", "value": "y"}]}]
    for change in bad_fields:
        assert (await client.post("/api/v1/scenarios", headers=admin.headers,
                                  json=scenario(**change))).status_code == 422, change
    own_persona = (await client.post("/api/v1/personas", headers=admin.headers, json={
        "kind": "customer", "name": "Ours", "objections": ["price"]})).json()["id"]
    created = await client.post("/api/v1/scenarios", headers=admin.headers, json=scenario(persona_id=own_persona))
    assert created.status_code == 201, created.text
    moved = await client.patch(f"/api/v1/scenarios/{created.json()['id']}", headers=admin.headers,
                               json={"rubric_id": their_rubric})
    assert moved.status_code == 422


async def test_super_admin_writes_for_a_chosen_dealership(client: httpx.AsyncClient, world: World) -> None:
    dealership = await world.dealership()
    root = await world.root()
    assert (await client.post("/api/v1/scenarios", headers=root.headers, json=scenario())).status_code == 422
    created = await client.post("/api/v1/scenarios", headers=root.headers,
                                json={**scenario(), "dealership_id": str(dealership)})
    assert created.status_code == 201 and created.json()["dealership_id"] == str(dealership)
    user = await world.account(Role.user, dealership)
    assert (await client.get(f"/api/v1/scenarios/{created.json()['id']}", headers=user.headers)).status_code == 200


def test_builtin_rubric_files_match_the_offline_judges_criteria() -> None:
    """The files the API serves and the criteria the offline judge knows how to read are one set."""
    from server.training import catalog, criteria

    files = catalog.builtin_rubrics()
    assert set(files) == set(criteria.BUILTIN_RUBRICS)
    for rubric_id, judged in criteria.BUILTIN_RUBRICS.items():
        served = files[rubric_id]
        assert [(c.key, c.scale, c.weight) for c in served.criteria] == \
            [(c.key, c.scale, c.weight) for c in judged.criteria], rubric_id
    for scenario in catalog.builtin_scenarios().values():
        assert scenario.rubric_id in files and scenario.hidden_facts and scenario.goal and scenario.situation
