"""Chat, sessions, scorecards, reports and usage through the real app (offline engine)."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.db.models import Role
from server.settings import Settings
from tests.conftest import World, another_instance
from tests.conversation_support import GUIDE_MD, SAM, assert_consistent, named, parse_sse
from tests.fixtures.make_documents import docx_bytes
from tests.rag_support import ingest

SSE = {"Accept": "text/event-stream"}


async def chat(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> httpx.Response:
    return await client.post("/api/v1/chat", headers=headers, json={"mode": "training", **body})


async def test_training_chat_keeps_the_history_on_the_server(client: httpx.AsyncClient, world: World) -> None:
    user = await world.account(Role.user, await world.dealership())
    first = await chat(client, user.headers, message="The customer says the payment is too high.")
    assert first.status_code == 200, first.text
    data = first.json()
    assert data["offline"] is True and data["persona_id"] == "adam" and data["response"]
    assert data["sources"] == [] and data["usage"]["estimated"] is True
    second = await chat(client, user.headers, message="And if they want to think about it?",
                        session_id=data["session_id"])
    assert second.status_code == 200 and second.json()["session_id"] == data["session_id"]
    detail = (await client.get(f"/api/v1/sessions/{data['session_id']}", headers=user.headers)).json()
    assert [(m["role"], m["seq"]) for m in detail["messages"]] == [
        ("user", 1), ("assistant", 2), ("user", 3), ("assistant", 4)]
    answer = detail["messages"][1]
    assert answer["id"] == data["message_id"] and answer["text"] == data["response"]
    assert answer["timings"]["ttft_ms"] > 0 and answer["timings"]["total_ms"] >= answer["timings"]["ttft_ms"]
    assert answer["model"] == "offline" and answer["offline"] is True


async def test_sse_streams_deltas_then_sources_then_done(client: httpx.AsyncClient, world: World) -> None:
    user = await world.account(Role.user, await world.dealership())
    response = await client.post("/api/v1/chat", headers={**user.headers, **SSE},
                                 json={"mode": "training", "message": "How do I handle a competitor's quote?"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text)
    names = [name for name, _ in events]
    assert names[-2:] == ["sources", "done"] and set(names[:-2]) == {"delta"} and len(names) > 3
    done = events[-1][1]
    assert set(done) >= {"message_id", "session_id", "usage"} and done["offline"] is True
    text = "".join(data["text"] for name, data in events if name == "delta")
    detail = (await client.get(f"/api/v1/sessions/{done['session_id']}", headers=user.headers)).json()
    assert detail["messages"][-1]["text"] == text and detail["messages"][-1]["id"] == done["message_id"]


@pytest.mark.parametrize("message", ["", "   \n ", "x" * 5001])
async def test_empty_or_oversize_messages_are_rejected(client: httpx.AsyncClient, world: World, message: str) -> None:
    user = await world.account(Role.user, await world.dealership())
    response = await chat(client, user.headers, message=message)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "message"
    assert (await client.get("/api/v1/sessions", headers=user.headers)).json()["total"] == 0


async def test_sessions_of_other_users_and_dealerships_answer_404(client: httpx.AsyncClient, world: World) -> None:
    dealer, other_dealer = await world.dealership(), await world.dealership()
    alice = await world.account(Role.user, dealer)
    bob = await world.account(Role.user, dealer)
    admin = await world.account(Role.dealership_admin, dealer)
    stranger = await world.account(Role.dealership_admin, other_dealer)
    session_id = (await chat(client, alice.headers, message="Hello Adam")).json()["session_id"]
    for intruder in (bob, stranger):
        assert (await chat(client, intruder.headers, message="hi", session_id=session_id)).status_code == 404
        assert (await client.get(f"/api/v1/sessions/{session_id}", headers=intruder.headers)).status_code == 404
    assert (await client.get(f"/api/v1/sessions/{session_id}", headers=admin.headers)).status_code == 200


async def test_an_ended_session_answers_409(client: httpx.AsyncClient, world: World) -> None:
    user = await world.account(Role.user, await world.dealership())
    session_id = (await chat(client, user.headers, message="Hello Adam")).json()["session_id"]
    assert (await client.post(f"/api/v1/sessions/{session_id}/end", headers=user.headers)).status_code == 200
    again = await chat(client, user.headers, message="one more", session_id=session_id)
    assert again.status_code == 409 and again.json()["error"]["code"] == "session_ended"
    assert (await client.post(f"/api/v1/sessions/{session_id}/end", headers=user.headers)).status_code == 409


async def test_roleplay_without_a_persona_uses_the_dealership_default(client: httpx.AsyncClient,
                                                                      world: World) -> None:
    dealership = await world.dealership()
    user = await world.account(Role.user, dealership)
    first = await chat(client, user.headers, mode="roleplay", message="Hi")
    assert first.status_code == 200 and first.json()["persona_id"] == "grace-firsttime"
    root = await world.root()
    set_default = await client.patch(f"/api/v1/dealerships/{dealership}", headers=root.headers,
                                     json={"settings": {"default_persona": "tony-competitor"}})
    assert set_default.status_code == 200
    second = await chat(client, user.headers, mode="roleplay", message="Hi")
    assert second.status_code == 200 and second.json()["persona_id"] == "tony-competitor"
    assert (await chat(client, user.headers, mode="roleplay", message="Hi", persona_id="adam")).status_code == 422
    assert (await chat(client, user.headers, mode="roleplay", message="Hi", persona_id="nobody")).status_code == 404


async def test_roleplay_session_ends_with_a_scorecard(client: httpx.AsyncClient, world: World) -> None:
    user = await world.account(Role.user, await world.dealership())
    lines = [
        "Hi, welcome in! My name is Jo. What brings you in today?",
        "I totally understand. This SUV includes a five-year warranty and great resale value. "
        "If we could make the numbers work, would that work for you?",
        "That makes sense, it's a big decision. Many customers felt the same, and the value here saves you money "
        "over time. Does that help?",
        "Great, let's get the paperwork started.",
        "I hear you. The warranty gives you real peace of mind, so shall we get you started today?",
    ]
    session_id = None
    replies = []
    for line in lines:
        response = await chat(client, user.headers, mode="roleplay", persona_id="sam-price", message=line,
                              session_id=session_id)
        assert response.status_code == 200, response.text
        session_id = response.json()["session_id"]
        replies.append(response.json()["response"])
    assert replies[0].startswith("Hi there.")
    card = (await client.post(f"/api/v1/sessions/{session_id}/end", headers=user.headers)).json()
    assert card["generated_by"] == "offline" and card["mode"] == "roleplay"
    scores = {s["dimension"]: s for s in card["scores"]}
    assert set(scores) == {"rapport", "discovery", "objection_handling", "value_building", "closing"}
    assert all(1 <= s["score"] <= 5 for s in scores.values())
    assert scores["rapport"]["evidence"] == "Hi, welcome in!"
    assert scores["closing"]["evidence"] == "If we could make the numbers work, would that work for you?"
    assert scores["closing"]["score"] >= 3 and scores["discovery"]["evidence"] == "What brings you in today?"
    assert "let's do it" in replies[-1].lower()
    assert card["objections"]["raised"] == ["price", "think_about_it"]
    assert card["objections"]["resolved"] == ["price", "think_about_it"]
    assert 0 < card["talk_ratio"] < 1 and card["longest_monologue"]["words"] > 10
    assert card["words_per_minute"] is None  # a text session
    detail = (await client.get(f"/api/v1/sessions/{session_id}", headers=user.headers)).json()
    assert detail["status"] == "ended" and detail["scorecard"] == card
    assert "greeting_rapport" in detail["messages"][0]["tags"]["techniques"]
    assert detail["messages"][3]["tags"]["objection"] == "price"


async def test_session_listing_is_scoped_and_filtered(client: httpx.AsyncClient, world: World) -> None:
    dealer, other_dealer = await world.dealership(), await world.dealership()
    alice = await world.account(Role.user, dealer)
    bob = await world.account(Role.user, dealer)
    admin = await world.account(Role.dealership_admin, dealer)
    outsider = await world.account(Role.dealership_admin, other_dealer)
    await chat(client, alice.headers, message="Hello Adam")
    await chat(client, alice.headers, mode="roleplay", persona_id="tony-competitor", message="Hi!")
    await chat(client, bob.headers, message="Hello Adam")

    async def listed(account: Any, **params: str) -> list[dict[str, Any]]:
        response = await client.get("/api/v1/sessions", headers=account.headers, params=params)
        assert response.status_code == 200, response.text
        return list(response.json()["items"])

    assert {s["user_id"] for s in await listed(alice)} == {str(alice.id)}
    assert len(await listed(alice)) == 2 and len(await listed(bob)) == 1
    assert len(await listed(admin)) == 3 and await listed(outsider) == []
    assert [s["persona_name"] for s in await listed(admin, mode="roleplay")] == ["Tony Russo"]
    assert len(await listed(admin, user_id=str(bob.id))) == 1
    assert len(await listed(admin, persona_id="adam")) == 2
    assert await listed(admin, since="2999-01-01T00:00:00Z") == []
    root = await world.root()
    assert len(await listed(root, dealership_id=str(dealer))) == 3
    # Who practised: the dealership dashboard names the salesperson of each session.
    renamed = await client.patch(f"/api/v1/users/{bob.id}", headers=admin.headers, json={"name": "Bob Seller"})
    assert renamed.status_code == 200, renamed.text
    assert {s["user_id"]: s["user_name"] for s in await listed(admin)} == {str(alice.id): "user",
                                                                          str(bob.id): "Bob Seller"}
    bobs = (await listed(bob))[0]
    detail = (await client.get(f"/api/v1/sessions/{bobs['id']}", headers=bob.headers)).json()
    assert detail["user_name"] == "Bob Seller"


async def test_training_answers_cite_only_the_callers_dealership(client: httpx.AsyncClient, world: World) -> None:
    mine, theirs = await world.dealership(), await world.dealership()
    my_admin = await world.account(Role.dealership_admin, mine)
    their_admin = await world.account(Role.dealership_admin, theirs)
    ours = await ingest(client, my_admin, "payment-playbook.txt", (
        b"When the monthly payment is too high, offer a longer term or a bigger down payment "
        b"before discussing price.\n"))
    await ingest(client, their_admin, "secret-margins.txt",
                 b"When the monthly payment is too high, cut our margin to zero.\n")
    user = await world.account(Role.user, mine)
    response = await chat(client, user.headers, message="What do I say when the monthly payment is too high?")
    data = response.json()
    assert [s["filename"] for s in data["sources"]] == ["payment-playbook.txt"]
    assert data["sources"][0]["document_id"] == ours["id"] and "longer term" in data["sources"][0]["excerpt"]
    assert "[payment-playbook.txt]" in data["response"] and "margin" not in data["response"]
    stored = (await client.get(f"/api/v1/sessions/{data['session_id']}", headers=user.headers)).json()
    assert stored["messages"][1]["sources"][0]["document_id"] == ours["id"]


async def test_reports_are_recorded_and_resolved_by_the_dealerships_admin(client: httpx.AsyncClient,
                                                                          world: World) -> None:
    dealer, other_dealer = await world.dealership(), await world.dealership()
    user = await world.account(Role.user, dealer)
    admin = await world.account(Role.dealership_admin, dealer)
    outsider = await world.account(Role.dealership_admin, other_dealer)
    data = (await chat(client, user.headers, message="What is our trade-in policy?")).json()
    body = {"session_id": data["session_id"], "message_id": data["message_id"], "reason": "Wrong policy quoted"}
    created = await client.post("/api/v1/reports", headers=user.headers, json=body)
    assert created.status_code == 201, created.text
    report = created.json()
    assert report["status"] == "open" and report["message_text"] == data["response"]
    user_message = {**body, "message_id": data["user_message_id"]}
    assert (await client.post("/api/v1/reports", headers=user.headers, json=user_message)).status_code == 422
    assert (await client.post("/api/v1/reports", headers=outsider.headers, json=body)).status_code == 404
    assert (await client.get("/api/v1/reports", headers=user.headers)).status_code == 403
    listed = (await client.get("/api/v1/reports", headers=admin.headers, params={"status": "open"})).json()
    assert [r["id"] for r in listed["items"]] == [report["id"]]
    # Who reported what, in which session: named for the reviewer.
    session = (await client.get(f"/api/v1/sessions/{data['session_id']}", headers=user.headers)).json()
    assert listed["items"][0]["reporter_name"] == "user" and report["reporter_name"] == "user"
    assert listed["items"][0]["persona_name"] == session["persona_name"] != ""
    assert listed["items"][0]["message_text"] == data["response"]
    assert (await client.get("/api/v1/reports", headers=outsider.headers)).json()["total"] == 0
    path = f"/api/v1/reports/{report['id']}"
    assert (await client.patch(path, headers=outsider.headers, json={"status": "resolved"})).status_code == 404
    resolved = await client.patch(path, headers=admin.headers, json={"status": "resolved", "resolution": "Fixed doc"})
    assert resolved.status_code == 200
    assert resolved.json()["resolved_by"] == str(admin.id) and resolved.json()["status"] == "resolved"


async def test_usage_totals_per_dealership(client: httpx.AsyncClient, world: World) -> None:
    dealer, other_dealer = await world.dealership(), await world.dealership()
    user = await world.account(Role.user, dealer)
    admin = await world.account(Role.dealership_admin, dealer)
    outsider = await world.account(Role.user, other_dealer)
    await chat(client, user.headers, message="Hello Adam")
    await chat(client, outsider.headers, message="Hello Adam")
    usage = (await client.get("/api/v1/usage", headers=admin.headers)).json()
    assert [item["dealership_id"] for item in usage["items"]] == [str(dealer)]
    assert usage["totals"]["sessions"] == 1 and usage["totals"]["messages"] == 2
    assert usage["totals"]["answers"] == 1 and usage["totals"]["completion_tokens"] > 0
    assert (await client.get("/api/v1/usage", headers=user.headers)).status_code == 403
    everything = (await client.get("/api/v1/usage", headers=(await world.root()).headers)).json()
    assert everything["totals"]["sessions"] == 2


async def test_abusive_turns_flag_the_session(client: httpx.AsyncClient, world: World) -> None:
    dealer = await world.dealership()
    user = await world.account(Role.user, dealer)
    admin = await world.account(Role.dealership_admin, dealer)
    await chat(client, user.headers, message="Hello Adam")
    data = (await chat(client, user.headers, message="This is useless, you stupid bot")).json()
    flagged = (await client.get("/api/v1/sessions", headers=admin.headers, params={"flagged": "true"})).json()
    assert [s["id"] for s in flagged["items"]] == [data["session_id"]]
    detail = (await client.get(f"/api/v1/sessions/{data['session_id']}", headers=admin.headers)).json()
    assert [f["kind"] for f in detail["flags"]] == ["abuse"]
    assert detail["flags"][0]["message_id"] == data["user_message_id"]


async def test_dealership_personas(client: httpx.AsyncClient, world: World) -> None:
    dealer, other_dealer = await world.dealership(), await world.dealership()
    admin = await world.account(Role.dealership_admin, dealer)
    user = await world.account(Role.user, dealer)
    outsider = await world.account(Role.user, other_dealer)
    spec = {"kind": "customer", "name": "Fleet Frank", "difficulty": "hard", "vehicle": "five work vans",
            "budget": "$200k", "objections": ["price", "competitor"], "opening_line": "I need five vans, fast."}
    assert (await client.post("/api/v1/personas", headers=user.headers, json=spec)).status_code == 403
    assert (await client.post("/api/v1/personas", headers=admin.headers,
                              json={**spec, "objections": ["rudeness"]})).status_code == 422
    created = await client.post("/api/v1/personas", headers=admin.headers, json=spec)
    assert created.status_code == 201, created.text
    persona_id = created.json()["id"]
    names = [p["name"] for p in (await client.get("/api/v1/personas", headers=user.headers)).json()["items"]]
    assert "Adam" in names and "Fleet Frank" in names and len(names) >= 7
    outsider_list = (await client.get("/api/v1/personas", headers=outsider.headers)).json()["items"]
    outsider_names = [p["name"] for p in outsider_list]
    assert "Fleet Frank" not in outsider_names
    assert (await client.get(f"/api/v1/personas/{persona_id}", headers=outsider.headers)).status_code == 404
    foreign = await chat(client, outsider.headers, mode="roleplay", persona_id=persona_id, message="Hi")
    assert foreign.status_code == 404
    # A role-play with the new persona: the offline customer follows its objections (generic lines).
    first = await chat(client, user.headers, mode="roleplay", persona_id=persona_id, message="Hello!")
    assert first.json()["response"] == "I need five vans, fast."
    second = await chat(client, user.headers, mode="roleplay", persona_id=persona_id, message="Okay.",
                        session_id=first.json()["session_id"])
    assert "expensive" in second.json()["response"] or "price" in second.json()["response"].lower()
    patched = await client.patch(f"/api/v1/personas/{persona_id}", headers=admin.headers,
                                 json={"difficulty": "easy", "active": False})
    assert patched.status_code == 200 and patched.json()["difficulty"] == "easy" and not patched.json()["active"]
    assert (await chat(client, user.headers, mode="roleplay", persona_id=persona_id, message="Hi")).status_code == 404
    assert (await client.patch("/api/v1/personas/adam", headers=admin.headers, json={"name": "X"})).status_code == 403
    assert (await client.delete(f"/api/v1/personas/{persona_id}", headers=admin.headers)).status_code == 204
    assert (await client.get(f"/api/v1/personas/{persona_id}", headers=admin.headers)).status_code == 404
    # The session keeps its copy of the persona.
    kept = await client.get(f"/api/v1/sessions/{first.json()['session_id']}", headers=user.headers)
    assert kept.json()["persona"]["name"] == "Fleet Frank"


async def test_builtin_persona_disabled_for_one_dealership(client: httpx.AsyncClient, world: World) -> None:
    dealer, other_dealer = await world.dealership(), await world.dealership()
    admin = await world.account(Role.dealership_admin, dealer)
    user = await world.account(Role.user, dealer)
    outsider = await world.account(Role.user, other_dealer)
    root = await world.root()
    kept = await chat(client, user.headers, mode="roleplay", persona_id="sam-price", message="Hello!")
    assert kept.status_code == 200
    # Only `active` may change on a built-in; anything else stays refused, as does a plain user.
    for refused in ({"name": "X"}, {"active": False, "name": "X"}):
        response = await client.patch("/api/v1/personas/sam-price", headers=admin.headers, json=refused)
        assert response.status_code == 403 and response.json()["error"]["code"] == "builtin_persona"
    assert (await client.patch("/api/v1/personas/sam-price", headers=user.headers,
                               json={"active": False})).status_code == 403
    assert (await client.delete("/api/v1/personas/sam-price", headers=admin.headers)).status_code == 403
    disabled = await client.patch("/api/v1/personas/sam-price", headers=admin.headers, json={"active": False})
    assert disabled.status_code == 200 and disabled.json()["active"] is False and disabled.json()["builtin"]

    async def listed(account_headers: dict[str, str], **params: str) -> dict[str, bool]:
        response = await client.get("/api/v1/personas", headers=account_headers, params=params)
        assert response.status_code == 200, response.text
        return {p["id"]: p["active"] for p in response.json()["items"]}

    assert "sam-price" not in await listed(user.headers)
    assert "sam-price" not in await listed(user.headers, include_inactive="true")
    assert (await listed(admin.headers, include_inactive="true"))["sam-price"] is False
    assert (await listed(outsider.headers))["sam-price"] is True
    assert (await listed(root.headers, include_inactive="true", dealership_id=str(dealer)))["sam-price"] is False
    assert (await client.get("/api/v1/personas/sam-price", headers=admin.headers)).json()["active"] is False
    # New sessions with it are refused clearly; the session already started goes on; others are unaffected.
    refused = await chat(client, user.headers, mode="roleplay", persona_id="sam-price", message="Hi")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "persona_disabled"
    assert "disabled" in refused.json()["error"]["message"]
    assert (await chat(client, root.headers, mode="roleplay", persona_id="sam-price", message="Hi",
                       dealership_id=str(dealer))).status_code == 409
    assert (await chat(client, user.headers, mode="roleplay", message="And the price?",
                       session_id=kept.json()["session_id"])).status_code == 200
    assert (await chat(client, outsider.headers, mode="roleplay", persona_id="sam-price",
                       message="Hi")).status_code == 200
    # A super admin names the dealership; re-enabling restores it.
    assert (await client.patch("/api/v1/personas/sam-price", headers=root.headers,
                               json={"active": True})).status_code == 422
    enabled = await client.patch("/api/v1/personas/sam-price", headers=root.headers,
                                 json={"active": True, "dealership_id": str(dealer)})
    assert enabled.status_code == 200 and enabled.json()["active"] is True
    assert (await chat(client, user.headers, mode="roleplay", persona_id="sam-price", message="Hi")).status_code == 200
    # Editing other dealership settings keeps the list.
    await client.patch("/api/v1/personas/adam", headers=admin.headers, json={"active": False})
    assert (await client.patch(f"/api/v1/dealerships/{dealer}", headers=admin.headers,
                               json={"settings": {"record_audio": True}})).status_code == 200
    assert (await chat(client, user.headers, message="Hi")).status_code == 409


@pytest.mark.e2e
async def test_a_disabled_persona_reaches_another_instance_within_the_cache_ttl(
    client: httpx.AsyncClient, world: World, settings: Settings, database_url: str, tmp_path: Path,
) -> None:
    ttl = 1.0
    with another_instance(settings, database_url, tmp_path, PRINCIPAL_CACHE_SECONDS=str(ttl), OPENAI_API_KEY="",
                          RATE_LIMIT_CHAT="10000/minute") as other:
        dealer = await world.dealership()
        admin, user = await world.account(Role.dealership_admin, dealer), await world.account(Role.user, dealer)
        async with httpx.AsyncClient(base_url=other.url, timeout=10) as remote:
            assert (await chat(remote, user.headers, message="Hi")).status_code == 200  # remembered over there
            disabled = await client.patch("/api/v1/personas/adam", headers=admin.headers, json={"active": False})
            assert disabled.status_code == 200
            changed_at = time.monotonic()
            while (response := await chat(remote, user.headers, message="Hi")).status_code == 200:
                assert time.monotonic() - changed_at < ttl + 2.0, "the other instance kept starting sessions"
                await asyncio.sleep(0.05)
            assert response.status_code == 409 and response.json()["error"]["code"] == "persona_disabled"


async def test_a_disabled_default_persona_falls_back_to_an_enabled_customer(client: httpx.AsyncClient,
                                                                          world: World) -> None:
    dealer = await world.dealership()
    admin = await world.account(Role.dealership_admin, dealer)
    user = await world.account(Role.user, dealer)
    assert (await client.patch(f"/api/v1/dealerships/{dealer}", headers=admin.headers,
                               json={"settings": {"default_persona": "tony-competitor"}})).status_code == 200
    for persona_id in ("tony-competitor", "grace-firsttime"):
        await client.patch(f"/api/v1/personas/{persona_id}", headers=admin.headers, json={"active": False})
    started = await chat(client, user.headers, mode="roleplay", message="Hi")
    assert started.status_code == 200
    fallback = started.json()["persona_id"]
    assert fallback not in {"tony-competitor", "grace-firsttime", "adam"}
    customers = [p["id"] for p in (await client.get("/api/v1/personas", headers=admin.headers,
                                                      params={"kind": "customer"})).json()["items"]]
    assert fallback in customers
    for persona_id in customers:
        await client.patch(f"/api/v1/personas/{persona_id}", headers=admin.headers, json={"active": False})
    none_left = await chat(client, user.headers, mode="roleplay", message="Hi")
    assert none_left.status_code == 409 and none_left.json()["error"]["code"] == "persona_disabled"


async def test_super_admin_chats_for_a_chosen_dealership(client: httpx.AsyncClient, world: World) -> None:
    dealer = await world.dealership()
    root = await world.root()
    assert (await chat(client, root.headers, message="Hello")).status_code == 422
    data = (await chat(client, root.headers, message="Hello", dealership_id=str(dealer))).json()
    listed = (await client.get("/api/v1/sessions", headers=root.headers, params={"dealership_id": str(dealer)}))
    assert [s["id"] for s in listed.json()["items"]] == [data["session_id"]]
    user = await world.account(Role.user, dealer)
    other = await world.dealership()
    # Anyone else chats in their own dealership whatever they send: the one dealership_id rule
    # (Scope.dealership_for_write, as for documents, users and personas; issue 15).
    elsewhere = await chat(client, user.headers, message="Hi", dealership_id=str(other))
    assert elsewhere.status_code == 200, elsewhere.text
    session = await client.get(f"/api/v1/sessions/{elsewhere.json()['session_id']}", headers=user.headers)
    assert session.json()["dealership_id"] == str(dealer)
    assert uuid.UUID(data["message_id"])


@pytest.mark.e2e
async def test_sse_streams_over_a_real_server(live_server: Any, world: World) -> None:
    user = await world.account(Role.user, await world.dealership())
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as real:
        events = []
        async with real.stream("POST", "/api/v1/chat", headers={**user.headers, **SSE},
                               json={"mode": "roleplay", "persona_id": "grace-firsttime", "message": "Hello!"}) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            body = "".join([chunk async for chunk in r.aiter_text()])
        events = parse_sse(body)
    assert [n for n, _ in events][-2:] == ["sources", "done"]
    assert "".join(d["text"] for n, d in events if n == "delta") == "Hi! I'm looking for my first car, something " \
        "small and good on gas."


async def test_offline_answers_quote_whole_sentences_and_cite_only_what_they_quote(
        client: httpx.AsyncClient, world: World) -> None:
    dealership = await world.dealership()
    admin = await world.account(Role.dealership_admin, dealership)
    await ingest(client, admin, "fi-products.docx", docx_bytes())  # headings and a price table
    await ingest(client, admin, "finance-desk.md", GUIDE_MD)
    user = await world.account(Role.user, dealership)
    gap = (await chat(client, user.headers, message="What does GAP insurance cover?")).json()
    assert "GAP covers the difference between the loan balance and the insurance payout" in gap["response"]
    assert "|" not in gap["response"] and "$795" not in gap["response"] and "Price sheet" not in gap["response"]
    assert "F&I products GAP" not in gap["response"] and "GAP insurance GAP" not in gap["response"]
    assert [s["filename"] for s in gap["sources"]] == ["fi-products.docx"]
    assert gap["sources"][0]["excerpt"].startswith("GAP covers the difference")
    payment = (await chat(client, user.headers, message="What do I do when the monthly payment is too high?",
                          session_id=gap["session_id"])).json()
    assert "Offer a longer term or a bigger down payment before you touch the price." in payment["response"]
    assert "|" not in payment["response"] and "When the monthly payment is too high Offer" not in payment["response"]
    assert [s["filename"] for s in payment["sources"]] == ["finance-desk.md"]
    assert "[finance-desk.md]" in payment["response"] and "[fi-products.docx" not in payment["response"]
    # Nothing on the question: the plain "not in your documents" answer, and no sources.
    response = await client.post("/api/v1/chat", headers={**user.headers, **SSE}, json={
        "mode": "training", "message": "What's the weather like in Paris?", "session_id": gap["session_id"]})
    events = parse_sse(response.text)
    text = "".join(data["text"] for name, data in events if name == "delta")
    assert text.startswith("I couldn't find this in your dealership's documents")
    assert [data for name, data in events if name == "sources"] == [{"sources": []}]
    detail = (await client.get(f"/api/v1/sessions/{gap['session_id']}", headers=user.headers)).json()
    assert [len(m["sources"]) for m in detail["messages"] if m["role"] == "assistant"] == [1, 1, 0]


async def test_roleplay_scorecard_agrees_with_itself(client: httpx.AsyncClient, world: World) -> None:
    user = await world.account(Role.user, await world.dealership())
    session_id = None
    for line in SAM:
        response = await chat(client, user.headers, mode="roleplay", persona_id="sam-price", message=line,
                              session_id=session_id)
        assert response.status_code == 200, response.text
        session_id = response.json()["session_id"]
    card = (await client.post(f"/api/v1/sessions/{session_id}/end", headers=user.headers)).json()
    assert_consistent(card)
    assert card["objections"]["resolved"] == ["price", "think_about_it"] and card["objections"]["unresolved"] == []
    scores = {s["dimension"]: s["score"] for s in card["scores"]}
    assert scores["objection_handling"] >= 4 and scores["closing"] >= 4
    assert "objection handling" not in named(card["summary"], "Work on")
    detail = (await client.get(f"/api/v1/sessions/{session_id}", headers=user.headers)).json()
    assert detail["scorecard"] == card
