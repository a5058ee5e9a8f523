"""Each stage of the voice pipeline on its own: feed input in, check what comes out."""

from __future__ import annotations

import pytest

from server.voice.audio import Framer, RateGuard, duration_ms, frame_bytes, read_wav, resample, silence, to_wav
from server.voice.heard import SpokenWords
from server.voice.metrics import AudioClock
from server.voice.protocol import ProtocolError
from server.voice.sentences import SentenceAggregator
from server.voice.vad import Endpointer, Segment, SpeechStarted, TurnEnded, VadConfig
from server.voice.words import AlignmentWords, Word, words_from_marks
from tests.fakes.elevenlabs_server import tone
from tests.voice_audio import frames, speech, utterance


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# -- the session's audio clock ------------------------------------------------------------------
def test_audio_clock_dates_audio_by_the_stream_not_by_when_it_was_read() -> None:
    clock = Clock()
    audio = AudioClock(clock)
    assert audio.at(0) == clock.now  # nothing received yet
    origin = clock.now
    for _ in range(50):  # 1 s read in real time, each message a little late
        clock.now += 0.020
        audio.received(20)
    clock.now += 0.025  # 5 ms late
    audio.received(20)
    assert audio.at(1000) == pytest.approx(origin + 1.0)
    # The server stalls for 9 s, then reads the 9 s of audio queued meanwhile in one burst.
    clock.now += 9.0
    for _ in range(450):
        audio.received(20)
    assert audio.position_ms == 10_020
    assert audio.at(1500) == pytest.approx(origin + 1.5)  # spoken 1.5 s in, whenever it was read
    assert clock.now - audio.at(1500) == pytest.approx(8.525)


# -- framing and rate ---------------------------------------------------------------------------
def test_framer_recuts_messages_into_20ms_frames() -> None:
    framer = Framer(16000)
    size = frame_bytes(16000)
    assert size == 640
    assert framer.push(bytes(size * 2 + 100)) == [bytes(size), bytes(size)]
    assert framer.push(bytes(size - 100)) == [bytes(size)]
    with pytest.raises(ProtocolError):
        framer.push(b"\x00\x00\x00")


def test_rate_guard_allows_real_time_plus_burst_only() -> None:
    clock = Clock()
    guard = RateGuard(burst_ms=200, clock=clock)
    assert all(guard.admit(20) for _ in range(10))  # a 200 ms burst at once
    assert not guard.admit(20)
    clock.now += 0.1
    assert sum(guard.admit(20) for _ in range(10)) == 5  # 100 ms later: 100 ms more
    clock.now += 1.0  # the total is judged against the wall clock: a second later, a second more
    assert sum(guard.admit(20) for _ in range(100)) == 50


def test_rate_guard_never_refuses_a_real_time_client_whose_frames_arrive_bunched() -> None:
    """The server stalls (a busy machine) and then reads the queued frames at once: the client
    sent them in real time, so none is refused (issue 14, item 1)."""
    clock = Clock()
    guard = RateGuard(burst_ms=2000, clock=clock)
    clock.now += 0.3  # `start` -> `ready` -> the first frame
    refused = 0
    for _ in range(20):
        for _ in range(50):  # a second read on time, frame by frame
            clock.now += 0.02
            refused += not guard.admit(20)
        clock.now += 1.5  # a stall: 75 frames queue up, then arrive together
        refused += sum(not guard.admit(20) for _ in range(75))
    assert refused == 0
    # A client really faster than real time is still refused beyond the burst.
    assert sum(guard.admit(20) for _ in range(200)) == 115  # 0.3 s of slack + the 2 s burst


def test_wav_round_trip_and_resample() -> None:
    pcm = tone(500, 16000)
    assert read_wav(to_wav(pcm, 16000)) == (pcm, 16000)
    up = resample(pcm, 16000, 24000)
    assert duration_ms(up, 24000) == pytest.approx(500, abs=2)


# -- VAD and endpointing -------------------------------------------------------------------------
def run_vad(pcm: bytes, config: VadConfig | None = None) -> list[tuple[int, object]]:
    endpointer = Endpointer(config or VadConfig(), 16000)
    out: list[tuple[int, object]] = []
    for index, frame in enumerate(frames(pcm)):
        out.extend((index * 20, e) for e in endpointer.push(frame))
    return out


def test_silence_gives_no_events() -> None:
    assert run_vad(silence(3000, 16000)) == []


def test_speech_then_silence_starts_and_ends_one_turn() -> None:
    pcm = utterance("I am not sure this car is worth the price.", before_ms=400, after_ms=1000)
    events = run_vad(pcm)
    kinds = [type(e).__name__ for _, e in events]
    assert kinds[0] == "SpeechStarted" and kinds[-1] == "TurnEnded" and kinds.count("TurnEnded") == 1
    _, started = events[0]
    assert isinstance(started, SpeechStarted)
    assert 300 <= started.at_ms <= 700
    ended_at, ended = events[-1]
    assert isinstance(ended, TurnEnded)
    assert ended.silence_ms == 500
    speech_ms = duration_ms(speech("I am not sure this car is worth the price."), 16000)
    assert ended.speech_ms > speech_ms * 0.5
    # The turn ends 500 ms (+ at most the trailing unvoiced part of the last word) after speech.
    assert 400 + speech_ms + 500 - 100 <= ended_at <= 400 + speech_ms + 500 + 300
    assert ended.end_ms == ended_at + 20 - 500  # where the speech stopped: 500 ms before this frame's end


def test_short_pauses_cut_segments_so_only_the_tail_is_left() -> None:
    pcm = utterance("Well, I like the car.", after_ms=400) + utterance("But the price is too high.", before_ms=0)
    events = run_vad(pcm)
    segments = [e for _, e in events if isinstance(e, Segment)]
    ended = [e for _, e in events if isinstance(e, TurnEnded)]
    assert len(ended) == 1 and len(segments) >= 2
    # The last segment was cut at the final pause, before the end of turn: nothing left at the end.
    assert ended[0].pcm == b""
    assert sum(len(s.pcm) for s in segments) >= len(speech("Well, I like the car.")) + len(
        speech("But the price is too high."))


def test_longer_segment_pause_keeps_the_turn_whole() -> None:
    pcm = utterance("I like the car", after_ms=300) + utterance("but the price is too high.", before_ms=0)
    events = run_vad(pcm, VadConfig(segment_pause_ms=450))
    (end_at, _), = [(at, e) for at, e in events if isinstance(e, TurnEnded)]
    # The 300 ms gap cuts nothing; only the final pause (450 ms) does, just before the end.
    cuts = [(at, e) for at, e in events if isinstance(e, Segment)]
    assert len(cuts) == 1 and cuts[0][0] == end_at - 40
    assert len(cuts[0][1].pcm) > len(speech("I like the car")) + len(speech("but the price is too high."))


def test_a_click_is_not_speech() -> None:
    pcm = silence(500, 16000) + tone(60, 16000) + silence(1000, 16000)
    assert run_vad(pcm) == []


def test_speech_start_threshold_is_configurable() -> None:
    pcm = utterance("Yes.", after_ms=800)
    assert any(isinstance(e, SpeechStarted) for _, e in run_vad(pcm))
    assert run_vad(pcm, VadConfig(speech_start_ms=1500)) == []


# -- sentence aggregation ------------------------------------------------------------------------
def feed(aggregator: SentenceAggregator, text: str) -> list[str]:
    out: list[str] = []
    for token in text.split(" "):
        out.extend(aggregator.push(token + " "))
    return out


def test_sentences_are_cut_as_they_complete() -> None:
    aggregator = SentenceAggregator()
    assert aggregator.push("It is a fair price") == []
    assert aggregator.push(".") == []  # could still be "price.com" or "3.5"
    assert aggregator.push(" The mileage") == ["It is a fair price."]
    assert aggregator.push(" is low. ") == ["The mileage is low."]
    assert aggregator.flush() == []


def test_abbreviations_and_short_sentences_are_not_cut() -> None:
    aggregator = SentenceAggregator()
    out = feed(aggregator, "Sure. Mr. Smith said the car is ready today.")
    assert out == ["Sure. Mr. Smith said the car is ready today."]


def test_long_first_clause_goes_out_early() -> None:
    aggregator = SentenceAggregator(first_clause_chars=40)
    out = feed(aggregator, "Honestly I have been looking at three other dealerships this week, and none of them")
    assert out and out[0].endswith("week,")
    assert "".join(aggregator.flush()) == "and none of them"


# -- word timings and heard text ------------------------------------------------------------------
def test_words_are_built_from_a_character_alignment_split_across_chunks() -> None:
    text = "It's $20, okay?"
    starts = [i * 0.05 for i in range(len(text))]
    ends = [s + 0.04 for s in starts]
    words = AlignmentWords()
    out: list[Word] = []
    for first, last in ((0, 2), (2, 7), (7, 12), (12, len(text))):  # chunks cut words in two
        out += words.push(list(text[first:last]), starts[first:last], ends[first:last])
    assert [w.text for w in out] == ["It's", "$20,"]  # "okay?" has no whitespace after it yet
    out += words.flush()
    assert " ".join(w.text for w in out) == text
    assert [(round(w.start_ms), round(w.end_ms)) for w in out] == [(0, 190), (250, 440), (500, 740)]
    assert words.flush() == []


def test_words_from_synthesizer_marks_spell_the_whole_text() -> None:
    text = "Well, $25,000 — is a lot."
    # eSpeak-like marks: one per spoken word, "$25,000" spoken as three, the dash silent.
    marks = [(0, 0.0), (6, 500.0), (6, 800.0), (6, 1100.0), (16, 1600.0), (19, 1700.0), (21, 1800.0)]
    words = words_from_marks(text, marks, ends=[0.0, 450.0, 1400.0, 2100.0], total_ms=2300.0)
    assert " ".join(w.text for w in words) == text
    assert [(w.text, w.start_ms, w.end_ms) for w in words] == [
        ("Well,", 0, 450), ("$25,000", 500, 1400), ("—", 1400, 1400), ("is", 1600, 1700),
        ("a", 1700, 1800), ("lot.", 1800, 2100)]


def _spoken() -> SpokenWords:
    spoken = SpokenWords()
    assert spoken.begin("It is a fair price.") == 0
    timed = [Word("It", 0, 150), Word("is", 180, 300), Word("a", 320, 380), Word("fair", 400, 650),
             Word("price.", 680, 950)]
    spoken.add(600, timed[:3])
    spoken.add(400, timed[3:])
    spoken.complete()
    assert spoken.begin("The mileage is low.") == 1000
    placed = spoken.add(1000, [Word("The", 0, 200), Word("mileage", 250, 700), Word("is", 720, 800),
                               Word("low.", 820, 990)])
    assert placed[1] == Word("mileage", 1250, 1700)  # on the reply's clock, not the piece's
    spoken.complete()
    return spoken


def test_heard_text_is_cut_at_the_last_word_played_to_its_end() -> None:
    spoken = _spoken()
    assert spoken.heard_text(0) == ""
    assert spoken.heard_text(149) == ""
    assert spoken.heard_text(150) == "It"
    assert spoken.heard_text(640) == "It is a"  # "fair" started, not finished
    assert spoken.heard_text(1000) == "It is a fair price."
    assert spoken.heard_text(1699) == "It is a fair price. The"
    assert spoken.heard_text(1700) == "It is a fair price. The mileage"
    assert spoken.heard_text(5000) == "It is a fair price. The mileage is low."


def test_a_word_ends_where_the_client_was_told_it_ends() -> None:
    """The client knows word ends in whole ms: reporting the end it was sent means the word was
    heard, even when the synthesizer's exact end is a fraction of a ms later."""
    spoken = SpokenWords()
    spoken.begin("Hi! I'm Joe.")
    placed = spoken.add(900, [Word("Hi!", 0.0, 250.2), Word("I'm", 300.0, 512.4), Word("Joe.", 520.0, 880.0)])
    reported = placed[1].as_json()["end_ms"]
    assert reported == 512
    assert spoken.heard_text(reported) == "Hi! I'm"
    assert spoken.heard_text(reported - 1) == "Hi!"


def test_heard_text_of_a_piece_still_arriving_or_without_timings() -> None:
    spoken = SpokenWords()
    spoken.begin("One two three.")
    spoken.add(300, [Word("One", 0, 250)])  # "two" not timed yet: it cannot have been heard
    assert spoken.heard_text(300) == "One"
    untimed = SpokenWords()
    untimed.begin("No timings here.")
    untimed.add(800, [])
    assert untimed.heard_text(700) == ""  # no guess inside the piece
    untimed.complete()
    assert untimed.heard_text(800) == "No timings here."


async def test_tts_bytes_are_recut_into_whole_samples() -> None:
    from collections.abc import AsyncGenerator

    from server.voice.tts import SpeechChunk, whole_samples

    pcm = tone(100, 16000)
    word = Word("Hi", 0, 80)

    async def reads() -> AsyncGenerator[SpeechChunk]:
        for start, end in ((0, 3), (3, 4), (4, 1001), (1001, len(pcm))):  # network reads split samples
            yield SpeechChunk(pcm[start:end], (word,) if start == 3 else ())

    chunks = [chunk async for chunk in whole_samples(reads())]
    assert all(len(chunk.audio) % 2 == 0 for chunk in chunks) and b"".join(c.audio for c in chunks) == pcm
    assert [c.words for c in chunks if c.words] == [(word,)]  # a chunk too short for a sample keeps its words
