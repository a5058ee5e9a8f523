"""The provider adapters with the real SDKs, against local fakes of OpenAI and ElevenLabs;
eSpeak NG for real (Whisper and Piper: tests/test_voice_offline.py); and the reply pipeline
(engine -> sentences -> TTS -> pacing)."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Iterator
from contextlib import aclosing
from typing import Any

import httpx
import openai
import pytest
from elevenlabs.client import AsyncElevenLabs

from server.db.models import Role
from server.tasks import TaskSupervisor
from server.tenancy import Principal
from server.voice.audio import duration_ms
from server.voice.brain import OpenRequest
from server.voice.metrics import TurnClock
from server.voice.pacer import PacedSender
from server.voice.reply import ReplyPipeline, StageFailure
from server.voice.stt import OpenAITranscriber, SttError, TurnTranscriber
from server.voice.tts import ElevenLabsHttp, ElevenLabsSocket, EspeakSynthesizer, Synthesizer, TtsError
from server.voice.words import Word
from tests.fakes.elevenlabs_server import ElevenLabsConfig, FakeElevenLabs
from tests.fakes.openai_voice import FakeOpenAI, OpenAIConfig
from tests.fakes.server import serve_in_thread
from tests.voice_audio import speech
from tests.voice_brain import StandaloneBrain


@pytest.fixture(scope="module")
def fake_openai() -> Iterator[tuple[FakeOpenAI, str]]:
    fake = FakeOpenAI()
    with serve_in_thread(fake.app()) as url:
        yield fake, url


@pytest.fixture(scope="module")
def fake_eleven() -> Iterator[tuple[FakeElevenLabs, str]]:
    fake = FakeElevenLabs()
    with serve_in_thread(fake.app()) as url:
        yield fake, url


@pytest.fixture(autouse=True)
def _reset(request: pytest.FixtureRequest) -> None:
    for name in ("fake_openai", "fake_eleven"):
        if name in request.fixturenames:
            fake = request.getfixturevalue(name)[0]
            fake.config = OpenAIConfig() if name == "fake_openai" else ElevenLabsConfig()


def openai_client(url: str, **kwargs: Any) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key="test", base_url=url + "/v1", max_retries=0, **kwargs)


# -- STT ------------------------------------------------------------------------------------------
async def test_openai_transcriber_sends_wav_with_the_model(fake_openai: tuple[FakeOpenAI, str]) -> None:
    fake, url = fake_openai
    fake.config.transcript = " Is that your best price? "
    transcriber = OpenAITranscriber(openai_client(url), "whisper-1")
    assert await transcriber.transcribe(speech("Is that your best price?"), 16000) == "Is that your best price?"
    sent = fake.transcriptions[-1]
    assert sent["model"] == "whisper-1" and sent["filename"] == "turn.wav" and sent["sample_rate"] == 16000
    assert sent["seconds"] == pytest.approx(duration_ms(speech("Is that your best price?"), 16000) / 1000)


async def test_openai_transcriber_failure_is_an_stt_error(fake_openai: tuple[FakeOpenAI, str]) -> None:
    fake, url = fake_openai
    fake.config.stt_fail_next = 1
    with pytest.raises(SttError) as info:
        await OpenAITranscriber(openai_client(url), "gpt-4o-mini-transcribe").transcribe(b"\0" * 640, 16000)
    assert info.value.retryable


async def test_turn_transcriber_sends_segments_early_and_joins_in_order(fake_openai: tuple[FakeOpenAI, str]) -> None:
    fake, url = fake_openai
    fake.config.stt_latency_s = 0.2
    tasks = TaskSupervisor()
    turn = TurnTranscriber(OpenAITranscriber(openai_client(url), "whisper-1"), 16000, tasks.spawn)
    before = len(fake.transcriptions)
    turn.add(speech("one"))
    turn.add(speech("two"))
    await asyncio.sleep(0.1)
    assert len(fake.transcriptions) == before + 2  # already on their way while the user talks
    text = await turn.finish(b"")
    assert text == "How much is this car? How much is this car?"
    assert len(fake.transcriptions) == before + 2  # an empty tail costs no request


async def test_turn_transcriber_without_pipelining_sends_one_file(fake_openai: tuple[FakeOpenAI, str]) -> None:
    fake, url = fake_openai
    tasks = TaskSupervisor()
    turn = TurnTranscriber(OpenAITranscriber(openai_client(url), "whisper-1"), 16000, tasks.spawn, pipelining=False)
    before = len(fake.transcriptions)
    turn.add(speech("one"))
    turn.add(speech("two"))
    assert await turn.finish(speech("three")) == "How much is this car?"
    assert len(fake.transcriptions) == before + 1


# -- TTS ------------------------------------------------------------------------------------------
def eleven_http(url: str, timeout: float = 2.0) -> tuple[ElevenLabsHttp, httpx.AsyncClient]:
    http = httpx.AsyncClient()
    client = AsyncElevenLabs(api_key="el-test", base_url=url, httpx_client=http)
    return ElevenLabsHttp(client, voice_id="voice1", model="eleven_flash_v2_5", timeout=timeout), http


async def collect(synth: Synthesizer, text: str, rate: int) -> bytes:
    return (await collect_timed(synth, text, rate))[0]


async def collect_timed(synth: Synthesizer, text: str, rate: int) -> tuple[bytes, list[Word]]:
    chunks = [chunk async for chunk in synth.stream(text, rate)]
    return b"".join(c.audio for c in chunks), [word for c in chunks for word in c.words]


@pytest.mark.parametrize("rate", [16000, 24000])
async def test_elevenlabs_http_streams_pcm_at_the_session_rate(fake_eleven: tuple[FakeElevenLabs, str],
                                                               rate: int) -> None:
    fake, url = fake_eleven
    synth, http = eleven_http(url)
    pcm, words = await collect_timed(synth, "Hello there.", rate)
    await http.aclose()
    assert duration_ms(pcm, rate) == pytest.approx(len("Hello there.") * 60, abs=1)
    # The with-timestamps stream: words from the fake's character alignment (60 ms a character).
    assert [(w.text, round(w.start_ms), round(w.end_ms)) for w in words] == [("Hello", 0, 300),
                                                                           ("there.", 360, 720)]
    sent = fake.requests[-1]
    assert sent == {"transport": "http+timestamps", "voice_id": "voice1", "text": "Hello there.",
                    "model_id": "eleven_flash_v2_5", "output_format": f"pcm_{rate}", "api_key": "el-test"}


async def test_elevenlabs_http_failure_and_timeout(fake_eleven: tuple[FakeElevenLabs, str]) -> None:
    fake, url = fake_eleven
    synth, http = eleven_http(url, timeout=0.3)
    fake.config.fail_next = 1
    with pytest.raises(TtsError):
        await collect(synth, "Hello.", 16000)
    fake.config.hang_next = 1
    with pytest.raises(TtsError, match=r"nothing for 0\.3 s"):
        await collect(synth, "Hello.", 16000)
    await asyncio.sleep(0.2)
    assert fake.open_streams == 0  # the hung response was closed, not left open
    await http.aclose()


async def test_elevenlabs_http_stream_is_closed_when_cancelled(fake_eleven: tuple[FakeElevenLabs, str]) -> None:
    fake, url = fake_eleven
    fake.config.speed = 1.0
    synth, http = eleven_http(url)
    async with aclosing(synth.stream("A long sentence that takes a while to say out loud.", 16000)) as chunks:
        await anext(chunks)
        assert fake.open_streams == 1
    for _ in range(50):
        if fake.open_streams == 0:
            break
        await asyncio.sleep(0.02)
    assert fake.open_streams == 0
    await http.aclose()


async def test_elevenlabs_socket_streams_pcm(fake_eleven: tuple[FakeElevenLabs, str]) -> None:
    fake, url = fake_eleven
    synth = ElevenLabsSocket(url, "el-test", voice_id="voice1", model="eleven_flash_v2_5", timeout=2)
    pcm, words = await collect_timed(synth, "Hello there.", 24000)
    assert duration_ms(pcm, 24000) == pytest.approx(len("Hello there.") * 60, abs=1)
    assert [(w.text, round(w.start_ms), round(w.end_ms)) for w in words] == [("Hello", 0, 300),
                                                                           ("there.", 360, 720)]
    assert fake.requests[-1]["transport"] == "websocket" and fake.requests[-1]["text"] == "Hello there."
    assert fake.requests[-1]["api_key"] == "el-test" and fake.open_streams == 0


async def test_espeak_synthesizer_speaks_at_the_session_rate() -> None:
    pcm, words = await collect_timed(EspeakSynthesizer(), "It is a fair price.", 24000)
    assert 0.6 < duration_ms(pcm, 24000) / 1000 < 3.0
    # Timed by eSpeak's own word events: in order, inside the audio, the text word for word.
    assert " ".join(w.text for w in words) == "It is a fair price."
    assert words[0].start_ms == 0 and words[-1].end_ms <= duration_ms(pcm, 24000) + 1
    assert all(a.end_ms <= b.start_ms and a.start_ms < a.end_ms for a, b in itertools.pairwise(words))
    assert words[-1].start_ms > 300  # "price." comes well into the sentence, not spread evenly
    assert max(abs(int.from_bytes(pcm[i:i + 2], "little", signed=True)) for i in range(0, len(pcm), 2)) > 1000


# -- the reply pipeline ---------------------------------------------------------------------------
PRINCIPAL = Principal(user_id=uuid.uuid4(), role=Role.user, dealership_id=uuid.uuid4(), email="a@b.c", name="A")


async def make_reply(url: str, synth: Synthesizer, *, pipelining: bool = True) -> tuple[
        ReplyPipeline, list[Any], StandaloneBrain, str]:
    brain = StandaloneBrain(openai_client(url), model="gpt-4o")
    opened = await brain.open(PRINCIPAL, OpenRequest(mode="roleplay"))
    out: list[Any] = []

    async def emit(message: dict[str, Any]) -> None:
        out.append(message)

    async def send(chunk: bytes) -> None:
        out.append(chunk)

    reply = ReplyPipeline(brain=brain, session_id=opened.session_id, synthesizer=synth, emit=emit,
                          sender=PacedSender(send, 16000, lead_ms=10_000), sample_rate=16000,
                          clock=TurnClock(speech_end=TurnClock.now()), llm_timeout_s=5, pipelining=pipelining)
    return reply, out, brain, opened.session_id


async def test_reply_streams_text_then_audio_in_order(fake_openai: tuple[FakeOpenAI, str],
                                                      fake_eleven: tuple[FakeElevenLabs, str]) -> None:
    _, url = fake_openai
    synth, http = eleven_http(fake_eleven[1])
    before = len(fake_eleven[0].requests)
    reply, out, _, _ = await make_reply(url, synth)
    await reply.run("Why so expensive?")
    await http.aclose()
    kinds = [m["type"] if isinstance(m, dict) else "audio" for m in out]
    assert kinds[0] == "response.delta" and kinds[-1] == "audio.end"
    assert "".join(m["text"] for m in out if isinstance(m, dict) and m["type"] == "response.delta") == reply.text
    assert reply.text == OpenAIConfig().reply
    assert all(len(m) <= 40 * 32 for m in out if isinstance(m, bytes))  # chunks of at most 40 ms
    # One TTS request per sentence, in order.
    assert [r["text"] for r in fake_eleven[0].requests[before:]] == [
        "It is a fair price.", "The car has low mileage and a full service history."]
    assert reply.heard_text(reply.sender.sent_ms) == reply.text
    # Each sentence's word timings, on the reply's clock, no later than the audio they describe
    # (a word goes out with the chunk that completes it, here with no pacing to hold audio back).
    timed = [m for m in out if isinstance(m, dict) and m["type"] == "audio.words"]
    assert sorted({m["offset_ms"] for m in timed}) == [0, len("It is a fair price.") * 60]
    words = [w for m in timed for w in m["words"]]
    assert " ".join(w["text"] for w in words) == reply.text
    assert words[5] == {"text": "The", "start_ms": 1140, "end_ms": 1320}
    audio_before = [sum(len(m) for m in out[:i] if isinstance(m, bytes)) for i, m in enumerate(out) if m in timed]
    assert all(duration_ms(b"\0" * sent, 16000) <= first_end
               for sent, first_end in zip(audio_before, [m["words"][0]["end_ms"] for m in timed], strict=True))
    assert reply.heard_text(1319) == "It is a fair price." and reply.heard_text(1320) == "It is a fair price. The"


async def test_reply_without_pipelining_synthesises_after_the_whole_text(
        fake_openai: tuple[FakeOpenAI, str], fake_eleven: tuple[FakeElevenLabs, str]) -> None:
    synth, http = eleven_http(fake_eleven[1])
    reply, out, _, _ = await make_reply(fake_openai[1], synth, pipelining=False)
    await reply.run("Why so expensive?")
    await http.aclose()
    kinds = [m["type"] if isinstance(m, dict) else "audio" for m in out]
    assert kinds.index("audio.start") > max(i for i, k in enumerate(kinds) if k == "response.delta")


async def test_cancelling_a_reply_stops_everything(fake_openai: tuple[FakeOpenAI, str],
                                                   fake_eleven: tuple[FakeElevenLabs, str]) -> None:
    fake, url = fake_openai
    fake.config.tokens_per_s = 5  # still generating when cancelled
    fake_eleven[0].config.speed = 1.0
    synth, http = eleven_http(fake_eleven[1])
    reply, out, _, _ = await make_reply(url, synth)
    first_audio = asyncio.Event()
    reply.sender._send = _notify(reply.sender._send, first_audio)
    task = asyncio.get_running_loop().create_task(reply.run("Why?"))
    await asyncio.wait_for(first_audio.wait(), 10)
    task.cancel()
    await asyncio.wait([task])
    sent = len(out)
    await asyncio.sleep(0.3)
    assert len(out) == sent  # nothing more goes out
    for _ in range(50):
        if fake.open_streams == 0 and fake_eleven[0].open_streams == 0:
            break
        await asyncio.sleep(0.02)
    assert fake.open_streams == 0 and fake_eleven[0].open_streams == 0
    await http.aclose()


def _notify(send: Any, flag: asyncio.Event) -> Any:
    async def wrapped(chunk: bytes) -> None:
        await send(chunk)
        flag.set()

    return wrapped


@pytest.mark.parametrize("failure", ["llm_cut", "tts_500"])
async def test_provider_failure_ends_the_reply_with_a_stage_failure(
        fake_openai: tuple[FakeOpenAI, str], fake_eleven: tuple[FakeElevenLabs, str], failure: str) -> None:
    if failure == "llm_cut":
        fake_openai[0].config.cut_next_after = 3
    else:
        fake_eleven[0].config.fail_next = 1
    synth, http = eleven_http(fake_eleven[1])
    reply, _, _, _ = await make_reply(fake_openai[1], synth)
    with pytest.raises(StageFailure) as info:
        await reply.run("Why?")
    await http.aclose()
    assert info.value.code.value == ("llm_failed" if failure == "llm_cut" else "tts_failed")
