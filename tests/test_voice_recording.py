"""Voice recording end to end: a real uvicorn server with the fake providers; the dealership's
`record_audio` setting decides whether both sides of the conversation are kept for review."""

from __future__ import annotations

import asyncio
import io
import uuid
import wave
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from server.db.models import Role
from server.recording.models import VoiceRecording
from server.settings import Settings
from server.voice.audio import duration_ms
from server.voice.client import VoiceClient
from tests.conftest import Account, LiveServer, World, stop_live_server
from tests.fakes.openai_voice import OpenAIConfig
from tests.test_voice_e2e import Fakes, _server, barge_in, speak
from tests.test_voice_e2e import fakes as fakes  # the module-scoped fixture, reused
from tests.voice_audio import utterance

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(database_url: str, settings: Settings, fakes: tuple[Fakes, str, str],
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = _server(database_url, settings, tmp_path_factory.mktemp("voice-rec") / "server.log", fakes[1], fakes[2])
    yield live
    stop_live_server(live)


@pytest.fixture(autouse=True)
def _reset(fakes: tuple[Fakes, str, str]) -> None:
    fakes[0].openai.config = OpenAIConfig()


async def dealer_with_user(world: World, *, record: bool) -> tuple[uuid.UUID, Account]:
    dealer = await world.dealership()
    if record:
        root = await world.root()
        response = await world.client.patch(f"/api/v1/dealerships/{dealer}", headers=root.headers,
                                             json={"settings": {"record_audio": True}})
        assert response.status_code == 200 and response.json()["settings"]["record_audio"] is True
    return dealer, await world.account(Role.user, dealer)


async def clips(world: World, session_id: str) -> list[VoiceRecording]:
    async with world.state.sessionmaker() as db:
        query = select(VoiceRecording).where(VoiceRecording.session_id == uuid.UUID(session_id))
        return list((await db.execute(query.order_by(VoiceRecording.offset_ms))).scalars())


async def listing(server: LiveServer, account: Account, session_id: str, *, until_sides: int = 2,
                  wait_s: float = 10) -> dict[str, Any]:
    """The recordings listing, once the background writes have stored both sides' last clips."""
    async with httpx.AsyncClient(base_url=server.url, headers=account.headers) as http:
        deadline = asyncio.get_running_loop().time() + wait_s
        while True:
            response = await http.get(f"/api/v1/sessions/{session_id}/recordings")
            body: dict[str, Any] = response.json()
            if response.status_code == 200 and len({i["side"] for i in body["items"]}) >= until_sides:
                return body
            assert asyncio.get_running_loop().time() < deadline, response.text
            await asyncio.sleep(0.1)


def side_ms(items: list[dict[str, Any]], side: str, message_id: str | None = None) -> int:
    return sum(i["duration_ms"] for i in items
               if i["side"] == side and (message_id is None or i["message_id"] == message_id))


async def test_nothing_is_recorded_when_the_setting_is_off(server: LiveServer, world: World) -> None:
    _, account = await dealer_with_user(world, record=False)
    client = await VoiceClient.connect(server.url, account.token)
    session_id = (await client.start("roleplay"))["session_id"]
    await speak(client, "How much is this car?")
    await client.wait_for("metrics", wait_s=20)
    await client.send({"type": "end"})
    await client.wait_for("session.ended")
    assert await client.closed() == 1000
    async with httpx.AsyncClient(base_url=server.url, headers=account.headers) as http:
        detail = (await http.get(f"/api/v1/sessions/{session_id}")).json()
        assert detail["recording_url"] is None and len(detail["messages"]) == 2
        assert (await http.get(f"/api/v1/sessions/{session_id}/recording")).status_code == 404
    async with world.state.sessionmaker() as db:
        assert (await db.execute(select(func.count()).select_from(VoiceRecording))).scalar_one() == 0


async def test_a_turn_is_recorded_on_both_sides_and_only_its_dealership_hears_it(
        server: LiveServer, world: World) -> None:
    dealer, account = await dealer_with_user(world, record=True)
    client = await VoiceClient.connect(server.url, account.token)
    session_id = (await client.start("roleplay", output_rate=24000))["session_id"]
    sent = utterance("How much is this car?", before_ms=200, after_ms=800)
    await client.stream(sent)
    start = await client.wait_for("audio.start", wait_s=20)
    await client.wait_for("metrics", wait_s=20)
    await client.send({"type": "end"})
    await client.wait_for("session.ended")
    message_id = start["message_id"]
    body = await listing(server, account, session_id)
    items = body["items"]
    assert {i["sample_rate"] for i in items if i["side"] == "user"} == {16000}
    assert {i["sample_rate"] for i in items if i["side"] == "assistant"} == {24000}
    # Everything the microphone sent, and exactly the reply audio that went out.
    assert abs(side_ms(items, "user") - duration_ms(sent, 16000)) <= 40
    received_ms = duration_ms(len(client.audio[message_id]), 24000)
    assert received_ms > 500 and abs(side_ms(items, "assistant", message_id) - received_ms) <= 1
    assert any(i["side"] == "user" and i["message_id"] == message_id for i in items)
    # The reply starts after the user stopped speaking, on the same timeline.
    first_reply = min(i["offset_ms"] for i in items if i["side"] == "assistant")
    assert first_reply >= duration_ms(sent, 16000) - 800 - 200
    stored = await clips(world, session_id)
    assert {c.dealership_id for c in stored} == {dealer} and {c.user_id for c in stored} == {account.id}

    admin = await world.account(Role.dealership_admin, dealer)
    outsider = await world.account(Role.dealership_admin, await world.dealership())
    colleague = await world.account(Role.user, dealer)
    async with httpx.AsyncClient(base_url=server.url) as http:
        detail = (await http.get(f"/api/v1/sessions/{session_id}", headers=admin.headers)).json()
        assert detail["recording_url"] == f"/api/v1/sessions/{session_id}/recording"
        wav = await http.get(detail["recording_url"], headers=admin.headers)
        assert wav.status_code == 200 and wav.headers["content-type"] == "audio/wav"
        assert "no-store" in wav.headers["cache-control"]
        with wave.open(io.BytesIO(wav.content)) as mixed:
            assert mixed.getframerate() == 24000 and mixed.getnchannels() == 1
            assert abs(mixed.getnframes() / 24000 * 1000 - body["total_ms"]) <= 1
        clip = await http.get(items[0]["url"], headers=account.headers)
        assert clip.status_code == 200, clip.text
        with wave.open(io.BytesIO(clip.content)) as one:
            assert one.getframerate() == items[0]["sample_rate"]
            assert abs(one.getnframes() / one.getframerate() * 1000 - items[0]["duration_ms"]) <= 1
        for stranger in (outsider, colleague):
            for path in (f"/api/v1/sessions/{session_id}/recording", f"/api/v1/sessions/{session_id}/recordings",
                         items[0]["url"]):
                response = await http.get(path, headers=stranger.headers)
                assert response.status_code == 404 and response.json()["error"]["code"] == "not_found", path


async def test_after_a_barge_in_the_assistant_side_holds_only_what_was_sent(
        server: LiveServer, world: World, fakes: tuple[Fakes, str, str]) -> None:
    _, account = await dealer_with_user(world, record=True)
    client = await VoiceClient.connect(server.url, account.token)
    session_id = (await client.start("roleplay"))["session_id"]
    _, interrupted = await barge_in(client, fakes[0].openai)
    await client.wait_for("metrics", wait_s=20)
    await client.send({"type": "end"})
    await client.wait_for("session.ended")
    items = (await listing(server, account, session_id))["items"]
    cut = interrupted["message_id"]
    sent_ms = duration_ms(len(client.audio[cut]), 16000)
    recorded_ms = side_ms(items, "assistant", cut)
    assert abs(recorded_ms - sent_ms) <= 1, (recorded_ms, sent_ms)
    # Far less than the whole reply would have taken (it runs ~10 s when spoken in full).
    assert 1000 < recorded_ms < 6000
    later = [i for i in items if i["side"] == "assistant" and i["message_id"] not in (cut, None)]
    assert later and min(i["offset_ms"] for i in later) > max(i["offset_ms"] for i in items if i["message_id"] == cut
                                                              and i["side"] == "assistant")
