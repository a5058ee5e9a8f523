"""The offline voice end to end, with no keys at all: a real uvicorn server hears the user with
Whisper tiny.en and answers in Piper's voice over the real WebSocket protocol."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from server.db.models import Role
from server.settings import Settings
from server.voice.audio import resample
from server.voice.client import VoiceClient
from server.voice.offline import models
from server.voice.offline.pool import InferencePool
from server.voice.offline.whisper import WhisperTranscriber
from tests.conftest import LiveServer, World, start_live_server, stop_live_server
from tests.offline_speech import errors, words
from tests.voice_audio import utterance

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def offline_server(database_url: str, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        LiveServer]:
    env = {"DATABASE_URL": database_url, "ENVIRONMENT": "test", "JWT_SECRET": settings.jwt_secret,
           "BCRYPT_ROUNDS": "4", "REDIS_URL": "", "PINECONE_API_KEY": "", "OPENAI_API_KEY": "",
           "ELEVENLABS_API_KEY": "", "OFFLINE_TTS": "piper", "RATE_LIMIT_VOICE": "1000/minute"}
    live = start_live_server(env, tmp_path_factory.mktemp("voice-offline") / "server.log")
    yield live
    stop_live_server(live)


async def test_offline_voice_turn_hears_the_user_and_answers_in_piper(
        offline_server: LiveServer, world: World) -> None:
    dealer = await world.dealership()
    account = await world.account(Role.user, dealer)
    client = await VoiceClient.connect(offline_server.url, account.token)
    ready = await client.start("roleplay", output_rate=24000)
    assert ready["offline"] == {"stt": True, "llm": True, "tts": True}
    assert ready["providers"] == {"stt": models.WHISPER, "tts": models.PIPER}
    # The first session of a fresh server is told the models are loading.
    warming = await client.wait_for("warning")
    assert warming["code"] == "warming_up" and warming["message"]

    await client.stream(utterance("How much is this car?", before_ms=200, after_ms=900))
    transcript = await client.wait_for("transcript", wait_s=60)
    assert words(transcript["text"]) == ["how", "much", "is", "this", "car"]
    start = await client.wait_for("audio.start", wait_s=60)
    await client.wait_for("audio.end", wait_s=60)
    metrics = await client.wait_for("metrics", wait_s=20)
    assert start["sample_rate"] == 24000 and metrics["message_id"] == start["message_id"]
    reply = "".join(e["text"] for e in client.events(["response.delta"]) if e["message_id"] == start["message_id"])
    audio = bytes(client.audio[start["message_id"]])
    assert reply and len(audio) > 24000  # over half a second of speech

    # The reply audio is speech of the reply's words: Whisper reads it back.
    pool = InferencePool(1)
    try:
        heard = await WhisperTranscriber(pool).transcribe(resample(audio, 24000, 16000), 16000)
    finally:
        pool.close()
    expected = words(reply)
    assert errors(expected, words(heard)) <= max(1, len(expected) // 5), (reply, heard)

    # A second session finds the models loaded: no warning.
    other = await VoiceClient.connect(offline_server.url, account.token)
    await other.start("roleplay")
    await other.send({"type": "text", "text": "Can you do better on the price?"})
    await other.wait_for("metrics", wait_s=60)
    assert not other.events(["warning"])
    await asyncio.gather(client.close(), other.close())
