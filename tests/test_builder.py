"""The guided builder: a scripted admin conversation to a draft (with corrections), unclear
answers asked again, a pasted conversation to a draft, the model's structured answers (fake
OpenAI server), expiry, validation, and RBAC and isolation on every route."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st
from sqlalchemy import update
from starlette.applications import Starlette

from server.app import create_app
from server.conversation.personas import PersonaSpec
from server.db.models import Role
from server.settings import Settings
from server.state import AppState
from server.training.builder import extract_offline, facts, flow, stages, transcript, vehicles
from server.training.builder.collected import Collected, draft
from server.training.builder.models import BuilderSession
from server.training.builder.readers import OfflineReader
from server.training.builder.stages import Stage
from server.training.spec import ScenarioSpec
from tests.conftest import Account, World, inside_one_rate_window, make_settings
from tests.fakes.openai_chat import FakeOpenAI
from tests.fakes.server import serve_in_thread

BASE = "/api/v1/builder/sessions"

# The admin's side of a whole conversation, the stage each answer leads to, and a correction of
# an earlier field along the way (made at the hidden facts question, and again at the review).
SCRIPT: list[tuple[str, str]] = [
    ("Maria Lopez, 34, a nurse with two kids", "vehicle"),
    ("She wants a 2024 Honda CR-V and is trading in her 2019 Civic, wants to keep the payment under $450 a month",
     "objections"),
    ("She'll worry about the monthly payment and want to talk to her husband first", "difficulty"),
    ("Tough, and impatient", "hidden_facts"),
    ("Actually make her a first-time buyer", "hidden_facts"),
    ("She pays $389 a month on her Civic. She owes $4,000 on it; she has a quote from Toyota of Springfield "
     "for $31,500", "goal"),
    ("Book a test drive and resolve the payment concern, judged on LAER, pass at 75, 10 minute time limit", "review"),
    ("Change the budget to $400 a month", "review"),
    ("Looks good", "review"),
]

TRANSCRIPT = """Salesperson: Hi, welcome in! What brings you here today?
Customer: Hi, I'm Dana. I'm looking at the 2023 Toyota RAV4 you have online.
Salesperson: Great choice. What are you driving now?
Customer: A 2016 Ford Escape. I still owe about $3,000 on it.
Salesperson: And what kind of payment are you hoping for?
Customer: I really can't go over $400 a month.
Salesperson: Understood. The RAV4 is $32,900.
Customer: That price is too high. The other dealer across town quoted me $31,000.
Salesperson: Let me see what I can do.
Customer: I need to think about it and talk to my husband first."""


async def admin_of(world: World, dealership_id: uuid.UUID | None = None) -> Account:
    return await world.account(Role.dealership_admin, dealership_id or await world.dealership())


async def start(client: httpx.AsyncClient, account: Account, **body: Any) -> dict[str, Any]:
    response = await client.post(BASE, headers=account.headers, json={"kind": "scenario", **body})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def say(client: httpx.AsyncClient, account: Account, session_id: str, text: str) -> dict[str, Any]:
    response = await client.post(f"{BASE}/{session_id}/messages", headers=account.headers, json={"text": text})
    assert response.status_code == 200, response.text
    return dict(response.json())


def assert_scripted_draft(draft: dict[str, Any]) -> None:
    persona, scenario = draft["persona"], draft["scenario"]
    assert persona["name"] == "Maria Lopez" and persona["kind"] == "customer"
    assert persona["summary"].startswith("34-year-old first-time buyer.")  # the correction
    assert "nurse with two kids" in persona["summary"]
    assert persona["vehicle"] == "2024 Honda CR-V" and persona["budget"] == "$400 a month"  # corrected at review
    assert persona["objections"] == ["monthly_payment", "spouse"] == scenario["objections"]
    assert persona["difficulty"] == "hard" == scenario["difficulty"] and persona["personality"] == "impatient"
    assert scenario["persona_id"] is None  # the client fills it with the saved persona's id
    assert scenario["situation"] == ("Maria Lopez is shopping for a 2024 Honda CR-V, trading in a 2019 Honda Civic "
                                     "with a budget of $400 a month.")
    assert [(f["key"], f["value"]) for f in scenario["hidden_facts"]] == [
        ("current_payment", "I pay $389 a month on my Civic."),
        ("trade_in_payoff", "I owe $4,000 on it."),
        ("competing_offer", "I have a quote from Toyota of Springfield for $31,500."),
    ]
    assert scenario["goal"] == "Book a test drive and resolve the payment concern"
    assert (scenario["rubric_id"], scenario["pass_score"], scenario["time_limit_s"]) == ("laer-objections", 75, 600)
    assert scenario["title"] == "Maria Lopez: monthly payment and spouse objections"


async def persona_count(client: httpx.AsyncClient, admin: Account) -> int:
    response = await client.get("/api/v1/personas", headers=admin.headers)
    assert response.status_code == 200, response.text
    return len(response.json()["items"])


async def test_a_scripted_conversation_makes_the_expected_draft(client: httpx.AsyncClient, world: World) -> None:
    admin = await admin_of(world)
    opened = await start(client, admin)
    assert opened["stage"] == "customer" and opened["collected"] == {} and opened["status"] == "active"
    assert opened["question"].startswith("Who is the customer?")
    for text, stage in SCRIPT:
        answered = await say(client, admin, opened["id"], text)
        assert answered["stage"] == stage, (text, answered)
    assert answered["done"] is True
    # The correction at the hidden facts question was said back and did not become a fact.
    assert [m["role"] for m in answered["messages"][:3]] == ["builder", "admin", "builder"]
    said_back = answered["messages"][10]["text"]
    assert said_back.startswith("Changed first-time buyer: yes.") and "reveal only when asked" in said_back
    collected = answered["collected"]
    assert collected["first_time_buyer"] is True and collected["budget"] == "$400 a month"
    assert collected["trade_in"] == "2019 Honda Civic" and collected["tone"] == "impatient"
    done = await client.post(f"{BASE}/{opened['id']}/complete", headers=admin.headers)
    assert done.status_code == 200, done.text
    assert_scripted_draft(done.json())
    # The draft saves as it is, in one call: POST /scenarios with the draft persona beside it.
    draft = done.json()
    personas_before = await persona_count(client, admin)
    bad = await client.post("/api/v1/scenarios", headers=admin.headers,
                            json={**draft["scenario"], "persona": draft["persona"], "rubric_id": "no-such-rubric"})
    assert bad.status_code == 422, bad.text
    assert await persona_count(client, admin) == personas_before  # nothing half-written
    saved = await client.post("/api/v1/scenarios", headers=admin.headers,
                              json={**draft["scenario"], "persona": draft["persona"]})
    assert saved.status_code == 201, saved.text
    persona = await client.get(f"/api/v1/personas/{saved.json()['persona_id']}", headers=admin.headers)
    assert persona.status_code == 200 and persona.json()["name"] == "Maria Lopez"
    assert await persona_count(client, admin) == personas_before + 1
    for body in ({**draft["scenario"], "persona_id": saved.json()["persona_id"], "persona": draft["persona"]},
                 draft["scenario"]):  # both, or neither
        refused = await client.post("/api/v1/scenarios", headers=admin.headers, json=body)
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "validation_error", refused.text
    again = (await client.get(f"{BASE}/{opened['id']}", headers=admin.headers)).json()
    assert again["status"] == "completed" and again["collected"] == collected


async def test_stages_already_known_are_skipped(client: httpx.AsyncClient, world: World) -> None:
    admin = await admin_of(world)
    opened = await start(client, admin)
    answered = await say(client, admin, opened["id"],
                         "Tony, 52, wants a 2022 Ford F-150 and worries that another dealer offered a better deal")
    assert answered["stage"] == "difficulty"  # vehicle and objections came with the customer
    assert answered["collected"]["objections"] == ["competitor"] and answered["collected"]["age"] == 52


@pytest.mark.parametrize(("stage_answers", "unclear", "again"), [
    ([], "hmm", "I didn't catch a name."),
    (["Sam"], "not sure really", "I didn't catch a vehicle."),
    (["Sam", "a used SUV"], "he is a bit of a character", "I didn't catch an objection."),
    (["Sam", "a used SUV", "price"], "whatever you think is right for him", "Easy, medium or hard?"),
])
async def test_an_unclear_answer_is_asked_again(client: httpx.AsyncClient, world: World, stage_answers: list[str],
                                                unclear: str, again: str) -> None:
    admin = await admin_of(world)
    opened = await start(client, admin)
    for text in stage_answers:
        answered = await say(client, admin, opened["id"], text)
    stage = answered["stage"] if stage_answers else "customer"
    before = answered["collected"] if stage_answers else {}
    asked = await say(client, admin, opened["id"], unclear)
    assert asked["stage"] == stage and asked["question"].startswith(again) and asked["collected"] == before
    twice = await say(client, admin, opened["id"], unclear)
    assert twice["stage"] == stage and twice["question"] == asked["question"]


async def test_skip_takes_a_stages_default_but_never_the_customers_name(client: httpx.AsyncClient,
                                                                       world: World) -> None:
    admin = await admin_of(world)
    opened = await start(client, admin)
    assert (await say(client, admin, opened["id"], "skip"))["stage"] == "customer"
    await say(client, admin, opened["id"], "Priya")
    for _ in range(5):
        answered = await say(client, admin, opened["id"], "skip")
    assert answered["stage"] == "review"
    collected = answered["collected"]
    assert collected["objections"] == [] and collected["hidden_facts"] == [] and collected["difficulty"] == "medium"
    assert collected["rubric_id"] == "needs-analysis" and collected["goal"].startswith("Find out what the customer")


async def test_review_asks_again_when_it_hears_no_change(client: httpx.AsyncClient, world: World) -> None:
    admin = await admin_of(world)
    opened = await start(client, admin)
    for text in ["Priya", "skip", "none", "easy", "none", "skip"]:
        answered = await say(client, admin, opened["id"], text)
    assert answered["stage"] == "review" and not answered["done"]
    unclear = await say(client, admin, opened["id"], "hmm let me see")
    assert unclear["question"].startswith("I didn't catch a change.") and not unclear["done"]
    renamed = await say(client, admin, opened["id"], "Actually her name is Linda, and call it Linda's first visit")
    assert renamed["collected"]["name"] == "Linda" and renamed["collected"]["title"] == "Linda's first visit"
    assert "Here is the draft \"Linda's first visit\"" in renamed["question"]
    assert (await say(client, admin, opened["id"], "yes")).get("done") is True


async def test_a_pasted_conversation_becomes_a_draft(client: httpx.AsyncClient, world: World) -> None:
    admin = await admin_of(world)
    opened = await start(client, admin, source_transcript=TRANSCRIPT)
    collected = opened["collected"]
    assert collected["name"] == "Dana"
    assert collected["objections"] == ["monthly_payment", "price", "competitor", "think_about_it", "spouse"]
    assert collected["vehicle"] == "2023 Toyota RAV4" and collected["trade_in"] == "2016 Ford Escape"
    assert collected["budget"] == "$400 a month" and collected["difficulty"] == "hard"
    assert collected["hidden_facts"] == [{"label": "trade-in payoff", "value": "I still owe about $3,000 on it."}]
    assert opened["stage"] == "goal" and opened["question"].startswith("I drafted what I could")
    done = await client.post(f"{BASE}/{opened['id']}/complete", headers=admin.headers)
    assert done.status_code == 200, done.text
    scenario = done.json()["scenario"]
    assert scenario["rubric_id"] == "laer-objections" and scenario["hidden_facts"][0]["key"] == "trade_in_payoff"
    assert "2023 Toyota RAV4" in scenario["situation"]


async def test_an_unreadable_transcript_is_a_validation_error(client: httpx.AsyncClient, world: World) -> None:
    admin = await admin_of(world)
    response = await client.post(BASE, headers=admin.headers,
                                 json={"kind": "scenario", "source_transcript": "they talked about a car for a while"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error" and error["details"][0]["field"] == "source_transcript"


@pytest.mark.parametrize(("body", "field"), [
    ({"kind": "rubric"}, "kind"),
    ({}, "kind"),
    ({"kind": "scenario", "extra": 1}, "extra"),
    ({"kind": "scenario", "source_transcript": "   "}, "source_transcript"),
])
async def test_bad_start_bodies_answer_the_one_error_shape(client: httpx.AsyncClient, world: World,
                                                           body: dict[str, Any], field: str) -> None:
    admin = await admin_of(world)
    response = await client.post(BASE, headers=admin.headers, json=body)
    assert response.status_code == 422
    assert set(response.json()) == {"error"} and response.json()["error"]["details"][0]["field"] == field


@pytest.mark.parametrize("body", [{"text": ""}, {"text": "   "}, {}, {"text": "x" * 4001}, {"text": 3}])
async def test_bad_answers_answer_the_one_error_shape(client: httpx.AsyncClient, world: World,
                                                      body: dict[str, Any]) -> None:
    admin = await admin_of(world)
    opened = await start(client, admin)
    response = await client.post(f"{BASE}/{opened['id']}/messages", headers=admin.headers, json=body)
    assert response.status_code == 422 and response.json()["error"]["code"] == "validation_error"


async def test_complete_needs_a_name(client: httpx.AsyncClient, world: World) -> None:
    admin = await admin_of(world)
    opened = await start(client, admin)
    response = await client.post(f"{BASE}/{opened['id']}/complete", headers=admin.headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "builder_incomplete"
    assert response.json()["error"]["details"] == {"missing": ["name"]}


async def test_an_expired_session_says_so(client: httpx.AsyncClient, world: World, state: AppState) -> None:
    admin = await admin_of(world)
    opened = await start(client, admin)
    async with state.sessionmaker() as db:
        await db.execute(update(BuilderSession).where(BuilderSession.id == uuid.UUID(opened["id"]))
                         .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        await db.commit()
    response = await client.post(f"{BASE}/{opened['id']}/messages", headers=admin.headers, json={"text": "Sam"})
    assert response.status_code == 409 and response.json()["error"]["code"] == "builder_expired"
    shown = (await client.get(f"{BASE}/{opened['id']}", headers=admin.headers)).json()
    assert shown["status"] == "expired" and shown["question"] is None
    assert (await client.post(f"{BASE}/{opened['id']}/complete", headers=admin.headers)).status_code == 409


async def test_abandoned_sessions_are_gone(client: httpx.AsyncClient, world: World) -> None:
    admin = await admin_of(world)
    opened = await start(client, admin)
    assert (await client.delete(f"{BASE}/{opened['id']}", headers=admin.headers)).status_code == 204
    assert (await client.get(f"{BASE}/{opened['id']}", headers=admin.headers)).status_code == 404
    assert (await client.delete(f"{BASE}/{opened['id']}", headers=admin.headers)).status_code == 404


async def test_your_sessions_are_listed_to_resume_one(client: httpx.AsyncClient, world: World,
                                                     state: AppState) -> None:
    dealership = await world.dealership()
    admin = await admin_of(world, dealership)
    colleague = await admin_of(world, dealership)
    first = await start(client, admin)
    await say(client, admin, first["id"], "Maria Lopez, 34")
    second = await start(client, admin)
    gone = await start(client, admin)
    await client.delete(f"{BASE}/{gone['id']}", headers=admin.headers)
    await start(client, colleague)
    async with state.sessionmaker() as db:
        await db.execute(update(BuilderSession).where(BuilderSession.id == uuid.UUID(second["id"]))
                         .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        await db.commit()
    listed = (await client.get(BASE, headers=admin.headers)).json()
    assert listed["total"] == 2
    assert [(i["id"], i["status"], i["title"], i["stage"]) for i in listed["items"]] == [
        (second["id"], "expired", None, "customer"),
        (first["id"], "active", "Maria Lopez: needs analysis", "vehicle")]
    assert (await client.get(BASE, headers=colleague.headers)).json()["total"] == 1
    user = await world.account(Role.user, dealership)
    assert (await client.get(BASE, headers=user.headers)).status_code == 403
    bad = await client.get(BASE, headers=admin.headers, params={"limit": 0})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "limit"


# --- RBAC and isolation ------------------------------------------------------------------------------

ROUTES = [("GET", ""), ("POST", "/messages"), ("POST", "/complete"), ("DELETE", "")]


async def call(client: httpx.AsyncClient, account: Account | None, method: str, session_id: str,
               suffix: str) -> httpx.Response:
    body = {"text": "Sam"} if suffix == "/messages" else None
    return await client.request(method, f"{BASE}/{session_id}{suffix}", json=body,
                                headers=account.headers if account else {})


async def test_only_admins_start_a_builder(client: httpx.AsyncClient, world: World) -> None:
    dealership = await world.dealership()
    user = await world.account(Role.user, dealership)
    assert (await client.post(BASE, headers=user.headers, json={"kind": "scenario"})).status_code == 403
    assert (await client.post(BASE, json={"kind": "scenario"})).status_code == 401
    root = await world.root()
    needs = await client.post(BASE, headers=root.headers, json={"kind": "scenario"})
    assert needs.status_code == 422 and needs.json()["error"]["details"][0]["field"] == "dealership_id"
    made = await start(client, root, dealership_id=str(dealership))
    assert made["stage"] == "customer"


@pytest.mark.parametrize(("method", "suffix"), ROUTES)
async def test_every_route_is_the_owners_alone(client: httpx.AsyncClient, world: World, method: str,
                                               suffix: str) -> None:
    dealership = await world.dealership()
    owner = await admin_of(world, dealership)
    opened = await start(client, owner)
    colleague = await admin_of(world, dealership)  # same dealership, another admin: a private draft
    user = await world.account(Role.user, dealership)
    stranger = await admin_of(world)
    for other in (colleague, user, stranger):
        response = await call(client, other, method, opened["id"], suffix)
        assert response.status_code == 404, (other.role, response.text)
        assert response.json()["error"]["code"] == "not_found"
    assert (await call(client, None, method, opened["id"], suffix)).status_code == 401
    assert (await call(client, owner, method, str(uuid.uuid4()), suffix)).status_code == 404
    # Nothing the others tried changed it.
    shown = (await client.get(f"{BASE}/{opened['id']}", headers=owner.headers)).json()
    assert shown["collected"] == {} and len(shown["messages"]) == 1
    # A super admin (support) reaches it; the owner still does.
    root = await world.root()
    assert (await call(client, root, method, opened["id"], suffix)).status_code in (200, 204, 409)
    if method != "DELETE":
        assert (await call(client, owner, method, opened["id"], suffix)).status_code in (200, 409)


# --- rules, without the API ----------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("she pays $389 a month on her Civic", "I pay $389 a month on my Civic"),
    ("he has a quote from the dealer across town", "I have a quote from the dealer across town"),
    ("she's moving to Denver in March and her lease ends in May",
     "I'm moving to Denver in March and my lease ends in May"),
    ("his wife has to sign off on it", "my wife has to sign off on it"),
])
def test_facts_are_put_in_the_customers_own_words(text: str, expected: str) -> None:
    assert facts.first_person(text) == expected


@pytest.mark.parametrize(("text", "vehicle", "trade_in"), [
    ("trading in her 2016 Ford Escape for a new RAV4", "Toyota RAV4", "2016 Ford Escape"),
    ("wants a used family SUV", "used family SUV", None),
    ("currently drives a 2012 Camry, looking at a 2024 Tacoma", "2024 Toyota Tacoma", "2012 Toyota Camry"),
    ("interested in a Tesla Model Y", "Tesla Model Y", None),
])
def test_vehicles_and_trade_ins(text: str, vehicle: str, trade_in: str | None) -> None:
    assert vehicles.vehicles(text) == (vehicle, trade_in)


def test_a_correction_overwrites_and_a_plain_answer_only_fills_gaps() -> None:
    known = Collected(name="Maria", budget="$450 a month", objections=["monthly_payment"])
    plain = extract_offline.read("hard, she is on a budget of $300 a month", Stage.difficulty, known)
    assert plain.updates == {"difficulty": "hard"}  # the budget was known: not a correction
    fixed = extract_offline.read("change the budget to $300 a month", Stage.difficulty, known)
    assert fixed.updates == {"budget": "$300 a month"}
    dropped = extract_offline.read("actually remove the payment objection and add the spouse one",
                                   Stage.difficulty, known)
    assert dropped.updates == {"objections": ["spouse"]}
    harder = extract_offline.read("make her tougher", Stage.goal, known.model_copy(update={"difficulty": "medium"}))
    assert harder.updates == {"difficulty": "hard"}


async def test_another_admins_way_of_putting_it() -> None:
    """Bullets, a name given mid-sentence, a named vehicle beside a kind of vehicle, thousands as
    "k", a harder customer and a dropped objection at the review."""
    state = flow.start("scenario")
    for text in ["A 45-year-old contractor named Mike who has bought from us before",
                 "He needs a new truck for work, probably a Silverado, and wants to trade his 2015 Ram 1500. "
                 "Budget is around $55k",
                 "The trade-in value, and he'll say he got a better quote from the Ford dealer",
                 "medium, blunt and busy",
                 "- He owes $8,000 on the Ram\n- He tows a 10,000 lb trailer every week\n"
                 "- His wife handles the finances",
                 "Get him to agree to an appraisal. Use the needs analysis rubric.",
                 "make it hard", "remove the competitor objection", "ok"]:
        state = await flow.answer(state, text, OfflineReader())
    assert state.done and state.collected.shown() == {
        "name": "Mike", "age": 45, "first_time_buyer": False, "vehicle": "Chevrolet Silverado",
        "trade_in": "2015 Ram 1500", "budget": "$55,000", "objections": ["trade_in"], "difficulty": "hard",
        "tone": "blunt, busy",
        "hidden_facts": [{"label": "trade-in payoff", "value": "I owe $8,000 on the Ram."},
                         {"label": "driving needs", "value": "I tow a 10,000 lb trailer every week."},
                         {"label": "family", "value": "My wife handles the finances."}],
        "goal": "Get him to agree to an appraisal", "rubric_id": "needs-analysis"}


_ANY = st.one_of(st.none(), st.text(max_size=250), st.integers(-10, 5000), st.booleans(),
                 st.lists(st.sampled_from(["price", "spouse", "nonsense", ""]), max_size=9),
                 st.lists(st.fixed_dictionaries({"label": st.text(max_size=210), "value": st.text(max_size=50)}),
                          max_size=3))


@given(updates=st.dictionaries(st.sampled_from(sorted(Collected.model_fields)), _ANY, max_size=17))
@examples(max_examples=300, deadline=None, database=None, derandomize=True)
def test_whatever_a_model_answers_the_draft_is_valid(updates: dict[str, Any]) -> None:
    collected = flow.merge(Collected(name="Sam"), updates)
    made = draft(collected)  # never raises: an invalid update was dropped field by field
    PersonaSpec.model_validate(made.persona.model_dump())
    ScenarioSpec.model_validate({**made.scenario.model_dump(), "persona_id": "saved"})
    stages.review(collected)


@pytest.mark.parametrize("stage", list(Stage))
@pytest.mark.parametrize("text", ["Aaaa " * 800, "she pays " * 444, "$1," * 1333, "Honda " * 666])
def test_the_longest_answers_are_read_within_every_fields_limits(stage: Stage, text: str) -> None:
    reading = extract_offline.read(text[:4000], stage, Collected(name="Sam"))
    Collected.model_validate({**Collected(name="Sam").model_dump(), **reading.updates})


def test_the_customer_in_a_transcript_is_the_one_objecting() -> None:
    named = "Alex: Good morning, welcome!\nJordan: The payment is too high and my wife has to see it.\n" \
            "Alex: I hear you.\nJordan: I'll think about it."
    fields = transcript.read(named)
    assert fields["name"] == "Jordan" and fields["objections"] == ["monthly_payment", "spouse", "think_about_it"]


# --- online: the model's structured answer (fake OpenAI server) ---------------------------------------------

@pytest.fixture(scope="module")
def fake_server() -> Iterator[tuple[FakeOpenAI, str]]:
    fake = FakeOpenAI()
    with serve_in_thread(fake.app) as url:
        yield fake, url


@pytest.fixture(scope="module")
async def llm_app(fake_server: tuple[FakeOpenAI, str], database_url: str, settings: Settings,
                  app: Starlette) -> AsyncIterator[Starlette]:
    llm_settings = make_settings(database_url, jwt_secret=settings.jwt_secret, openai_api_key="test-key",
                                 openai_base_url=fake_server[1] + "/v1", llm_retries=0, rate_limit_chat="3/minute")
    application = create_app(llm_settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def llm(llm_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=llm_app), base_url="http://testserver") as c:
        yield c


def blank() -> dict[str, Any]:
    from server.training.builder.extract_online import SCHEMA
    return {name: None for name in SCHEMA["properties"]} | {"skip": False, "confirmed": False}


async def test_the_model_reads_answers_and_corrections(llm: httpx.AsyncClient, fake_server: tuple[FakeOpenAI, str],
                                                       world: World) -> None:
    await inside_one_rate_window()  # the last answer is refused by the chat limit: in one window
    fake, _ = fake_server
    answers = iter([
        blank() | {"name": "Grace", "age": 24, "first_time_buyer": False, "vehicle": "2021 Mazda CX-5",
                   "objections": ["price", "fi_products"]},
        blank() | {"first_time_buyer": True, "difficulty": "easy"},
        blank() | {"age": 7, "name": "  ", "title": ""},  # invalid: dropped, the fields keep their values
    ])
    fake.json_reply = lambda name, schema, messages: next(answers)
    fake.requests.clear()
    admin = await admin_of(world)
    response = await llm.post(BASE, headers=admin.headers, json={"kind": "scenario"})
    assert response.status_code == 201
    session_id = response.json()["id"]
    first = (await llm.post(f"{BASE}/{session_id}/messages", headers=admin.headers,
                            json={"text": "Grace, 24, wants a CX-5, will fight on price and the warranty"})).json()
    assert first["collected"] == {"name": "Grace", "age": 24, "first_time_buyer": False, "vehicle": "2021 Mazda CX-5",
                                  "objections": ["price", "fi_products"]}
    assert first["stage"] == "difficulty"
    request = fake.requests[-1]
    assert request["response_format"]["type"] == "json_schema"
    assert request["response_format"]["json_schema"]["name"] == "scenario_builder"
    assert request["response_format"]["json_schema"]["strict"] is True
    sent = json.loads(request["messages"][-1]["content"])
    assert sent["stage"] == "customer" and sent["answer"].startswith("Grace, 24") and sent["recent"] == []
    assert sent["question"].startswith("Who is the customer?")
    second = (await llm.post(f"{BASE}/{session_id}/messages", headers=admin.headers,
                             json={"text": "easy, and actually she is a first-time buyer"})).json()
    assert second["collected"]["first_time_buyer"] is True and second["stage"] == "hidden_facts"
    recent = json.loads(fake.requests[-1]["messages"][-1]["content"])["recent"]
    assert [m["role"] for m in recent] == ["builder", "admin"] and recent[1]["text"].startswith("Grace, 24")
    assert second["question"].startswith("Changed first-time buyer: yes.")
    third = (await llm.post(f"{BASE}/{session_id}/messages", headers=admin.headers, json={"text": "she is 7"})).json()
    assert third["collected"]["age"] == 24 and third["collected"]["name"] == "Grace"
    assert "title" not in third["collected"] and third["question"].startswith("I didn't catch a fact.")
    # Every answer may reach the model: they count against the admin's chat limit (3 a minute here).
    limited = await llm.post(f"{BASE}/{session_id}/messages", headers=admin.headers, json={"text": "none"})
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
    fake.json_reply = None


async def test_two_answers_at_once_one_is_refused(llm: httpx.AsyncClient, fake_server: tuple[FakeOpenAI, str],
                                                 world: World) -> None:
    """While the model reads one answer no lock is held; the answer that lands second is refused."""
    fake, _ = fake_server
    fake.json_reply = lambda name, schema, messages: blank() | {"name": "Grace"}
    fake.ttft = 0.5
    admin = await admin_of(world)
    session_id = (await llm.post(BASE, headers=admin.headers, json={"kind": "scenario"})).json()["id"]
    try:
        first, second = await asyncio.gather(*(
            llm.post(f"{BASE}/{session_id}/messages", headers=admin.headers, json={"text": text})
            for text in ("Grace", "Grace again")))
    finally:
        fake.ttft, fake.json_reply = 0.0, None
    assert sorted([first.status_code, second.status_code]) == [200, 409]
    refused = first if first.status_code == 409 else second
    assert refused.json()["error"]["code"] == "builder_conflict"
    shown = (await llm.get(f"{BASE}/{session_id}", headers=admin.headers)).json()
    assert [m["role"] for m in shown["messages"]] == ["builder", "admin", "builder"]


async def test_a_broken_model_answer_falls_back_to_the_rules(llm: httpx.AsyncClient,
                                                             fake_server: tuple[FakeOpenAI, str],
                                                             world: World) -> None:
    fake, _ = fake_server
    fake.json_reply = lambda name, schema, messages: {"not": "the schema"}
    admin = await admin_of(world)
    session_id = (await llm.post(BASE, headers=admin.headers, json={"kind": "scenario"})).json()["id"]
    answered = (await llm.post(f"{BASE}/{session_id}/messages", headers=admin.headers,
                               json={"text": "Maria, 34, first-time buyer"})).json()
    assert answered["collected"] == {"name": "Maria", "age": 34, "first_time_buyer": True}
    fake.json_reply = None


async def test_the_model_drafts_from_a_transcript(llm: httpx.AsyncClient, fake_server: tuple[FakeOpenAI, str],
                                                  world: World) -> None:
    fake, _ = fake_server
    fake.json_reply = lambda name, schema, messages: blank() | {
        "name": "Dana", "vehicle": "2023 Toyota RAV4", "objections": ["price", "competitor"],
        "hidden_facts": [{"label": "payoff", "value": "I still owe about $3,000 on it."}],
        "goal": "Keep Dana from leaving for the other dealer"}
    fake.requests.clear()
    admin = await admin_of(world)
    response = await llm.post(BASE, headers=admin.headers, json={"kind": "scenario", "source_transcript": TRANSCRIPT})
    assert response.status_code == 201
    opened = response.json()
    assert fake.requests[-1]["messages"][-1]["content"] == TRANSCRIPT
    assert opened["collected"]["objections"] == ["price", "competitor"] and opened["stage"] == "difficulty"
    draft = (await llm.post(f"{BASE}/{opened['id']}/complete", headers=admin.headers)).json()
    assert draft["scenario"]["goal"] == "Keep Dana from leaving for the other dealer"
    assert draft["scenario"]["hidden_facts"] == [{"key": "payoff", "label": "payoff",
                                                  "value": "I still owe about $3,000 on it."}]
    PersonaSpec.model_validate(draft["persona"])
    fake.json_reply = None
