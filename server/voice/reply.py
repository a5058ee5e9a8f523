"""One assistant reply: engine -> sentence aggregation -> TTS -> paced send, as three stages joined
by queues, so the next sentence is synthesised while the current one plays.

Cancelling `run` (barge-in) cancels all three at once: the engine stream and the TTS response are
closed by their `aclosing`/`async with`, queued audio is dropped with the queues.
A provider failure ends the reply with a `StageFailure` (what the client is told), never a crash.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from typing import Any

from server.voice.audio import duration_ms
from server.voice.brain import Brain, BrainError, Sources, TextDelta
from server.voice.heard import SpokenWords
from server.voice.metrics import TurnClock
from server.voice.pacer import PacedSender
from server.voice.protocol import ErrorCode, ServerEvent, event
from server.voice.sentences import SentenceAggregator
from server.voice.tts import Synthesizer, TtsError

Emit = Callable[[dict[str, Any]], Awaitable[None]]


class StageFailure(Exception):
    def __init__(self, code: ErrorCode, message: str, *, retryable: bool) -> None:
        self.code = code
        self.message = message
        self.retryable = retryable
        super().__init__(message)


class ReplyPipeline:
    def __init__(self, *, brain: Brain, session_id: str, synthesizer: Synthesizer, emit: Emit,
                 sender: PacedSender, sample_rate: int, clock: TurnClock, llm_timeout_s: float,
                 pipelining: bool = True, message_id: uuid.UUID | None = None) -> None:
        self.message_id = message_id or uuid.uuid4()
        self.text = ""
        self.spoken = SpokenWords()
        self.audio_started = False
        self._brain = brain
        self._session_id = session_id
        self._synth = synthesizer
        self._emit = emit
        self.sender = sender
        self._rate = sample_rate
        self._clock = clock
        self._llm_timeout = llm_timeout_s
        self._pipelining = pipelining

    async def run(self, user_text: str) -> None:
        pieces: asyncio.Queue[str | None] = asyncio.Queue()
        audio: asyncio.Queue[bytes | None] = asyncio.Queue()
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._generate(user_text, pieces), name="voice-llm")
                group.create_task(self._synthesize(pieces, audio), name="voice-tts")
                group.create_task(self._send(audio), name="voice-send")
        except* StageFailure as failures:
            first = failures.exceptions[0]
            assert isinstance(first, StageFailure)
            raise first from None

    async def _generate(self, user_text: str, pieces: asyncio.Queue[str | None]) -> None:
        aggregator = SentenceAggregator()
        held: list[str] = []
        self._clock.mark("llm_started")
        try:
            async with aclosing(self._brain.reply(self._session_id, user_text, self.message_id)) as stream:
                async with asyncio.timeout(self._llm_timeout):
                    async for item in stream:
                        if isinstance(item, TextDelta) and item.text:
                            self._clock.mark("llm_first_token")
                            self.text += item.text
                            await self._emit(event(ServerEvent.response_delta, message_id=str(self.message_id),
                                                   text=item.text))
                            ready = aggregator.push(item.text)
                            if self._pipelining:
                                for piece in ready:
                                    pieces.put_nowait(piece)
                            else:
                                held.extend(ready)
                        elif isinstance(item, Sources):
                            await self._emit(event(ServerEvent.sources, message_id=str(self.message_id),
                                                   items=item.items))
        except BrainError as exc:
            raise StageFailure(ErrorCode.llm_failed, exc.message, retryable=exc.retryable) from exc
        except TimeoutError as exc:
            raise StageFailure(ErrorCode.llm_failed, "the language model took too long", retryable=True) from exc
        except Exception as exc:
            raise StageFailure(ErrorCode.llm_failed, "the language model stream failed", retryable=True) from exc
        for piece in [*held, *aggregator.flush()]:
            pieces.put_nowait(piece)
        pieces.put_nowait(None)

    async def _synthesize(self, pieces: asyncio.Queue[str | None], audio: asyncio.Queue[bytes | None]) -> None:
        while (piece := await pieces.get()) is not None:
            self._clock.mark("tts_started")
            offset_ms = self.spoken.begin(piece)
            try:
                async with aclosing(self._synth.stream(piece, self._rate)) as chunks:
                    async for chunk in chunks:
                        words = self.spoken.add(duration_ms(chunk.audio, self._rate), chunk.words)
                        if words:
                            # Sent as soon as timed: ahead of (or with) the audio they describe,
                            # which still waits in the queue for its paced send.
                            await self._emit(event(ServerEvent.audio_words, message_id=str(self.message_id),
                                                   offset_ms=round(offset_ms),
                                                   words=[word.as_json() for word in words]))
                        if chunk.audio:
                            self._clock.mark("tts_first_byte")
                            audio.put_nowait(chunk.audio)
            except TtsError as exc:
                raise StageFailure(ErrorCode.tts_failed, str(exc), retryable=exc.retryable) from exc
            self.spoken.complete()
        audio.put_nowait(None)

    async def _send(self, audio: asyncio.Queue[bytes | None]) -> None:
        finished = False
        while not finished and (chunk := await audio.get()) is not None:
            # Take along what has already arrived (never waiting for more): TTS chunks cut into
            # 40 ms sends each leave a short remainder, and every send is a socket write.
            while not audio.empty():
                more = audio.get_nowait()
                if more is None:
                    finished = True
                    break
                chunk += more
            if not self.audio_started:
                self.audio_started = True
                await self._emit(event(ServerEvent.audio_start, message_id=str(self.message_id),
                                       sample_rate=self._rate))
            await self.sender.play(chunk)
            if self._clock.first_audio is None:
                self._clock.first_audio = self.sender.first_sent_at
        if self.audio_started:
            await self._emit(event(ServerEvent.audio_end, message_id=str(self.message_id)))

    @property
    def clock(self) -> TurnClock:
        return self._clock

    def heard_text(self, played_ms: float) -> str:
        return self.spoken.heard_text(played_ms)
