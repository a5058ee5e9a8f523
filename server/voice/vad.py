"""Voice activity detection and endpointing: 20 ms frames in, speech/segment/turn events out.

The frame classifier is a `SpeechDetector` (server/voice/detector.py, `VOICE_VAD`): by default
WebRTC's GMM detector (`webrtcvad-wheels`, ~2 us per frame), or Silero (ONNX, one model session
per process), which tests/bench/vad_eval.py found takes no typing or fan noise for speech and ~1
cough group a minute where WebRTC's barged in ~14 times a minute on each, at the same detection
latency. Silero is not the default for its cost: ~0.1-0.2 ms per frame on the event loop, so 50
talking sessions on 2 cores no longer held real time (docs/benchmarks.md). Decisions are taken
on the stream's own clock (frame counts), so they do not depend on network jitter.

The end of speech is the last frame that is voiced *and* carries energy: a detector keeps
calling frames speech for a while after the voice stops (WebRTC's hangover is ~100 ms), and counting the
silence from there would add that to every turn. How long the silence must last is set per turn
by the session from the words said so far (`set_end_of_turn`, see `endpointing.py`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from server.voice.detector import SpeechDetector, VadEngine, make_detector
from server.voice.protocol import FRAME_MS


@dataclass(frozen=True, slots=True)
class VadConfig:
    engine: VadEngine = "webrtc"  # the frame classifier (VOICE_VAD)
    aggressiveness: int = 2  # WebRTC: 0 (permissive) .. 3 (strict)
    silero_threshold: float = 0.5  # Silero: speech probability that starts speech
    speech_start_ms: int = 200  # voiced audio needed before we call it speech
    end_of_turn_ms: int = 500  # silence that ends the user's turn, when its words say nothing
    end_of_turn_min_ms: int = 250  # ... after a complete sentence or question
    end_of_turn_max_ms: int = 1200  # ... after words that trail off, or while they are transcribed
    min_rms: int = 40  # a voiced frame quieter than this (or 30 dB under the turn's peak) is hangover
    segment_pause_ms: int = 200  # a shorter pause cuts a segment for early transcription
    min_segment_ms: int = 300  # shorter pieces are left for the next cut (fewer STT calls)
    prefix_ms: int = 200  # audio kept from before the detected start (word onsets)


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    at_ms: int  # stream position of the first frame of speech


@dataclass(frozen=True, slots=True)
class Segment:
    pcm: bytes  # speech up to a short pause; the user is still talking


@dataclass(frozen=True, slots=True)
class TurnEnded:
    pcm: bytes  # what is left after the last segment; b"" when it held no speech
    speech_ms: int  # voiced length of the whole turn
    silence_ms: int  # trailing silence that confirmed the end (time since speech stopped)
    end_ms: int  # stream position where the speech stopped (the session's `AudioClock` dates it)


VadEvent = SpeechStarted | Segment | TurnEnded


class Endpointer:
    def __init__(self, config: VadConfig, sample_rate: int, *, detector: SpeechDetector | None = None) -> None:
        self.config = config
        self.sample_rate = sample_rate
        self.detector = detector or make_detector(config.engine, sample_rate, aggressiveness=config.aggressiveness,
                                                  threshold=config.silero_threshold)
        self._start_frames = max(1, config.speech_start_ms // FRAME_MS)
        self._window: deque[tuple[bytes, bool]] = deque(
            maxlen=max(self._start_frames, config.prefix_ms // FRAME_MS + self._start_frames))
        # The last `_start_frames` voiced flags and their sum, kept as frames arrive: the idle
        # path runs for every frame of silence, so it must not re-count the window each time.
        self._recent: deque[bool] = deque(maxlen=self._start_frames)
        self._recent_voiced = 0
        self._position_ms = 0
        self.speaking = False
        self._segment: list[bytes] = []
        self._segment_voiced = 0
        self._segment_cut_at_pause = False
        self._silent_frames = 0
        self._speech_frames = 0
        self._peak_rms = 0.0
        self._cuts = 0  # segments cut in this turn
        self._end_of_turn_ms: int | None = None  # set from the words; None: the default

    @property
    def segments_cut(self) -> int:
        return self._cuts

    @property
    def segment_pcm(self) -> bytes:
        """The speech since the last segment was cut (what a barge-in probe transcribes)."""
        return b"".join(self._segment) if self.speaking else b""

    @property
    def end_of_turn_ms(self) -> int:
        return self.config.end_of_turn_ms if self._end_of_turn_ms is None else self._end_of_turn_ms

    def set_end_of_turn(self, ms: int, *, segment: int) -> None:
        """The silence that ends this turn, judged from the words up to segment number `segment`;
        ignored once the user has spoken again since that segment was cut (newer words decide)."""
        if self.speaking and segment == self._cuts and self._segment_cut_at_pause:
            self._end_of_turn_ms = ms

    @property
    def speech_ms(self) -> int:
        """Voiced audio since speech started (0 when not speaking): what barge-in is gated on."""
        return self._speech_frames * FRAME_MS if self.speaking else 0

    def is_speech(self, frame: bytes) -> bool:
        return self.detector.is_speech(frame)

    def push(self, frame: bytes) -> list[VadEvent]:
        voiced = self.is_speech(frame)
        self._position_ms += FRAME_MS
        if not self.speaking:
            return self._idle(frame, voiced)
        return self._in_speech(frame, voiced)

    def reset(self) -> None:
        self._window.clear()
        self._recent.clear()
        self._recent_voiced = 0
        self.speaking = False
        self._segment, self._segment_voiced, self._silent_frames, self._speech_frames = [], 0, 0, 0
        self._segment_cut_at_pause = False
        self._peak_rms, self._cuts, self._end_of_turn_ms = 0.0, 0, None

    def _idle(self, frame: bytes, voiced: bool) -> list[VadEvent]:
        self._window.append((frame, voiced))
        if len(self._recent) == self._start_frames:
            self._recent_voiced -= self._recent[0]
        self._recent.append(voiced)
        self._recent_voiced += voiced
        # 80% voiced over the start window: one unvoiced frame inside a word does not reset it.
        if len(self._recent) < self._start_frames or self._recent_voiced < 0.8 * self._start_frames:
            return []
        self.speaking = True
        self._segment = [f for f, _ in self._window]
        self._segment_voiced = sum(v for _, v in self._window)
        self._speech_frames = self._recent_voiced
        self._silent_frames = 0
        self._segment_cut_at_pause = False
        self._window.clear()
        self._recent.clear()
        self._recent_voiced = 0
        return [SpeechStarted(at_ms=self._position_ms - self._start_frames * FRAME_MS)]

    def _loud(self, frame: bytes) -> bool:
        samples = np.frombuffer(frame, dtype=np.int16).astype(np.float32)
        rms = float(np.sqrt(np.mean(samples * samples))) if samples.size else 0.0
        self._peak_rms = max(self._peak_rms, rms)
        return rms >= max(self.config.min_rms, self._peak_rms * 0.03)

    def _in_speech(self, frame: bytes, voiced: bool) -> list[VadEvent]:
        self._segment.append(frame)
        if voiced:
            self._speech_frames += 1
        if voiced and self._loud(frame):
            self._segment_voiced += 1
            self._silent_frames = 0
            self._segment_cut_at_pause = False
            self._end_of_turn_ms = None  # new words: what they mean is not known yet
            return []
        self._silent_frames += 1
        silence_ms = self._silent_frames * FRAME_MS
        if silence_ms >= self.end_of_turn_ms:
            tail = b"".join(self._segment) if self._segment_voiced else b""
            ended = TurnEnded(pcm=tail, speech_ms=self._speech_frames * FRAME_MS, silence_ms=silence_ms,
                              end_ms=self._position_ms - silence_ms)
            self.reset()
            return [ended]
        segment_ms = len(self._segment) * FRAME_MS
        if (silence_ms >= self.config.segment_pause_ms and not self._segment_cut_at_pause
                and segment_ms >= self.config.min_segment_ms and self._segment_voiced):
            segment = Segment(pcm=b"".join(self._segment))
            self._segment, self._segment_voiced = [], 0
            self._segment_cut_at_pause = True
            self._cuts += 1
            return [segment]
        return []
