"""The voice WebSocket end to end: a real uvicorn server, a `websockets` client, fake OpenAI and
ElevenLabs servers on free ports, and speech made with eSpeak NG."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.db.models import Role
from server.settings import Settings
from server.voice.audio import silence
from tests.conftest import LiveServer, World, inside_one_rate_window, start_live_server, stop_live_server
from tests.fakes.elevenlabs_server import ElevenLabsConfig, FakeElevenLabs
from tests.fakes.openai_voice import FakeOpenAI, OpenAIConfig
from tests.fakes.server import serve_in_thread
from tests.patience import PatientVoiceClient as VoiceClient  # deadlines for a loaded machine
from tests.voice_audio import speech, utterance

pytestmark = pytest.mark.e2e

LONG_REPLY = ("Well, I have to say the price seems high to me. I saw the same model across town "
              "for two thousand less, and that one came with winter tires and a longer warranty.")


class Fakes:
    def __init__(self, openai: FakeOpenAI, eleven: FakeElevenLabs) -> None:
        self.openai = openai
        self.eleven = eleven


@pytest.fixture(scope="module")
def fakes() -> Iterator[tuple[Fakes, str, str]]:
    fake_openai, fake_eleven = FakeOpenAI(), FakeElevenLabs()
    with serve_in_thread(fake_openai.app()) as openai_url, serve_in_thread(fake_eleven.app()) as eleven_url:
        yield Fakes(fake_openai, fake_eleven), openai_url, eleven_url


def _server(database_url: str, settings: Settings, log: Path, openai_url: str, eleven_url: str,
            **extra: str) -> LiveServer:
    env = {"DATABASE_URL": database_url, "ENVIRONMENT": "test", "JWT_SECRET": settings.jwt_secret,
           "BCRYPT_ROUNDS": "4", "REDIS_URL": "", "PINECONE_API_KEY": "",
           "OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": openai_url + "/v1",
           "ELEVENLABS_API_KEY": "el-test", "ELEVENLABS_BASE_URL": eleven_url,
           "VOICE_TTS_TIMEOUT_S": "1", "RATE_LIMIT_VOICE": "1000/minute", **extra}
    return start_live_server(env, log)


@pytest.fixture(scope="module")
def server(database_url: str, settings: Settings, fakes: tuple[Fakes, str, str],
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = _server(database_url, settings, tmp_path_factory.mktemp("voice") / "server.log", fakes[1], fakes[2])
    yield live
    stop_live_server(live)


@pytest.fixture(scope="module")
def strict_server(database_url: str, settings: Settings, fakes: tuple[Fakes, str, str],
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Short timers and tight limits, for the limit tests."""
    live = _server(database_url, settings, tmp_path_factory.mktemp("voice-strict") / "server.log",
                   fakes[1], fakes[2], VOICE_AUTH_TIMEOUT_S="1", VOICE_IDLE_TIMEOUT_S="1.5",
                   VOICE_MAX_SESSION_S="3", VOICE_MAX_SESSIONS_PER_USER="2", RATE_LIMIT_VOICE="4/minute")
    yield live
    stop_live_server(live)


@pytest.fixture(autouse=True)
def _reset_fakes(request: pytest.FixtureRequest) -> None:
    if "fakes" in request.fixturenames:
        fakes = request.getfixturevalue("fakes")[0]
        fakes.openai.config = OpenAIConfig()
        fakes.eleven.config = ElevenLabsConfig()


async def session(server: LiveServer, world: World) -> VoiceClient:
    dealer = await world.dealership()
    account = await world.account(Role.user, dealer)
    client = await VoiceClient.connect(server.url, account.token)
    ready = await client.start("roleplay")
    assert ready["session_id"] and ready["offline"] == {"stt": False, "llm": False, "tts": False}
    return client


async def speak(client: VoiceClient, text: str, *, after_ms: int = 800) -> None:
    await client.stream(utterance(text, before_ms=200, after_ms=after_ms))


# -- turns ----------------------------------------------------------------------------------------
async def test_full_turn(server: LiveServer, world: World, fakes: tuple[Fakes, str, str]) -> None:
    client = await session(server, world)
    await speak(client, "How much is this car?")
    transcript = await client.wait_for("transcript")
    assert transcript == {"type": "transcript", "text": "How much is this car?", "final": True}
    start = await client.wait_for("audio.start")
    end = await client.wait_for("audio.end", wait_s=20)
    metrics = await client.wait_for("metrics")
    assert start["message_id"] == end["message_id"] == metrics["message_id"] and start["sample_rate"] == 16000
    deltas = [e["text"] for e in client.events(["response.delta"])]
    assert "".join(deltas) == OpenAIConfig().reply
    assert len(client.audio[start["message_id"]]) > 0
    for key in ("endpoint_ms", "stt_ms", "llm_ttft_ms", "tts_ttfb_ms", "first_audio_ms"):
        assert isinstance(metrics[key], int) and metrics[key] >= 0, key
    assert metrics["first_audio_ms"] >= metrics["endpoint_ms"]
    assert [e["speaking"] for e in client.events(["vad"])] == [True, False]
    await client.send({"type": "end"})
    ended = await client.wait_for("session.ended")
    assert ended["reason"] == "client_end" and ended["session_id"]
    assert await client.closed() == 1000


async def test_two_turns_keep_the_history(server: LiveServer, world: World, fakes: tuple[Fakes, str, str]) -> None:
    client = await session(server, world)
    for _ in range(2):
        await speak(client, "How much is this car?")
        await client.wait_for("metrics", wait_s=20)
    history = fakes[0].openai.chats[-1]["messages"]
    assert [m["role"] for m in history] == ["system", "user", "assistant", "user"]
    assert history[2]["content"] == OpenAIConfig().reply
    await client.close()


async def test_typed_text_turn(server: LiveServer, world: World, fakes: tuple[Fakes, str, str]) -> None:
    client = await session(server, world)
    await client.send({"type": "text", "text": "Can you do better on the price?"})
    assert (await client.wait_for("transcript"))["text"] == "Can you do better on the price?"
    metrics = await client.wait_for("metrics", wait_s=20)
    assert metrics["endpoint_ms"] is None and metrics["stt_ms"] is None and metrics["first_audio_ms"] > 0
    assert fakes[0].openai.chats[-1]["messages"][-1]["content"] == "Can you do better on the price?"
    await client.close()


async def barge_in(client: VoiceClient, openai: FakeOpenAI) -> tuple[dict[str, Any], dict[str, Any]]:
    """A long reply starts, the client reports 1.4 s played, then the user talks over it.
    Returns the cut reply's `audio.start` and the `interrupted` event."""
    openai.config.reply = LONG_REPLY
    await speak(client, "How much is this car?")
    start = await client.wait_for("audio.start", wait_s=20)
    await asyncio.sleep(1.5)
    await client.send({"type": "playback", "message_id": start["message_id"], "played_ms": 1400})
    openai.config.reply = "Fine."
    await speak(client, "Wait, stop, that is not what I asked.")
    return start, await client.wait_for("interrupted")


async def test_barge_in_stops_audio_and_keeps_only_what_was_heard(
        server: LiveServer, world: World, fakes: tuple[Fakes, str, str]) -> None:
    client = await session(server, world)
    start, interrupted = await barge_in(client, fakes[0].openai)
    assert interrupted["message_id"] == start["message_id"]
    heard = interrupted["heard_text"]
    assert heard and LONG_REPLY.startswith(heard) and len(heard) < len(LONG_REPLY) / 2
    await client.wait_for("metrics", wait_s=20)  # the new turn is answered
    # No audio for the interrupted message after `interrupted`, and no audio.end for it.
    log = client.log
    at = next(i for i, r in enumerate(log) if r.event and r.event["type"] == "interrupted")
    next_start = next(i for i, r in enumerate(log) if i > at and r.event and r.event["type"] == "audio.start")
    assert all(r.event is not None for r in log[at + 1:next_start])
    assert not any(e["message_id"] == start["message_id"] for e in client.events(["audio.end"]))
    # The engine remembers only the heard part.
    history = fakes[0].openai.chats[-1]["messages"]
    assert history[2] == {"role": "assistant", "content": heard}
    await client.close()


async def test_backchannel_does_not_interrupt(server: LiveServer, world: World, fakes: tuple[Fakes, str, str]) -> None:
    fakes[0].openai.config.reply = LONG_REPLY
    client = await session(server, world)
    await speak(client, "How much is this car?")
    start = await client.wait_for("audio.start", wait_s=20)
    await asyncio.sleep(0.5)
    chats = len(fakes[0].openai.chats)
    # 160 ms of voice: WebRTC VAD's hangover adds ~80-120 ms, so the detector counts < 300 ms.
    await client.stream(speech("uh huh")[: 16000 * 2 * 160 // 1000] + silence(800, 16000))
    end = await client.wait_for("audio.end", wait_s=20)
    assert end["message_id"] == start["message_id"]
    assert client.events(["interrupted"]) == []
    assert [e["speaking"] for e in client.events(["vad"])] == [True, False, True, False]
    assert len(fakes[0].openai.chats) == chats  # the "uh-huh" did not become a turn
    await client.close()


async def test_resume_continues_the_conversation(server: LiveServer, world: World,
                                                 fakes: tuple[Fakes, str, str]) -> None:
    dealer = await world.dealership()
    account = await world.account(Role.user, dealer)
    client = await VoiceClient.connect(server.url, account.token)
    session_id = (await client.start())["session_id"]
    await client.send({"type": "text", "text": "First question."})
    await client.wait_for("metrics", wait_s=20)
    client.connection.transport.abort()  # a dropped connection, no close handshake
    again = await VoiceClient.connect(server.url, account.token)
    assert (await again.start(session_id=session_id))["session_id"] == session_id
    await again.send({"type": "text", "text": "Second question."})
    await again.wait_for("metrics", wait_s=20)
    contents = [m["content"] for m in fakes[0].openai.chats[-1]["messages"]]
    assert contents[1:] == ["First question.", OpenAIConfig().reply, "Second question."]
    # Someone else cannot resume it.
    other = await world.account(Role.user, dealer)
    stranger = await VoiceClient.connect(server.url, other.token)
    await stranger.send({"type": "start", "mode": "roleplay", "session_id": session_id})
    assert (await stranger.wait_for("error"))["code"] == "session_not_found"
    await again.close()
    await stranger.close()


# -- provider failures ----------------------------------------------------------------------------
@pytest.mark.parametrize(("failure", "code"), [("stt", "stt_failed"), ("llm", "llm_failed"), ("tts", "tts_failed")])
async def test_provider_failure_mid_turn_then_the_next_turn_works(
        server: LiveServer, world: World, fakes: tuple[Fakes, str, str], failure: str, code: str) -> None:
    client = await session(server, world)
    if failure == "stt":
        fakes[0].openai.config.stt_fail_next = 10  # every segment of this turn fails
    elif failure == "llm":
        fakes[0].openai.config.cut_next_after = 4
    else:
        fakes[0].eleven.config.hang_next = 1  # TTS timeout (1 s on this server)
    await speak(client, "How much is this car?")
    error = await client.wait_for("error", wait_s=20)
    assert error["code"] == code and error["message"] and error["retryable"] is True
    fakes[0].openai.config.stt_fail_next = 0
    await asyncio.sleep(0.5)
    await speak(client, "How much is this car?")
    metrics = await client.wait_for("metrics", wait_s=20)
    assert metrics["first_audio_ms"] > 0
    await client.close()


# -- limits and auth ------------------------------------------------------------------------------
async def test_oversized_frame_closes_with_1009(server: LiveServer, world: World) -> None:
    client = await session(server, world)
    await client.connection.send(bytes(64 * 1024 + 2))
    assert await client.closed() == 1009


async def test_audio_faster_than_real_time_is_refused(server: LiveServer, world: World) -> None:
    client = await session(server, world)
    await client.stream(silence(6000, 16000), realtime=False, frames_per_message=10)
    error = await client.wait_for("error")
    assert error["code"] == "audio_too_fast"
    await client.send({"type": "text", "text": "Still there?"})  # the session carries on
    await client.wait_for("metrics", wait_s=20)
    await client.close()


async def test_malformed_and_unknown_messages_give_errors_and_the_session_continues(
        server: LiveServer, world: World) -> None:
    client = await session(server, world)
    await client.connection.send("{not json")
    assert (await client.wait_for("error"))["code"] == "malformed"
    await client.send({"type": "dance"})
    assert (await client.wait_for("error"))["code"] == "unknown_type"
    await client.send({"type": "text"})
    assert (await client.wait_for("error"))["code"] == "malformed"
    await client.connection.send(b"\x00\x01\x02")
    assert (await client.wait_for("error"))["code"] == "bad_audio"
    await client.send({"type": "text", "text": "Hello?"})
    await client.wait_for("metrics", wait_s=20)
    await client.close()


async def test_audio_before_start_and_bad_start(server: LiveServer, world: World) -> None:
    dealer = await world.dealership()
    account = await world.account(Role.user, dealer)
    client = await VoiceClient.connect(server.url, account.token)
    await client.connection.send(bytes(640))
    assert (await client.wait_for("error"))["code"] == "not_started"
    await client.send({"type": "start", "mode": "roleplay", "output_audio": {"sample_rate": 44100}})
    assert (await client.wait_for("error"))["code"] == "unsupported_audio"
    ready = await client.start("roleplay", output_rate=24000)
    assert ready["protocol_version"]
    await client.close()


async def test_auth_timeout_closes_4401(strict_server: LiveServer) -> None:
    client = await VoiceClient.connect(strict_server.url, None)
    assert await client.closed() == 4401


@pytest.mark.parametrize("first", [{"type": "auth", "token": "not-a-jwt"}, {"type": "start", "mode": "roleplay"}])
async def test_bad_auth_closes_4401(server: LiveServer, first: dict[str, str]) -> None:
    client = await VoiceClient.connect(server.url, None)
    await client.send(first)
    assert (await client.wait_for("error"))["code"] == "auth_failed"
    assert await client.closed() == 4401


async def test_idle_timeout_ends_the_session(strict_server: LiveServer, world: World) -> None:
    client = await session(strict_server, world)
    ended = await client.wait_for("session.ended", wait_s=5)
    assert ended["reason"] == "idle"
    assert await client.closed() == 1000


async def test_max_session_length_ends_the_session(strict_server: LiveServer, world: World) -> None:
    client = await session(strict_server, world)
    streaming = asyncio.get_running_loop().create_task(client.stream(silence(5000, 16000)))
    ended = await client.wait_for("session.ended", wait_s=6)
    assert ended["reason"] == "max_duration"
    streaming.cancel()
    await asyncio.wait([streaming])
    assert await client.closed() == 1000


async def test_concurrent_session_cap_and_start_rate_limit(strict_server: LiveServer, world: World) -> None:
    dealer = await world.dealership()
    account = await world.account(Role.user, dealer)
    await inside_one_rate_window()  # exact counts below
    first = await VoiceClient.connect(strict_server.url, account.token)
    second = await VoiceClient.connect(strict_server.url, account.token)
    await first.start()
    await second.start()
    third = await VoiceClient.connect(strict_server.url, account.token)
    assert (await third.wait_for("error"))["code"] == "too_many_sessions"
    assert await third.closed() == 4429
    await first.close()
    await second.close()
    await asyncio.sleep(0.3)
    # 4 starts per minute on this server: three are spent, the fourth opens, the fifth is refused.
    fourth = await VoiceClient.connect(strict_server.url, account.token)
    await fourth.start()
    fifth = await VoiceClient.connect(strict_server.url, account.token)
    error = await fifth.wait_for("error")
    assert error["code"] == "rate_limited" and error["retryable"] is True
    assert await fifth.closed() == 4429
    await fourth.close()



async def test_talk_cli_streams_a_wav_and_saves_the_reply(server: LiveServer, world: World,
                                                          tmp_path: Path) -> None:
    import subprocess
    import sys

    from server.voice.audio import read_wav, to_wav

    dealer = await world.dealership()
    account = await world.account(Role.user, dealer)
    wav = tmp_path / "say.wav"
    wav.write_bytes(to_wav(utterance("How much is this car?"), 16000))
    out = tmp_path / "reply.wav"
    result = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "server.cli", "talk", "--wav", str(wav), "--out", str(out),
                         "--url", server.url, "--token", account.token],
        capture_output=True, text=True, timeout=60, env={**__import__("os").environ, "ENVIRONMENT": "development"})
    assert result.returncode == 0, result.stderr
    assert "you:  How much is this car?" in result.stdout
    assert "metrics:" in result.stdout and "first_audio_ms" in result.stdout
    pcm, rate = read_wav(out.read_bytes())
    assert rate == 16000 and len(pcm) > 16000  # more than half a second of reply
