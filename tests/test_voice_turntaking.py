"""Turn-taking rules in isolation: the backchannel decision, a paused reply's bookkeeping, and
the end of turn judged from the words so far (issue 16)."""

from __future__ import annotations

import asyncio

import pytest

from server.voice.audio import silence
from server.voice.bargein import Backchannels, Verdict, decide
from server.voice.endpointing import Ending, EndOfTurn, classify
from server.voice.pacer import PacedSender
from server.voice.vad import Endpointer, Segment, TurnEnded, VadConfig
from tests.voice_audio import frames, speech

LIST = Backchannels()


# -- the backchannel decision ----------------------------------------------------------------------
@pytest.mark.parametrize("words", ["Uh-huh.", "uh huh", "Mm-hmm", "mhm", "Yeah.", "Right, right.", "Okay.",
                                   "I see.", "Sure.", "Yeah, I see.", "Oh, okay.", "uhhuh"])
def test_words_in_the_list_are_a_backchannel(words: str) -> None:
    assert LIST.only(words)
    assert decide(words, speech_over=True, speaking_ms=400, timeout_ms=1500, backchannels=LIST) is Verdict.resume


@pytest.mark.parametrize("words", ["", "  ", "..."])
def test_no_words_at_all_is_a_cough_and_resumes(words: str) -> None:
    assert decide(words, speech_over=True, speaking_ms=600, timeout_ms=1500, backchannels=LIST) is Verdict.resume


@pytest.mark.parametrize("words", ["Wait, hold on, I have a question.", "Yeah, but what does that cover?",
                                   "see", "okay wait", "I", "right now"])
def test_real_words_interrupt_even_before_the_user_stops(words: str) -> None:
    assert not LIST.only(words)
    assert decide(words, speech_over=False, speaking_ms=100, timeout_ms=1500, backchannels=LIST) is Verdict.interrupt


def test_speech_that_goes_on_past_the_timeout_interrupts_whatever_its_words() -> None:
    assert decide(None, speech_over=False, speaking_ms=1400, timeout_ms=1500, backchannels=LIST) is Verdict.wait
    assert decide("yeah", speech_over=False, speaking_ms=1400, timeout_ms=1500, backchannels=LIST) is Verdict.wait
    assert decide(None, speech_over=False, speaking_ms=1500, timeout_ms=1500, backchannels=LIST) is Verdict.interrupt
    assert decide("yeah", speech_over=False, speaking_ms=2000, timeout_ms=1500,
                  backchannels=LIST) is Verdict.interrupt


def test_the_list_is_configurable() -> None:
    custom = Backchannels.parse("uh-huh, gotcha , ")
    assert custom.only("Gotcha.") and custom.only("uh huh gotcha")
    assert not custom.only("yeah")


# -- pause and resume: the same bytes, in order, none twice --------------------------------------------
async def test_resume_continues_from_the_same_byte() -> None:
    sent: list[bytes] = []
    five = asyncio.Event()
    pcm = bytes(range(256)) * 100  # 25.6 KB, every byte position distinct modulo 256
    sender = PacedSender(_collect(sent, five), 16000, chunk_ms=10, lead_ms=60)
    playing = asyncio.create_task(sender.play(pcm))
    await asyncio.wait_for(five.wait(), 10)
    at_ms = sender.pause()
    await asyncio.sleep(0.05)  # one chunk may have been in flight when the pause came
    held = len(sent)
    await asyncio.sleep(0.15)
    assert len(sent) == held and sender.paused  # nothing goes out while paused
    assert sender.played_estimate_ms() == at_ms  # the client's position stands still
    sender.resume()
    await asyncio.wait_for(playing, 10)
    assert b"".join(sent) == pcm  # nothing lost, nothing repeated
    assert sender.sent_ms == pytest.approx(len(pcm) / 32)
    assert sender.underruns == 0  # the pause is not mistaken for the client running dry


def test_time_paused_is_not_counted_as_played() -> None:
    clock = Clock()
    sender = PacedSender(_collect([]), 16000, clock=clock)
    since = clock.now
    clock.now += 0.1
    sender.pause()
    clock.now += 0.5
    assert sender.playing_ms_since(since) == pytest.approx(100)
    sender.resume()
    clock.now += 0.05
    assert sender.playing_ms_since(since) == pytest.approx(150)
    assert sender.playing_ms_since(since + 0.2) == pytest.approx(50)  # a report made during the pause


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _collect(sent: list[bytes], five: asyncio.Event | None = None):  # type: ignore[no-untyped-def]
    async def send(chunk: bytes) -> None:
        sent.append(chunk)
        if five is not None and len(sent) >= 5:
            five.set()
    return send


# -- end of turn from the words -----------------------------------------------------------------------
@pytest.mark.parametrize("text", ["How much is this car?", "I want the blue one.", "That's too expensive!",
                                  "Yes.", "No thanks.", "Uh-huh."])
def test_complete_sentences_end_soon(text: str) -> None:
    assert classify(text) is Ending.complete
    assert EndOfTurn().silence_ms(text) == 250


@pytest.mark.parametrize("text", ["I was thinking about, um,", "and...", "Um", "so the thing is",
                                  "I want the blue one and", "The price is fine but", "Let me think\u2026",
                                  "What I'd like is a car with", "My wife really wants"])
def test_trailing_words_wait_longer(text: str) -> None:
    assert classify(text) is Ending.trailing
    assert EndOfTurn().silence_ms(text) == 1200


@pytest.mark.parametrize("text", ["", "blue car", "hello there"])
def test_other_words_keep_the_default(text: str) -> None:
    assert EndOfTurn().silence_ms(text) == 500


def _run(endpointer: Endpointer, pcm: bytes, on_segment=None) -> list[tuple[int, object]]:  # type: ignore[no-untyped-def]
    events: list[tuple[int, object]] = []
    for i, frame in enumerate(frames(pcm)):
        for event in endpointer.push(frame):
            events.append((i * 20, event))
            if isinstance(event, Segment) and on_segment is not None:
                on_segment(endpointer)
    return events


def test_the_end_of_speech_is_the_last_voiced_frame_not_the_vads_hangover() -> None:
    said = speech("How much is this car?")
    events = _run(Endpointer(VadConfig(), 16000), silence(300, 16000) + said + silence(1000, 16000))
    ended = next(e for _, e in events if isinstance(e, TurnEnded))
    # WebRTC's detector calls ~100 ms after the voice speech; the end is where the sound stops.
    real_end = 300 + len(said) // 32
    assert real_end - 40 <= ended.end_ms <= real_end + 20


def test_words_that_complete_a_sentence_end_the_turn_after_the_short_silence() -> None:
    config = VadConfig()
    said = speech("How much is this car?")
    endpointer = Endpointer(config, 16000)

    def words_came_back(e: Endpointer) -> None:  # as the session does when the segment's words arrive
        e.set_end_of_turn(EndOfTurn().silence_ms("How much is this car?"), segment=e.segments_cut)
    events = _run(endpointer, silence(300, 16000) + said + silence(1500, 16000), words_came_back)
    ended = next(e for _, e in events if isinstance(e, TurnEnded))
    assert 250 <= ended.silence_ms < 250 + 20  # within a frame


def test_a_mid_sentence_pause_after_a_trailing_word_stays_one_turn() -> None:
    first, second = speech("I was thinking about, um,"), speech("the blue one.")
    pcm = silence(300, 16000) + first + silence(700, 16000) + second + silence(1500, 16000)
    texts = iter(["I was thinking about, um,", "I was thinking about, um, the blue one."])

    def words_came_back(e: Endpointer) -> None:
        e.set_end_of_turn(EndOfTurn().silence_ms(next(texts, "")), segment=e.segments_cut)
    events = _run(Endpointer(VadConfig(), 16000), pcm, words_came_back)
    ended = [(at, e) for at, e in events if isinstance(e, TurnEnded)]
    assert len(ended) == 1
    assert ended[0][0] > 300 + (len(first) + len(second)) // 32 + 700


def test_a_new_word_after_the_cut_voids_the_judgement_of_the_old_ones() -> None:
    endpointer = Endpointer(VadConfig(), 16000)
    _run(endpointer, silence(300, 16000) + speech("How much is this car?") + silence(300, 16000))
    cut = endpointer.segments_cut
    _run(endpointer, speech("and"))
    endpointer.set_end_of_turn(250, segment=cut)  # late words about the old segment
    assert endpointer.end_of_turn_ms == 500
