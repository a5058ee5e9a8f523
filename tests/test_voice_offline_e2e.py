"""The offline voice end to end, with no keys at all: a real uvicorn server hears the user with
Whisper tiny.en and answers in Piper's voice over the real WebSocket protocol."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest

from server.db.models import Role
from server.settings import Settings
from server.voice.audio import duration_ms, resample
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

    # The microphone stays open after the words: while the models load, the segment's words are
    # not back yet and the turn ends after the longest silence (VOICE_END_OF_TURN_MAX_MS).
    transcript = await client.say(utterance("How much is this car?", before_ms=200, after_ms=0), ("transcript",))
    assert words(transcript["text"]) == ["how", "much", "is", "this", "car"]
    start = await client.wait_for("audio.start", wait_s=60)
    await client.wait_for("audio.end", wait_s=60)
    metrics = await client.wait_for("metrics", wait_s=20)
    assert start["sample_rate"] == 24000 and metrics["message_id"] == start["message_id"]
    reply = "".join(e["text"] for e in client.events(["response.delta"]) if e["message_id"] == start["message_id"])
    audio = bytes(client.audio[start["message_id"]])
    assert reply and len(audio) > 24000  # over half a second of speech

    # Piper's words come timed from its own phoneme durations: every sentence's words, spelling
    # the reply, in order, inside the audio actually sent (after resampling to 24 kHz).
    timed = [e for e in client.events(["audio.words"]) if e["message_id"] == start["message_id"]]
    words_sent = [w for e in timed for w in e["words"]]
    assert " ".join(w["text"] for w in words_sent) == " ".join(reply.split())
    assert len(timed) >= len(re.findall(r"[.!?](\s|$)", reply.strip()))  # one event per sentence at least
    for event in timed:
        assert all(w["start_ms"] >= event["offset_ms"] for w in event["words"])
    audio_ms = duration_ms(audio, 24000)
    for before, after in itertools.pairwise(words_sent):
        assert before["end_ms"] <= after["start_ms"]
    assert all(0 <= w["start_ms"] <= w["end_ms"] <= audio_ms for w in words_sent)
    assert words_sent[-1]["end_ms"] > audio_ms - 1000  # the last word ends near the end of the audio

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


async def test_offline_interrupted_answer_ends_at_the_last_word_heard(offline_server: LiveServer, world: World) -> None:
    """Heard text is cut from Piper's word timings at the client's playback position: the stored
    answer ends exactly at the last word the trainee heard, with no keys."""
    dealer = await world.dealership()
    account = await world.account(Role.user, dealer)
    client = await VoiceClient.connect(offline_server.url, account.token)
    session_id = (await client.start("roleplay", output_rate=16000))["session_id"]
    await client.send({"type": "text", "text": "Tell me about the warranty and the price of this car."})
    start = await client.wait_for("audio.start", wait_s=60)
    message_id = start["message_id"]

    def timed() -> list[dict[str, Any]]:
        return [w for e in client.events(["audio.words"]) if e["message_id"] == message_id for w in e["words"]]

    # The client stops at the end of a word followed by a long one, so the few ms between its
    # report and the server acting cannot reach the next word's end.
    index = -1
    for _ in range(600):
        words_sent = timed()
        index = next((i for i in range(1, len(words_sent) - 1) if len(words_sent[i + 1]["text"]) >= 4), -1)
        if index > 0:
            break
        await asyncio.sleep(0.05)
    assert index > 0, words_sent
    played_ms = words_sent[index]["end_ms"]
    for _ in range(600):  # the server has sent past that point (it never counts unsent audio as heard)
        if len(client.audio.get(message_id, b"")) >= (played_ms + 200) * 32:
            break
        await asyncio.sleep(0.05)
    await client.send({"type": "playback", "message_id": message_id, "played_ms": played_ms})
    await client.send({"type": "interrupt"})
    interrupted = await client.wait_for("interrupted", wait_s=30)
    expected = " ".join(w["text"] for w in words_sent[:index + 1])
    assert interrupted["message_id"] == message_id and interrupted["heard_text"] == expected
    answers: list[dict[str, Any]] = []
    for _ in range(200):  # stored by the turn as it ends
        response = await world.client.get(f"/api/v1/sessions/{session_id}", headers=account.headers)
        assert response.status_code == 200, response.text
        answers = [m for m in response.json()["messages"] if m["role"] == "assistant"]
        if answers and answers[-1]["interrupted"]:
            break
        await asyncio.sleep(0.05)
    assert answers[-1]["interrupted"] is True and answers[-1]["text"] == expected, answers
    await client.close()
