"""The LiveAvatar LITE bridge end to end: a real uvicorn server, the voice socket, fake OpenAI and
ElevenLabs, and a fake LiveAvatar (HTTP + LITE WebSocket) on free ports."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from server.avatar.models import AvatarUsage
from server.db.models import Role
from server.recording.models import Side, VoiceRecording
from server.settings import Settings
from server.voice.audio import silence
from tests.conftest import Account, LiveServer, World, start_live_server, stop_live_server
from tests.fakes.elevenlabs_server import ElevenLabsConfig, FakeElevenLabs, tone
from tests.fakes.liveavatar_server import API_KEY, AVATAR_ID, FakeLiveAvatar, FakeSession
from tests.fakes.openai_voice import FakeOpenAI, OpenAIConfig
from tests.fakes.server import serve_in_thread
from tests.patience import PatientVoiceClient as VoiceClient
from tests.voice_audio import speech, utterance

pytestmark = pytest.mark.e2e

RATE = 24000
BYTES_PER_MS = RATE * 2 // 1000
LONG_REPLY = ("Well, I have to say the price seems high to me. I saw the same model across town "
              "for two thousand less, and that one came with winter tires and a longer warranty.")
KEEPALIVE_S = 0.3


class Fakes:
    def __init__(self, openai: FakeOpenAI, eleven: FakeElevenLabs, avatar: FakeLiveAvatar,
                 urls: dict[str, str]) -> None:
        self.openai, self.eleven, self.avatar, self.urls = openai, eleven, avatar, urls


@pytest.fixture(scope="module")
def fakes() -> Iterator[Fakes]:
    openai, eleven, avatar = FakeOpenAI(), FakeElevenLabs(), FakeLiveAvatar()
    with serve_in_thread(openai.app()) as openai_url, serve_in_thread(eleven.app()) as eleven_url, \
            serve_in_thread(avatar.app()) as avatar_url:
        yield Fakes(openai, eleven, avatar, {"openai": openai_url, "eleven": eleven_url, "avatar": avatar_url})


def _server(database_url: str, settings: Settings, log: Path, fakes: Fakes, **extra: str) -> LiveServer:
    env = {"DATABASE_URL": database_url, "ENVIRONMENT": "test", "JWT_SECRET": settings.jwt_secret,
           "BCRYPT_ROUNDS": "4", "REDIS_URL": "", "PINECONE_API_KEY": "",
           "OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": fakes.urls["openai"] + "/v1",
           "ELEVENLABS_API_KEY": "el-test", "ELEVENLABS_BASE_URL": fakes.urls["eleven"],
           "LIVEAVATAR_API_KEY": API_KEY, "LIVEAVATAR_AVATAR_ID": AVATAR_ID,
           "LIVEAVATAR_BASE_URL": fakes.urls["avatar"], "LIVEAVATAR_KEEPALIVE_S": str(KEEPALIVE_S),
           "LIVEAVATAR_CONNECT_TIMEOUT_S": "2",
           "VOICE_TTS_TIMEOUT_S": "2", "RATE_LIMIT_VOICE": "1000/minute", "RATE_LIMIT_CHAT": "1000/minute", **extra}
    return start_live_server(env, log)


@pytest.fixture(scope="module")
def server(database_url: str, settings: Settings, fakes: Fakes,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = _server(database_url, settings, tmp_path_factory.mktemp("avatar") / "server.log", fakes,
                   VOICE_IDLE_TIMEOUT_S="900")
    yield live
    stop_live_server(live)


@pytest.fixture(scope="module")
def idle_server(database_url: str, settings: Settings, fakes: Fakes,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = _server(database_url, settings, tmp_path_factory.mktemp("avatar-idle") / "server.log", fakes,
                   VOICE_IDLE_TIMEOUT_S="2")
    yield live
    stop_live_server(live)


@pytest.fixture(autouse=True)
def _reset(fakes: Fakes) -> None:
    fakes.openai.config = OpenAIConfig()
    fakes.eleven.config = ElevenLabsConfig()
    fakes.avatar.reset()


async def until(check: Callable[[], Awaitable[Any] | Any], what: str, wait_s: float = 30) -> Any:
    deadline = time.monotonic() + wait_s
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        assert time.monotonic() < deadline, f"still waiting for {what}"
        await asyncio.sleep(0.05)


async def connect(server: LiveServer, world: World, *, dealer: uuid.UUID | None = None,
                  avatar: str = "liveavatar") -> tuple[VoiceClient, dict[str, Any], Account]:
    account = await world.account(Role.user, dealer or await world.dealership())
    client = await VoiceClient.connect(server.url, account.token)
    ready = await client.start("roleplay", persona_id="sam-price", avatar=avatar)
    return client, ready, account


async def avatar_ready(client: VoiceClient) -> dict[str, Any]:
    return await client.wait_for("avatar.ready", wait_s=20)


def packets(session: FakeSession) -> list[dict[str, Any]]:
    return [r.message for r in session.messages("agent.speak")]


async def usage_rows(world: World) -> list[AvatarUsage]:
    async with world.state.sessionmaker() as db:
        return list((await db.execute(select(AvatarUsage))).scalars())


async def stopped(fakes: Fakes, world: World) -> FakeSession:
    """The provider session was stopped and its usage row closed."""
    session = await until(lambda: next((s for s in fakes.avatar.sessions.values() if s.stopped_at), None),
                          "the LiveAvatar session to be stopped")

    async def closed() -> bool:
        rows = await usage_rows(world)
        return bool(rows) and all(r.stopped_at is not None for r in rows)
    await until(closed, "the avatar usage row to close")
    return session  # type: ignore[no-any-return]


# -- the bridge ----------------------------------------------------------------------------------
async def test_a_reply_is_spoken_by_the_avatar_not_the_browser(server: LiveServer, world: World,
                                                                fakes: Fakes) -> None:
    fakes.openai.config = OpenAIConfig(reply=LONG_REPLY)
    client, ready, account = await connect(server, world)
    ready_avatar = await avatar_ready(client)
    session = fakes.avatar.only()
    assert fakes.avatar.token_requests == [{"api_key": API_KEY, "body": {"mode": "LITE", "avatar_id": AVATAR_ID}}]
    assert ready_avatar == {"type": "avatar.ready", "provider": "liveavatar", "look": "man-young-casual",
                            "livekit_url": "wss://livekit.fake.invalid", "livekit_token": "lk-" + session.session_id}
    await client.send({"type": "text", "text": "How much is it?"})
    start = await client.wait_for("audio.start", wait_s=30)
    end = await client.wait_for("audio.end", wait_s=30)
    message_id = start["message_id"]
    assert start["sample_rate"] == RATE and end["message_id"] == message_id
    assert fakes.eleven.requests[-1]["output_format"] == "pcm_24000"
    # The browser gets the words to caption and time the face by, and no audio of its own.
    assert [e for e in client.events(["audio.words"]) if e["message_id"] == message_id]
    assert not client.audio.get(message_id)
    await until(lambda: session.messages("agent.speak_end"), "agent.speak_end")
    speak = packets(session)
    # Nothing before `connected`; one event_id for the whole reply; speak_end after its audio.
    assert session.received and not any(r.before_connected for r in session.received)
    assert {p["event_id"] for p in speak} == {message_id}
    kinds = [r.message["type"] for r in session.received if r.message["type"] != "session.keep_alive"]
    assert kinds == ["agent.speak"] * len(speak) + ["agent.speak_end"]
    assert session.messages("agent.speak_end")[0].message == {"type": "agent.speak_end", "event_id": message_id}
    # PCM16 mono 24 kHz, base64: ~600 ms first, ~1 s after, never over 1 MB.
    sizes = [len(base64.b64decode(p["audio"])) for p in speak]
    assert all(size % 2 == 0 for size in sizes)
    assert 0 < sizes[0] <= 600 * BYTES_PER_MS
    assert all(size <= 1000 * BYTES_PER_MS for size in sizes[1:])
    assert len(speak) >= 3 and max(sizes[1:]) == 1000 * BYTES_PER_MS  # mostly whole-second packets
    assert all(r.size < 1024 * 1024 for r in session.received)
    expected_ms = len(LONG_REPLY) * fakes.eleven.config.ms_per_char  # the fake TTS: a tone per character
    assert abs(sum(sizes) / BYTES_PER_MS - expected_ms) < 200
    # The whole reply was heard (agent.speak_ended): stored in full, not flagged interrupted.
    await client.wait_for("metrics", wait_s=30)
    await client.send({"type": "end"})
    await client.closed()
    stored = (await world.client.get(f"/api/v1/sessions/{ready['session_id']}", headers=account.headers)).json()
    assert stored["channel"] == "avatar"
    assert stored["messages"][-1]["text"] == LONG_REPLY and not stored["messages"][-1]["interrupted"]
    await stopped(fakes, world)


async def test_the_browser_hears_when_the_avatar_starts_and_stops_speaking(server: LiveServer, world: World,
                                                                          fakes: Fakes) -> None:
    # No local playback to caption by: the browser's caption clock runs from these events.
    fakes.openai.config = OpenAIConfig(reply="It is a fair price for what you get.")
    client, _, _ = await connect(server, world)
    await avatar_ready(client)
    await client.send({"type": "text", "text": "Is that fair?"})
    message_id = (await client.wait_for("audio.start", wait_s=30))["message_id"]
    session = fakes.avatar.only()

    def speaking() -> list[dict[str, Any]]:
        return client.events(["avatar.speaking"])
    await until(lambda: len(speaking()) >= 2, "avatar.speaking started and ended")
    started, ended = speaking()
    assert started == {"type": "avatar.speaking", "message_id": message_id, "state": "started", "at_ms": 0}
    assert ended["message_id"] == message_id and ended["state"] == "ended"
    # Ended at the end of the reply: all of the audio the avatar was given.
    spoken_ms = len(session.audio(message_id)) / BYTES_PER_MS
    assert abs(ended["at_ms"] - spoken_ms) <= 1
    order = [e["type"] for e in client.events(["audio.start", "avatar.speaking"])]
    assert order == ["audio.start", "avatar.speaking", "avatar.speaking"]
    await client.close()
    await stopped(fakes, world)


async def test_nothing_is_sent_before_connected(server: LiveServer, world: World, fakes: Fakes) -> None:
    fakes.avatar.config.connect_delay_s = 1.2  # slower than the first reply
    fakes.openai.config = OpenAIConfig(reply="Hello there, nice to meet you.")
    client, _, _ = await connect(server, world)
    await avatar_ready(client)
    await client.send({"type": "text", "text": "Hi"})
    session = fakes.avatar.only()
    await until(lambda: session.messages("agent.speak_end"), "the reply to reach the avatar", wait_s=30)
    assert session.connected_at is not None
    assert not any(r.before_connected for r in session.received)
    assert session.messages("agent.speak")[0].at >= session.connected_at
    await client.close()
    await stopped(fakes, world)


async def test_keep_alive_inside_the_idle_limit(server: LiveServer, world: World, fakes: Fakes) -> None:
    client, _, _ = await connect(server, world)
    await avatar_ready(client)
    session = fakes.avatar.only()
    await until(lambda: len(session.messages("session.keep_alive")) >= 3, "three keep-alives", wait_s=20)
    assert session.messages("session.keep_alive")[0].message == {"type": "session.keep_alive"}
    assert not any(r.before_connected for r in session.received)
    await client.close()
    await stopped(fakes, world)


async def test_barge_in_interrupts_the_avatar(server: LiveServer, world: World, fakes: Fakes) -> None:
    fakes.openai.config = OpenAIConfig(reply=LONG_REPLY)
    client, _, _ = await connect(server, world)
    await avatar_ready(client)
    await client.send({"type": "text", "text": "How much is it?"})
    start = await client.wait_for("audio.start", wait_s=30)
    session = fakes.avatar.only()
    await until(lambda: session.messages("agent.speak"), "the avatar to speak")
    await asyncio.sleep(1.5)
    fakes.openai.config = OpenAIConfig(transcript="Wait, stop, that is not what I asked.", reply="Fine.")
    await client.stream(utterance("Wait, stop, that is not what I asked.", before_ms=200, after_ms=800))
    interrupted = await client.wait_for("interrupted", wait_s=30)
    assert interrupted["message_id"] == start["message_id"]
    await until(lambda: session.messages("agent.interrupt"), "agent.interrupt")
    # Heard text from the avatar's own speak_started: some, not all, of the reply.
    heard = interrupted["heard_text"]
    assert heard and LONG_REPLY.startswith(heard) and len(heard) < len(LONG_REPLY)
    # The next reply is a new event_id.
    next_start = await client.wait_for("audio.start", wait_s=30)
    await until(lambda: any(p["event_id"] == next_start["message_id"] for p in packets(session)),
                "the next reply to reach the avatar")
    await client.close()
    await stopped(fakes, world)


async def test_a_backchannel_pauses_the_avatar_and_it_speaks_on_from_the_pause_point(
        server: LiveServer, world: World, fakes: Fakes) -> None:
    fakes.openai.config = OpenAIConfig(reply=LONG_REPLY)
    client, _, _ = await connect(server, world)
    await avatar_ready(client)
    first_request = len(fakes.eleven.requests)
    await client.send({"type": "text", "text": "How much is it?"})
    start = await client.wait_for("audio.start", wait_s=30)
    message_id = start["message_id"]
    session = fakes.avatar.only()
    await until(lambda: session.messages("agent.speak"), "the avatar to speak")
    await asyncio.sleep(1.0)
    fakes.openai.config.transcript = "Uh-huh."
    await client.stream(speech("uh huh") + silence(900, 16000))
    paused = await client.wait_for("playback.pause", wait_s=30)
    resumed = await client.wait_for("playback.resume", wait_s=30)
    assert paused["message_id"] == resumed["message_id"] == message_id and resumed["text"] == "Uh-huh."
    await client.wait_for("metrics", wait_s=60)  # the reply is done: its speak_end is on its way

    def ended_after_the_resume() -> bool:
        kinds = [r.message["type"] for r in session.received]
        return "agent.interrupt" in kinds and "agent.speak_end" in kinds[kinds.index("agent.interrupt"):]
    await until(ended_after_the_resume, "agent.speak_end after the resume")
    assert client.events(["interrupted"]) == []
    # While the user talked the avatar was told to listen (it looks attentive).
    listening = [r.message["type"] for r in session.received if "listening" in r.message["type"]]
    assert listening == ["agent.start_listening", "agent.stop_listening"]
    messages = [r.message for r in session.received
                if r.message["type"] in ("agent.speak", "agent.speak_end", "agent.interrupt")]
    kinds = [m["type"] for m in messages]
    cut = kinds.index("agent.interrupt")  # LITE has no pause: the avatar is stopped...
    assert kinds.count("agent.interrupt") == 1 and kinds[-1] == "agent.speak_end"
    assert set(kinds[cut + 1:-1]) == {"agent.speak"}  # ...and speaks again
    # One event_id throughout; after the resume, the reply again from where the user stopped
    # hearing it (by the avatar's own speak_started), to its very end: nothing lost.
    assert {m["event_id"] for m in messages if m["type"] == "agent.speak"} == {message_id}
    again = b"".join(base64.b64decode(m["audio"]) for m in messages[cut + 1:-1])
    reply = b"".join(tone(len(r["text"]) * fakes.eleven.config.ms_per_char, RATE)
                     for r in fakes.eleven.requests[first_request:])
    assert paused["at_ms"] > 300  # the avatar had been speaking for a while
    # The browser's caption clock: started at 0, held over the pause, started again from the pause
    # point, ended at the reply's end.
    await until(lambda: [e["state"] for e in client.events(["avatar.speaking"])] == ["started", "started", "ended"],
                "avatar.speaking started, started again and ended")
    speaking = client.events(["avatar.speaking"])
    assert {e["message_id"] for e in speaking} == {message_id}
    assert speaking[0]["at_ms"] == 0 and abs(speaking[1]["at_ms"] - paused["at_ms"]) <= 1
    assert abs(speaking[2]["at_ms"] - len(reply) / BYTES_PER_MS) <= 1
    assert reply.endswith(again) and abs(len(reply) - len(again) - paused["at_ms"] * BYTES_PER_MS) <= BYTES_PER_MS
    assert not client.audio.get(message_id)  # and still nothing played in the browser
    await client.close()
    await stopped(fakes, world)


# -- fallback --------------------------------------------------------------------------------------
async def test_a_failed_start_falls_back_to_the_builtin_avatar(server: LiveServer, world: World,
                                                              fakes: Fakes) -> None:
    fakes.avatar.config.start_fail_status = 503
    fakes.openai.config = OpenAIConfig(reply="It is a fair price.")
    client, _, _ = await connect(server, world)
    error = await client.wait_for("avatar.error", wait_s=20)
    assert error["code"] == "avatar_start_failed" and error["fallback"] == "builtin"
    assert (await avatar_ready(client))["provider"] == "builtin"
    # The session goes on; replies play in the browser (24 kHz, as audio.start says).
    await client.send({"type": "text", "text": "How much?"})
    start = await client.wait_for("audio.start", wait_s=30)
    await client.wait_for("audio.end", wait_s=30)
    assert start["sample_rate"] == RATE and client.audio[start["message_id"]]
    assert client.events(["avatar.speaking"]) == []  # the browser captions by its own playback
    # The token's session was stopped (it may have been billed); no minutes metered.
    await until(lambda: fakes.avatar.only().stopped_at, "the failed session to be stopped")
    assert await usage_rows(world) == []
    await client.close()


async def test_a_dropped_socket_falls_back_and_nothing_said_is_lost(server: LiveServer, world: World,
                                                                   fakes: Fakes) -> None:
    fakes.avatar.config.drop_after_packets = 2
    fakes.openai.config = OpenAIConfig(reply=LONG_REPLY)
    client, ready, account = await connect(server, world)
    await avatar_ready(client)
    await client.send({"type": "text", "text": "How much is it?"})
    start = await client.wait_for("audio.start", wait_s=30)
    error = await client.wait_for("avatar.error", wait_s=30)
    assert error["code"] == "avatar_dropped" and error["fallback"] == "builtin"
    assert (await avatar_ready(client))["provider"] == "builtin"
    await client.wait_for("audio.end", wait_s=30)
    # What the avatar had not yet said reaches the browser: the reply's tail is there.
    got = len(client.audio.get(start["message_id"], b""))
    total = len(LONG_REPLY) * fakes.eleven.config.ms_per_char * BYTES_PER_MS
    assert got > 0.5 * total
    # The next reply plays in the browser in full.
    fakes.openai.config = OpenAIConfig(reply="Fine.")
    await client.send({"type": "text", "text": "Okay."})
    second = await client.wait_for("audio.start", wait_s=30)
    await client.wait_for("audio.end", wait_s=30)
    assert client.audio[second["message_id"]]
    await client.wait_for("metrics", wait_s=30)
    await stopped(fakes, world)
    stored = (await world.client.get(f"/api/v1/sessions/{ready['session_id']}", headers=account.headers)).json()
    assert next(m["text"] for m in stored["messages"] if m["role"] == "assistant") == LONG_REPLY
    await client.close()


async def test_an_avatar_that_never_connects_falls_back(server: LiveServer, world: World, fakes: Fakes) -> None:
    fakes.avatar.config.never_connect = True
    client, _, _ = await connect(server, world)
    await client.wait_for("avatar.ready")
    error = await client.wait_for("avatar.error", wait_s=20)
    assert error["code"] == "avatar_start_failed" and error["fallback"] == "builtin"
    await stopped(fakes, world)
    assert not fakes.avatar.only().received  # nothing was ever sent on its socket
    await client.close()


# -- stop on every exit path -------------------------------------------------------------------
@pytest.mark.parametrize("exit_path", ["end", "drop", "error"])
async def test_the_provider_session_stops_on_every_exit_path(server: LiveServer, world: World, fakes: Fakes,
                                                              exit_path: str) -> None:
    client, ready, _ = await connect(server, world)
    await avatar_ready(client)
    await until(lambda: fakes.avatar.only().connected_at, "connected")
    if exit_path == "end":
        await client.send({"type": "end"})
        await client.wait_for("session.ended", wait_s=30)
    elif exit_path == "drop":
        await client.connection.close()
    else:  # an oversize message: the server closes the socket with 1009
        await client.connection.send(b"\0" * (64 * 1024 + 2))
        assert await client.closed() == 1009
    session = await stopped(fakes, world)
    assert not session.socket_open
    rows = await usage_rows(world)
    assert len(rows) == 1 and str(rows[0].session_id) == ready["session_id"]
    assert rows[0].provider_session_id == session.session_id


async def test_the_provider_session_stops_on_idle_timeout(idle_server: LiveServer, world: World,
                                                          fakes: Fakes) -> None:
    client, _, _ = await connect(idle_server, world)
    await avatar_ready(client)
    ended = await client.wait_for("session.ended", wait_s=30)
    assert ended["reason"] == "idle"
    await stopped(fakes, world)


# -- dealership settings and quota -----------------------------------------------------------------
async def set_avatar(world: World, dealer: uuid.UUID, **avatar: Any) -> dict[str, Any]:
    admin = await world.account(Role.dealership_admin, dealer)
    response = await world.client.patch(f"/api/v1/dealerships/{dealer}", headers=admin.headers,
                                        json={"settings": {"avatar": avatar}})
    assert response.status_code == 200, response.text
    return dict(response.json()["settings"]["avatar"])


async def add_usage(world: World, dealer: uuid.UUID, seconds: float) -> None:
    now = datetime.now(UTC)
    async with world.state.sessionmaker() as db, db.begin():
        db.add(AvatarUsage(dealership_id=dealer, session_id=uuid.uuid4(), provider="liveavatar",
                           provider_session_id="earlier", started_at=now - timedelta(seconds=seconds + 1),
                           stopped_at=now - timedelta(seconds=1)))


async def test_a_dealership_over_its_cap_gets_the_builtin_avatar(server: LiveServer, world: World,
                                                                fakes: Fakes) -> None:
    dealer = await world.dealership()
    await set_avatar(world, dealer, monthly_minutes_cap=2)
    await add_usage(world, dealer, 120)
    client, _, _ = await connect(server, world, dealer=dealer)
    error = await client.wait_for("avatar.error")
    assert error["code"] == "avatar_quota_exhausted" and error["fallback"] == "builtin"
    assert (await avatar_ready(client))["provider"] == "builtin"
    assert fakes.avatar.token_requests == []  # no provider session: no cost
    await client.close()


async def test_the_cap_running_out_mid_session_falls_back(server: LiveServer, world: World, fakes: Fakes) -> None:
    dealer = await world.dealership()
    await set_avatar(world, dealer, monthly_minutes_cap=1)
    await add_usage(world, dealer, 58)  # two seconds left
    client, _, _ = await connect(server, world, dealer=dealer)
    assert (await avatar_ready(client))["provider"] == "liveavatar"
    error = await client.wait_for("avatar.error", wait_s=20)
    assert error["code"] == "avatar_quota_exhausted" and error["fallback"] == "builtin"
    assert (await avatar_ready(client))["provider"] == "builtin"
    await stopped(fakes, world)
    await client.close()


async def test_the_avatar_channel_switched_off(server: LiveServer, world: World, fakes: Fakes) -> None:
    dealer = await world.dealership()
    assert await set_avatar(world, dealer, enabled=False) == {
        "enabled": False, "provider": None, "monthly_minutes_cap": None}
    client, ready, account = await connect(server, world, dealer=dealer, avatar="builtin")
    error = await client.wait_for("avatar.error")
    assert error["code"] == "avatar_disabled" and error["fallback"] == "none"
    await client.send({"type": "text", "text": "Hello"})
    start = await client.wait_for("audio.start", wait_s=30)
    await client.wait_for("audio.end", wait_s=30)
    assert client.audio[start["message_id"]]  # plain voice
    assert not client.events(["avatar.ready"])
    stored = (await world.client.get(f"/api/v1/sessions/{ready['session_id']}", headers=account.headers)).json()
    assert stored["channel"] == "voice"
    await client.close()


async def test_avatar_minutes_are_shown_with_the_usage(server: LiveServer, world: World, fakes: Fakes) -> None:
    client, _, account = await connect(server, world)
    await avatar_ready(client)
    await until(lambda: fakes.avatar.only().connected_at, "connected")
    await asyncio.sleep(1.0)
    await client.send({"type": "end"})
    await client.wait_for("session.ended", wait_s=30)
    await stopped(fakes, world)
    admin = await world.account(Role.dealership_admin, account.dealership_id)
    usage = (await world.client.get("/api/v1/usage", headers=admin.headers)).json()
    [item] = usage["items"]
    assert item["dealership_id"] == str(account.dealership_id)
    assert 1.0 / 60 <= item["avatar_minutes"] < 1.0
    assert usage["totals"]["avatar_minutes"] == item["avatar_minutes"]
    other = await world.account(Role.dealership_admin, await world.dealership())
    assert (await world.client.get("/api/v1/usage", headers=other.headers)).json()["items"] == []




async def test_the_avatars_reply_audio_is_recorded(server: LiveServer, world: World, fakes: Fakes) -> None:
    dealer = await world.dealership()
    admin = await world.account(Role.dealership_admin, dealer)
    response = await world.client.patch(f"/api/v1/dealerships/{dealer}", headers=admin.headers,
                                        json={"settings": {"record_audio": True}})
    assert response.status_code == 200, response.text
    fakes.openai.config = OpenAIConfig(reply="It is a fair price.")
    client, ready, _ = await connect(server, world, dealer=dealer)
    await avatar_ready(client)
    await client.send({"type": "text", "text": "How much?"})
    start = await client.wait_for("audio.start", wait_s=30)
    await client.wait_for("metrics", wait_s=30)
    await client.send({"type": "end"})
    await client.closed()

    async def clips() -> list[VoiceRecording]:
        async with world.state.sessionmaker() as db:
            return list((await db.execute(select(VoiceRecording).where(
                VoiceRecording.session_id == uuid.UUID(ready["session_id"]),
                VoiceRecording.side == Side.assistant))).scalars())
    [clip] = await until(clips, "the reply's recording")
    assert str(clip.message_id) == start["message_id"] and clip.sample_rate == RATE
    expected_ms = len("It is a fair price.") * fakes.eleven.config.ms_per_char
    assert abs(clip.duration_ms - expected_ms) < 100
    assert not client.audio.get(start["message_id"])  # recorded, not played in the browser
    await stopped(fakes, world)
