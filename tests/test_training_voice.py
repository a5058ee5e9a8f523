"""A scenario over the voice socket: `start` takes `scenario_id`, the session keeps the frozen copy
and the model's customer is told the scenario, the session ends with scorecard version 2, and a
scenario's time limit ends the session (reason `time_limit`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from server.db.models import Role
from server.settings import Settings
from server.state import AppState
from tests.conftest import LiveServer, World, start_live_server, stop_live_server
from tests.fakes.elevenlabs_server import FakeElevenLabs
from tests.fakes.openai_voice import FakeOpenAI
from tests.fakes.server import serve_in_thread
from tests.patience import PatientVoiceClient as VoiceClient

pytestmark = pytest.mark.e2e
SCENARIO = "price-objection"  # Sam, 600 s limit


@pytest.fixture(scope="module")
def openai() -> Iterator[tuple[FakeOpenAI, str, str]]:
    fake_openai, fake_eleven = FakeOpenAI(), FakeElevenLabs()
    with serve_in_thread(fake_openai.app()) as openai_url, serve_in_thread(fake_eleven.app()) as eleven_url:
        yield fake_openai, openai_url, eleven_url


@pytest.fixture(scope="module")
def server(database_url: str, settings: Settings, openai: tuple[FakeOpenAI, str, str],
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {"DATABASE_URL": database_url, "ENVIRONMENT": "test", "JWT_SECRET": settings.jwt_secret,
           "BCRYPT_ROUNDS": "4", "REDIS_URL": "", "PINECONE_API_KEY": "",
           "OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": openai[1] + "/v1",
           "ELEVENLABS_API_KEY": "el-test", "ELEVENLABS_BASE_URL": openai[2],
           "VOICE_TTS_TIMEOUT_S": "1", "RATE_LIMIT_VOICE": "1000/minute", "VOICE_IDLE_TIMEOUT_S": "900"}
    live = start_live_server(env, tmp_path_factory.mktemp("training-voice") / "server.log")
    yield live
    stop_live_server(live)


async def test_voice_start_with_a_scenario(server: LiveServer, world: World,
                                           openai: tuple[FakeOpenAI, str, str]) -> None:
    account = await world.account(Role.user, await world.dealership())
    client = await VoiceClient.connect(server.url, account.token)
    ready = await client.start(scenario_id=SCENARIO)
    assert ready["scenario_id"] == SCENARIO and ready["persona_id"] == "sam-price"
    assert 590 <= ready["time_left_s"] <= 600
    await client.send({"type": "text", "text": "What budget did you have in mind?"})
    await client.wait_for("metrics", wait_s=20)
    system = openai[0].chats[-1]["messages"][0]["content"]
    assert "about $2,000 over what he planned" in system and "I was hoping to stay around thirty thousand" in system
    await client.send({"type": "end"})
    assert (await client.wait_for("session.ended", wait_s=30))["reason"] == "client_end"
    detail = (await world.client.get(f"/api/v1/sessions/{ready['session_id']}", headers=account.headers)).json()
    assert detail["channel"] == "voice" and detail["scenario_id"] == SCENARIO
    assert detail["scenario"]["spec"]["title"] == "The price is too high"
    assert detail["scenario"]["rubric_id"] == "laer-objections"
    card = detail["scorecard"]
    assert card["version"] == 2 and card["scenario_id"] == SCENARIO
    assert [c["key"] for c in card["criteria"]] == ["listen", "acknowledge", "explore", "respond", "confirm"]
    assert [m["tags"].get("facts_revealed") for m in detail["messages"] if m["role"] == "assistant"] == [[]]
    unknown = await VoiceClient.connect(server.url, account.token)
    await unknown.send({"type": "start", "mode": "roleplay", "scenario_id": "no-such-scenario"})
    assert (await unknown.wait_for("error"))["code"] == "scenario_not_found"
    await unknown.close()


async def test_a_scenarios_time_limit_ends_the_voice_session(server: LiveServer, world: World,
                                                             state: AppState) -> None:
    account = await world.account(Role.user, await world.dealership())
    client = await VoiceClient.connect(server.url, account.token)
    session_id = (await client.start(scenario_id=SCENARIO))["session_id"]
    await client.send({"type": "text", "text": "What matters most to you in the SUV?"})
    await client.wait_for("metrics", wait_s=20)
    client.connection.transport.abort()  # dropped; resumed once most of the time has gone
    async with state.engine.begin() as conn:
        await conn.execute(text("UPDATE conversation_session SET started_at = now() - interval '598 seconds' "
                                "WHERE id = :id"), {"id": session_id})
    again = await VoiceClient.connect(server.url, account.token)
    ready = await again.start(session_id=session_id)
    assert ready["time_left_s"] <= 2
    ended = await again.wait_for("session.ended", wait_s=30)
    assert ended["reason"] == "time_limit" and ended["session_id"] == session_id
    detail = (await world.client.get(f"/api/v1/sessions/{session_id}", headers=account.headers)).json()
    assert detail["status"] == "ended" and detail["scorecard"]["version"] == 2


async def test_a_voice_session_started_from_an_assignment_counts_towards_it(server: LiveServer, world: World) -> None:
    dealership = await world.dealership()
    admin = await world.account(Role.dealership_admin, dealership)
    trainee, other = [await world.account(Role.user, dealership) for _ in range(2)]
    due = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    created = await world.client.post("/api/v1/assignments", headers=admin.headers, json={
        "scenario_id": SCENARIO, "due_at": due, "user_ids": [str(trainee.id)]})
    assert created.status_code == 201, created.text
    assignment_id = created.json()["id"]

    client = await VoiceClient.connect(server.url, trainee.token)
    ready = await client.start(assignment_id=assignment_id)  # the assignment names its one scenario
    assert ready["scenario_id"] == SCENARIO
    await client.send({"type": "text", "text": "I hear you, the price matters. What number did you have in mind?"})
    await client.wait_for("metrics", wait_s=20)
    await client.send({"type": "end"})
    await client.wait_for("session.ended", wait_s=30)
    card = (await world.client.get(f"/api/v1/sessions/{ready['session_id']}", headers=trainee.headers)).json()
    progress = (await world.client.get(f"/api/v1/assignments/{assignment_id}", headers=trainee.headers)).json()
    [mine] = progress["progress"]
    assert mine["attempts"] == 1 and mine["latest_score"] == round(card["scorecard"]["overall"], 1)
    assert mine["status"] in {"failed", "passed"}

    # Someone else's assignment (or none) is refused with its own code.
    stranger = await VoiceClient.connect(server.url, other.token)
    await stranger.send({"type": "start", "mode": "roleplay", "assignment_id": assignment_id})
    assert (await stranger.wait_for("error"))["code"] == "assignment_not_found"
    await stranger.close()
