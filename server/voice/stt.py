"""Speech to text: the OpenAI adapter (offline: `server/voice/offline/whisper.py`), and the stage
that transcribes segments while the user talks.

The OpenAI transcription API takes a whole file, so its latency would sit after the end of every
turn. `TurnTranscriber` sends each segment as soon as the endpointer cuts it at a short pause;
at the end of the turn only the last piece (often nothing) is left to wait for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

import openai

from server.voice.audio import to_wav


class SttError(Exception):
    def __init__(self, message: str, *, retryable: bool = True) -> None:
        self.retryable = retryable
        super().__init__(message)


class Transcriber(Protocol):
    offline: bool

    async def transcribe(self, pcm: bytes, sample_rate: int) -> str: ...


class OpenAITranscriber:
    offline = False

    def __init__(self, client: openai.AsyncOpenAI, model: str) -> None:
        self._client = client
        self._model = model

    async def transcribe(self, pcm: bytes, sample_rate: int) -> str:
        try:
            result = await self._client.audio.transcriptions.create(
                file=("turn.wav", to_wav(pcm, sample_rate), "audio/wav"), model=self._model)
        except openai.APIStatusError as exc:
            raise SttError(f"transcription failed with status {exc.status_code}",
                           retryable=exc.status_code >= 500 or exc.status_code == 429) from exc
        except openai.APIConnectionError as exc:
            raise SttError("transcription service unreachable or too slow") from exc
        return str(result.text).strip()


Spawn = Callable[[str, Coroutine[Any, Any, Any]], "asyncio.Task[Any]"]


class TurnTranscriber:
    """One user turn: segments go in as they are cut, `finish` joins the texts in order.

    With `pipelining` off (for comparison in the benchmark) segments are only collected and the
    whole turn is sent at the end.
    """

    def __init__(self, transcriber: Transcriber, sample_rate: int, spawn: Spawn, *, pipelining: bool = True) -> None:
        self._transcriber = transcriber
        self._rate = sample_rate
        self._spawn = spawn
        self._pipelining = pipelining
        self._pending: list[asyncio.Task[str | SttError]] = []
        self._held: list[bytes] = []

    def add(self, pcm: bytes, then: Callable[[str | None], None] | None = None) -> None:
        """`then` is called with `text_so_far()` once this segment is transcribed (pipelining)."""
        if not pcm:
            return
        if self._pipelining:
            name = f"stt-segment-{len(self._pending)}"
            task = self._spawn(name, self._caught(pcm))
            self._pending.append(task)
            if then is not None:
                task.add_done_callback(lambda _: then(self.text_so_far()))
        else:
            self._held.append(pcm)

    def text_so_far(self) -> str | None:
        """The segments' words, when every segment sent so far has been transcribed; else None.
        A failed segment adds no words (`finish` reports the failure)."""
        texts: list[str] = []
        for task in self._pending:
            if not task.done():
                return None
            result = None if task.cancelled() else task.result()
            if result and not isinstance(result, SttError):
                texts.append(result)
        return " ".join(texts)

    @property
    def in_flight(self) -> int:
        """Segments of this turn still being transcribed."""
        return sum(not task.done() for task in self._pending)

    @property
    def empty(self) -> bool:
        return not self._pending and not self._held

    async def finish(self, tail: bytes) -> str:
        self.add(tail)
        if self._held:
            whole = b"".join(self._held)
            self._held = []
            self._pending.append(self._spawn("stt-turn", self._caught(whole)))
        # Not cancelled on the way out: if this wait is cancelled because the user went on
        # talking, the next `finish` of the same turn reuses the segments already sent.
        results = [await task for task in self._pending]
        self._pending = []
        texts: list[str] = []
        for result in results:
            if isinstance(result, SttError):
                raise result
            if result:
                texts.append(result)
        return " ".join(texts)

    async def _caught(self, pcm: bytes) -> str | SttError:
        # A provider failure is an answer here, not a crashed background task: `finish` reports it.
        try:
            return await self._transcriber.transcribe(pcm, self._rate)
        except SttError as exc:
            return exc

    def cancel(self) -> None:
        for task in self._pending:
            task.cancel()
        self._pending = []
        self._held = []
