"""The voice benchmark's load generator and its floor (used by tests/bench/voice_load.py).

Load generator: every session is a `Talker` on one `VoiceClient` (the protocol client library);
one asyncio task per tick group sends the next 20 ms frame of every talker in the group, so a
hundred microphones cost four timers, not a hundred. The microphone is always on, as in the
browser: speech, then silence while the reply plays, then the next turn's speech. A frame is
sent when its 20 ms have been "captured", so the send time of the last speech frame is the end of
speech in the stream, which is where every latency here is measured from.

Floor: the same audio is replayed offline through the server's own `Endpointer` and the fake LLM's
tokens through the server's own `SentenceAggregator`, which says exactly where the turn ends, which
segments are already being transcribed, and which token completes the first piece for TTS.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from server.voice.audio import silence
from server.voice.client import VoiceClient
from server.voice.endpointing import EndOfTurn
from server.voice.protocol import FRAME_MS
from server.voice.sentences import SentenceAggregator
from server.voice.vad import Endpointer, Segment, TurnEnded, VadConfig
from tests.voice_audio import frames, speech

RATE = 16000
LEAD_IN_MS = 300
SILENCE = silence(FRAME_MS, RATE)


@dataclass
class Latencies:
    stt_s: float = 0.3
    ttft_s: float = 0.25
    tokens_per_s: float = 30.0
    tts_ttfb_s: float = 0.1


@dataclass
class Floor:
    endpoint_ms: float  # end of speech -> the endpointer's TurnEnded (end-of-turn silence + VAD hangover)
    stt_ms: float  # transcription still outstanding at the end of the turn
    llm_ms: float  # first token + the tokens up to the first piece handed to TTS
    tts_ms: float
    notes: list[str] = field(default_factory=list)

    @property
    def total_ms(self) -> float:
        return self.endpoint_ms + self.stt_ms + self.llm_ms + self.tts_ms


def fake_tokens(reply: str) -> list[str]:
    """Exactly how tests/fakes/openai_voice.py cuts its reply into streamed tokens."""
    tokens = [word + " " for word in reply.split(" ")]
    tokens[-1] = tokens[-1].rstrip()
    return tokens


def turn_end(sentence: str, lat: Latencies, vad: VadConfig, *, words: bool = True) -> tuple[float, bool, list[float]]:
    """When the endpointer ends a turn of `sentence`, in ms from the end of its speech, as the
    session drives it (`words`: each cut waits for its words, which then set the end-of-turn
    silence; without: pipelining off, the default silence); whether a tail was left; the cuts."""
    pcm = speech(sentence, RATE)
    speech_end_ms = LEAD_IN_MS + len(pcm) / 2 / RATE * 1000
    stream = silence(LEAD_IN_MS, RATE) + pcm + silence(3000, RATE)
    endpointer = Endpointer(vad, RATE)
    end_of_turn = EndOfTurn(vad.end_of_turn_min_ms, vad.end_of_turn_ms, vad.end_of_turn_max_ms)
    cuts: list[float] = []
    words_due: list[tuple[float, int]] = []  # (when a segment's words come back, its number)
    for index, frame in enumerate(frames(stream, RATE)):
        at = (index + 1) * FRAME_MS - speech_end_ms  # the frame's audio is complete at (index + 1) * 20 ms
        for due, number in [w for w in words_due if w[0] <= at - FRAME_MS]:
            endpointer.set_end_of_turn(end_of_turn.silence_ms(sentence), segment=number)
            words_due.remove((due, number))
        for event in endpointer.push(frame):
            if isinstance(event, Segment):
                cuts.append(at)
                if words:
                    endpointer.set_end_of_turn(end_of_turn.max_ms, segment=endpointer.segments_cut)
                    words_due.append((at + lat.stt_s * 1000, endpointer.segments_cut))
            elif isinstance(event, TurnEnded):
                return at, bool(event.pcm), cuts
    raise AssertionError("the endpointer never ended the turn")


def floors(sentence: str, reply: str, lat: Latencies, vad: VadConfig) -> tuple[Floor, Floor]:
    """(pipelined floor, unpipelined floor), each relative to the end of speech in the stream."""
    turn_ms, tail, cuts = turn_end(sentence, lat, vad)
    stt_on = lat.stt_s * 1000 if tail else max([0.0, *(c + lat.stt_s * 1000 - turn_ms for c in cuts)])
    tokens = fake_tokens(reply)
    aggregator, first_piece = SentenceAggregator(), len(tokens)
    for number, token in enumerate(tokens, 1):
        if aggregator.push(token):
            first_piece = number
            break
    step_ms = 1000 / lat.tokens_per_s
    silence_ms = EndOfTurn(vad.end_of_turn_min_ms, vad.end_of_turn_ms, vad.end_of_turn_max_ms).silence_ms(sentence)
    notes = [f"segments cut at {', '.join(f'{c:+.0f}' for c in cuts)} ms from the end of speech"
             f" (last one transcribed by {cuts[-1] + lat.stt_s * 1000:+.0f} ms)" if cuts else "no segment cut",
             f"turn ended at {turn_ms:+.0f} ms (end-of-turn silence for these words {silence_ms} ms, once "
             f"they were transcribed; counted from the last voiced frame); tail left to transcribe: {tail}",
             f"first TTS piece complete at token {first_piece} of {len(tokens)}"]
    on = Floor(turn_ms, stt_on, lat.ttft_s * 1000 + (first_piece - 1) * step_ms, lat.tts_ttfb_s * 1000, notes)
    off_ms, _, _ = turn_end(sentence, lat, vad, words=False)
    off = Floor(off_ms, lat.stt_s * 1000, lat.ttft_s * 1000 + (len(tokens) - 1) * step_ms,
                lat.tts_ttfb_s * 1000, ["whole turn transcribed after the end of turn; TTS after the last token"])
    return on, off


@dataclass
class Turn:
    speech_end: float
    first_audio: float | None = None
    first_chunk: float | None = None
    audio_ms: float = 0.0
    client_underruns: int = 0
    metrics: dict[str, Any] | None = None


class Talker:
    """One session's microphone and ear: `next_frame` is called every 20 ms by a ticker."""

    def __init__(self, client: VoiceClient, sentence: str, *, turns: int, offset_frames: int,
                 pause_frames: int, turn_timeout_s: float) -> None:
        self.client = client
        self.speech = frames(silence(LEAD_IN_MS, RATE) + speech(sentence, RATE), RATE)
        self.turns_left = turns
        self.turns: list[Turn] = []
        self.errors: list[dict[str, Any]] = []
        self._wait = offset_frames  # silence frames before the next speech
        self._pause = pause_frames
        self._timeout = turn_timeout_s
        self._index: int | None = None  # position in the speech, None while not speaking
        self._current: Turn | None = None
        self._in_reply = False
        self.dead = False
        client.record = False
        client.listener = self.on_message

    @property
    def finished(self) -> bool:
        # Not while the last turn's speech is still going out (`turns_left` counts down when it starts).
        return self.turns_left == 0 and self._index is None and self._current is None

    def next_frame(self, now: float) -> tuple[bytes, bool]:
        """(frame, is the last frame of speech)."""
        if self._index is not None:
            frame = self.speech[self._index]
            self._index += 1
            if self._index == len(self.speech):
                self._index = None
                return frame, True
            return frame, False
        if self._current is not None:
            if self._current.metrics is None and now - self._current.speech_end < self._timeout:
                return SILENCE, False
            if self._current.metrics is None:
                self.errors.append({"type": "timeout", "message": "no metrics for the turn in time"})
            self._current, self._in_reply, self._wait = None, False, self._pause
        if self.turns_left > 0:
            if self._wait > 0:
                self._wait -= 1
            else:
                self.turns_left -= 1
                self._index = 0
        return SILENCE, False

    def speech_sent(self, at: float) -> None:
        self._current = Turn(speech_end=at)
        self.turns.append(self._current)

    def on_message(self, at: float, event: dict[str, Any] | None, audio: bytes) -> None:
        turn = self._current
        if event is None:
            if turn is None or not self._in_reply:
                return
            if turn.first_chunk is None:
                turn.first_audio = turn.first_chunk = at
            elif (at - turn.first_chunk) * 1000 > turn.audio_ms + 1:
                # A client that started playing at the first chunk has run dry: count it, restart.
                turn.client_underruns += 1
                turn.first_chunk = at - turn.audio_ms / 1000
            turn.audio_ms += len(audio) / 2 / RATE * 1000
            return
        kind = event.get("type")
        if kind == "audio.start":
            self._in_reply = turn is not None
        elif kind == "metrics" and turn is not None:
            turn.metrics = event
        elif kind == "error":
            self.errors.append(event)


async def tick(talkers: list[Talker], *, groups: int, deadline: float, lateness: list[float],
               until_finished: bool = True) -> None:
    """Sends one frame per talker every 20 ms, in `groups` groups spread over the 20 ms."""

    async def group(members: list[Talker], phase: float) -> None:
        began = time.monotonic() + phase
        step = 0
        while time.monotonic() < deadline and not (until_finished and all(t.finished for t in talkers)):
            step += 1
            due = began + step * FRAME_MS / 1000
            if (delay := due - time.monotonic()) > 0:
                await asyncio.sleep(delay)
            lateness.append(time.monotonic() - due)
            for talker in members:
                if talker.dead:
                    continue
                now = time.monotonic()
                frame, last = talker.next_frame(now)
                try:
                    await talker.client.connection.send(frame)
                except Exception as exc:  # a dropped session is reported, the others go on
                    talker.errors.append({"type": "send", "message": repr(exc)})
                    talker.dead, talker.turns_left, talker._current = True, 0, None
                    continue
                if last:
                    talker.speech_sent(now)

    size = (len(talkers) + groups - 1) // groups
    await asyncio.gather(*(group(talkers[i * size:(i + 1) * size], i * FRAME_MS / 1000 / groups)
                           for i in range(groups)))
