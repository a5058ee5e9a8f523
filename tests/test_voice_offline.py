"""The offline voice stages for real: Whisper tiny.en (faster-whisper) and Piper en_US-joe-medium,
the inference pool they share, and the recognition accuracy on dealership talk (word error rate
over a set of sentences in several voices and speeds).

Models load once per process; the pool fixture is per session. The machine these run on is
small and shared: the set is spoken once, each sentence in one voice."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import aclosing

import pytest

from server.voice.audio import duration_ms
from server.voice.offline import models
from server.voice.offline.piper import PiperSynthesizer
from server.voice.offline.pool import InferencePool
from server.voice.offline.voice import OfflineVoice
from server.voice.offline.whisper import WhisperTranscriber
from server.voice.runtime import voice_runtime
from server.voice.stt import SttError
from server.voice.tts import EspeakSynthesizer
from tests.conftest import make_settings
from tests.offline_speech import VOICES, Voice, errors, sentences, spoken, word_error_rate, words
from tests.voice_audio import speech, utterance
from tests.voice_brain import StandaloneBrain


@pytest.fixture(scope="session")
def pool() -> Iterator[InferencePool]:
    pool = InferencePool()
    yield pool
    pool.close()


@pytest.fixture(scope="session")
def whisper(pool: InferencePool) -> WhisperTranscriber:
    return WhisperTranscriber(pool)


@pytest.fixture(scope="session")
def piper(pool: InferencePool) -> PiperSynthesizer:
    return PiperSynthesizer(pool)


# -- the pool ---------------------------------------------------------------------------------------
async def test_pool_runs_jobs_off_the_loop_and_queues_beyond_its_size() -> None:
    pool = InferencePool(1)
    release = threading.Event()
    try:
        first = asyncio.ensure_future(pool.run(release.wait, 30))
        second = asyncio.ensure_future(pool.run(lambda: "second"))
        await asyncio.sleep(0)
        # The only thread is blocked, yet the loop runs: the second job waits in the queue.
        assert pool.jobs == 2 and pool.saturated and not second.done()
        release.set()
        assert await first is True and await second == "second"
        assert pool.jobs == 0 and not pool.saturated
    finally:
        release.set()
        pool.close()


async def test_pool_forgets_a_cancelled_job_that_never_started() -> None:
    pool = InferencePool(1)
    release = threading.Event()
    try:
        first = asyncio.ensure_future(pool.run(release.wait, 30))
        queued = asyncio.ensure_future(pool.run(lambda: "never"))
        await asyncio.sleep(0)
        queued.cancel()
        with pytest.raises(asyncio.CancelledError):
            await queued
        release.set()
        await first
        assert pool.jobs == 0
    finally:
        release.set()
        pool.close()


async def test_a_turn_knows_when_it_will_queue_behind_other_sessions() -> None:
    pool = InferencePool(2)
    offline = OfflineVoice(pool, stt=True, tts=True)
    release = threading.Event()
    try:
        assert not offline.busy()
        one = asyncio.ensure_future(pool.run(release.wait, 30))
        await asyncio.sleep(0)
        assert not offline.busy()  # a thread is free
        two = asyncio.ensure_future(pool.run(release.wait, 30))
        await asyncio.sleep(0)
        assert offline.busy()  # both taken by others: this turn queues (the session warns)
        assert not offline.busy(own_jobs=1)  # one of them is this turn's own segment
        release.set()
        await asyncio.gather(one, two)
        assert not offline.busy()
    finally:
        release.set()
        pool.close()


def test_pool_is_sized_to_the_cpus() -> None:
    from server.voice.offline.pool import cpu_count

    assert InferencePool().workers == cpu_count() >= 1
    assert InferencePool(3).workers == 3


# -- models -----------------------------------------------------------------------------------------
async def test_models_load_once_per_process_and_warm_up_in_the_pool(pool: InferencePool) -> None:
    offline = OfflineVoice(pool, stt=True, tts=True)
    ready_at_first = offline.warm()
    deadline = asyncio.get_running_loop().time() + 120
    while not offline.ready:
        assert asyncio.get_running_loop().time() < deadline, "models did not load"
        await asyncio.sleep(0.05)
    assert offline.warm() is True
    assert ready_at_first is False or (models.whisper.loaded and models.piper.loaded)
    for model in (models.whisper, models.piper):
        first, again = model.get(), model.get()
        assert first is again and first.load_s > 0 and first.path.exists()


async def test_runtime_picks_the_offline_models_without_keys(database_url: str) -> None:
    brain = StandaloneBrain(None, model="offline")
    async with voice_runtime(make_settings(database_url), brain) as runtime:
        assert isinstance(runtime.transcriber, WhisperTranscriber)
        assert isinstance(runtime.synthesizer, PiperSynthesizer)
        assert runtime.transcriber.offline and runtime.synthesizer.offline
        assert runtime.providers == {"stt": models.WHISPER, "tts": models.PIPER}
        assert runtime.offline_voice is not None and runtime.offline_voice.stt and runtime.offline_voice.tts
    async with voice_runtime(make_settings(database_url, offline_tts="espeak"), brain) as runtime:
        assert isinstance(runtime.synthesizer, EspeakSynthesizer)
        assert runtime.providers["tts"] == models.ESPEAK
        assert runtime.offline_voice is not None and not runtime.offline_voice.tts
    with pytest.raises(ValueError, match="offline_tts"):
        make_settings(database_url, offline_tts="festival")


# -- recognition ------------------------------------------------------------------------------------
# How Whisper tiny.en writes each backchannel as eSpeak says it: "uh-huh" comes back as "Uh-uh"
# and "mm-hmm" as "Mm mm" (or nothing); a backchannel word list must hold those spellings too.
BACKCHANNELS = {"Uh-huh.": [["uh", "huh"], ["uh", "uh"]], "Mm-hmm.": [[], ["mm", "mm"], ["mm", "hmm"]],
                "Yeah.": [["yeah"]], "Right.": [["right"]], "Okay.": [["okay"]], "I see.": [["i", "see"]],
                "Sure.": [["sure"]]}


@pytest.mark.parametrize("said", list(BACKCHANNELS))
async def test_whisper_hears_backchannels(whisper: WhisperTranscriber, said: str) -> None:
    # As the endpointer hands it over: 200 ms of silence before (its prefix) and after.
    heard = words(await whisper.transcribe(utterance(said, before_ms=200, after_ms=200), 16000))
    assert heard in BACKCHANNELS[said], heard


async def test_whisper_hears_nothing_in_silence(whisper: WhisperTranscriber) -> None:
    assert await whisper.transcribe(bytes(16000 * 2), 16000) == ""


async def test_whisper_accepts_other_input_rates(whisper: WhisperTranscriber) -> None:
    text = await whisper.transcribe(speech("How much is this car?", 24000), 24000)
    assert words(text) == ["how", "much", "is", "this", "car"]


async def test_word_error_rate_on_dealership_talk(whisper: WhisperTranscriber, piper: PiperSynthesizer) -> None:
    said = sentences()
    assert len(said) >= 20
    voices: list[Voice] = [VOICES[i % len(VOICES)] for i in range(len(said))]
    audio = [await spoken(text, voice, piper) for text, voice in zip(said, voices, strict=True)]
    heard = await asyncio.gather(*(whisper.transcribe(pcm, 16000) for pcm in audio))
    pairs = list(zip(said, heard, strict=True))
    rate = word_error_rate(pairs)
    wrong = [f"{voice}: {text!r} -> {got!r}" for (text, got), voice in zip(pairs, voices, strict=True)
             if errors(words(text), words(got))]
    assert rate <= 0.10, f"WER {rate:.1%}:\n" + "\n".join(wrong)


def test_word_error_rate_counts_every_kind_of_error() -> None:
    assert errors(words("the blue one"), words("The blue one.")) == 0
    assert errors(words("the blue one"), words("a blue")) == 2  # one substitution, one deletion
    assert errors(words("uh-huh"), words("uh huh okay")) == 1  # one insertion
    assert word_error_rate([("a b c d", "a b c d"), ("e f", "e")]) == pytest.approx(1 / 6)


# -- synthesis --------------------------------------------------------------------------------------
@pytest.mark.parametrize("rate", [16000, 24000])
async def test_piper_speaks_at_the_session_rate(piper: PiperSynthesizer, rate: int) -> None:
    async with aclosing(piper.stream("It is a fair price.", rate)) as chunks:
        pcm = b"".join([chunk.audio async for chunk in chunks])
    assert len(pcm) % 2 == 0 and 0.6 < duration_ms(pcm, rate) / 1000 < 3.0
    assert max(abs(int.from_bytes(pcm[i:i + 2], "little", signed=True)) for i in range(0, len(pcm), 2)) > 3000


async def test_piper_streams_sentence_by_sentence(piper: PiperSynthesizer, pool: InferencePool,
                                                   whisper: WhisperTranscriber) -> None:
    text = "Sure. I can hold the car for you until Friday if you leave a small deposit today."
    async with aclosing(piper.stream(text, 16000)) as chunks:
        first = (await anext(chunks)).audio
        # The first sentence is out and the second has not been started: synthesis follows the
        # listener, and a barge-in here leaves nothing running in the pool.
        assert pool.jobs == 0 and 0 < duration_ms(first, 16000) <= 200
        rest = [chunk.audio async for chunk in chunks]
    whole = first + b"".join(rest)
    assert words(await whisper.transcribe(whole, 16000))[:3] == ["sure", "i", "can"]


async def test_piper_is_understood_by_whisper(piper: PiperSynthesizer, whisper: WhisperTranscriber) -> None:
    """Piper's voice is sampled (its model draws noise), so one sentence can come out a word off
    ("across time" for "across town" in about one run in three): the issue's bar, a word error rate
    of at most 10 %, is held here for the sentence and over 24 sentences above."""
    said = "I saw the same model across town for a lot less."
    async with aclosing(piper.stream(said, 24000)) as chunks:
        pcm = b"".join([chunk.audio async for chunk in chunks])
    assert word_error_rate([(said, await whisper.transcribe(pcm, 24000))]) <= 0.10




async def test_a_failing_model_call_is_an_stt_error_not_a_crash(whisper: WhisperTranscriber) -> None:
    with pytest.raises(SttError, match="offline recognition failed: ValueError") as caught:
        await whisper.transcribe(b"\x00\x00\x00", 16000)  # not whole 16-bit samples
    assert caught.value.retryable is False


async def test_piper_says_nothing_for_nothing(piper: PiperSynthesizer) -> None:
    async with aclosing(piper.stream("", 16000)) as chunks:
        assert [chunk async for chunk in chunks] == []
