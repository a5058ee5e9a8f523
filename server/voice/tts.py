"""Text to speech: one piece of text -> PCM16 mono chunks at the session's output rate, each with
the words that the synthesizer has finished timing by then (`SpeechChunk`).

Adapters: ElevenLabs over HTTP streaming with timestamps (the SDK's async generator; the default,
see below), ElevenLabs over the input-streaming WebSocket, and offline eSpeak NG. Word times are
ms from the start of the piece's audio; a synthesizer that cannot time words sends none. Every stream is consumed
inside `aclosing`, so a cancelled reply closes the provider response or socket at once.

Why HTTP is the default: against the fake (tests/bench/tts_transports.py) the two transports give
the same first-audio time once connected, and the SDK's pooled keep-alive connection skips the
per-piece WebSocket handshake; the socket only wins when one connection carries a whole reply's
text, which our sentence-by-sentence pipeline does not need.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import urlencode

import websockets
from elevenlabs.client import AsyncElevenLabs
from elevenlabs.core.api_error import ApiError

from server.voice.audio import SAMPLE_WIDTH, duration_ms, resample
from server.voice.espeak import Espeak
from server.voice.words import AlignmentWords, Word, words_from_marks

SUPPORTED_PCM_RATES = (8000, 16000, 22050, 24000, 44100, 48000)

_T = TypeVar("_T")


class TtsError(Exception):
    def __init__(self, message: str, *, retryable: bool = True) -> None:
        self.retryable = retryable
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class SpeechChunk:
    audio: bytes
    words: tuple[Word, ...] = ()  # whole words timed so far, ms from the start of this piece


class Synthesizer(Protocol):
    offline: bool

    def stream(self, text: str, sample_rate: int) -> AsyncGenerator[SpeechChunk]: ...


async def with_chunk_timeout(chunks: AsyncGenerator[_T], seconds: float) -> AsyncGenerator[_T]:
    """Fails when the provider goes quiet for `seconds` (first byte or between chunks)."""
    async with aclosing(chunks) as source:
        while True:
            try:
                async with asyncio.timeout(seconds):
                    chunk = await anext(source)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise TtsError(f"speech synthesis sent nothing for {seconds:g} s") from None
            yield chunk


async def whole_samples(chunks: AsyncGenerator[SpeechChunk]) -> AsyncGenerator[SpeechChunk]:
    """Re-cuts the audio into chunks of whole 16-bit samples: network reads may split one."""
    rest = b""
    async with aclosing(chunks) as source:
        async for chunk in source:
            data = rest + chunk.audio if rest else chunk.audio
            cut = len(data) - len(data) % SAMPLE_WIDTH
            rest = data[cut:]
            if cut or chunk.words:
                yield SpeechChunk(data[:cut], chunk.words)


def _aligned(alignment: Any, words: AlignmentWords) -> tuple[Word, ...]:
    """One chunk's `alignment` from the with-timestamps stream (seconds from the start of the
    request's audio) -> the words now whole."""
    if alignment is None:
        return ()
    return tuple(words.push(alignment.characters, alignment.character_start_times_seconds,
                            alignment.character_end_times_seconds))


def _socket_aligned(alignment: dict[str, Any] | None, chunk_start_ms: float, words: AlignmentWords) -> tuple[Word, ...]:
    """The input-streaming socket's `alignment` (`chars`, `charStartTimesMs`, `charDurationsMs`,
    in ms from the start of the audio chunk it came with) -> the words now whole."""
    if not alignment:
        return ()
    starts = [chunk_start_ms + ms for ms in alignment.get("charStartTimesMs") or []]
    ends = [start + ms for start, ms in zip(starts, alignment.get("charDurationsMs") or [], strict=False)]
    return tuple(words.push(alignment.get("chars") or [], [ms / 1000 for ms in starts], [ms / 1000 for ms in ends]))


class ElevenLabsHttp:
    offline = False

    def __init__(self, client: AsyncElevenLabs, *, voice_id: str, model: str, timeout: float) -> None:
        self._client = client
        self._voice_id = voice_id
        self._model = model
        self._timeout = timeout

    async def stream(self, text: str, sample_rate: int) -> AsyncGenerator[SpeechChunk]:
        try:
            async for chunk in whole_samples(with_chunk_timeout(self._chunks(text, sample_rate), self._timeout)):
                yield chunk
        except ApiError as exc:
            status = exc.status_code or 0
            raise TtsError(f"speech synthesis failed with status {status}",
                           retryable=status >= 500 or status == 429) from exc
        except OSError as exc:
            raise TtsError("speech synthesis service unreachable") from exc

    async def _chunks(self, text: str, sample_rate: int) -> AsyncGenerator[SpeechChunk]:
        # The with-timestamps stream: one JSON line per chunk, audio in base64 and the timing of
        # its characters (`alignment`, of the text as sent) with it.
        source = self._client.text_to_speech.stream_with_timestamps(
            self._voice_id, text=text, model_id=self._model, output_format=f"pcm_{sample_rate}",
            optimize_streaming_latency=3, request_options={"max_retries": 0})
        words = AlignmentWords()
        async with aclosing(source) as lines:
            async for line in lines:
                audio = base64.b64decode(line.audio_base_64) if line.audio_base_64 else b""
                yield SpeechChunk(audio, _aligned(line.alignment, words))
        if last := words.flush():
            yield SpeechChunk(b"", tuple(last))


class ElevenLabsSocket:
    """The input-streaming WebSocket (`/v1/text-to-speech/{voice}/stream-input`), one per piece."""

    offline = False

    def __init__(self, base_url: str, api_key: str, *, voice_id: str, model: str, timeout: float) -> None:
        self._url = base_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1).rstrip("/")
        self._api_key = api_key
        self._voice_id = voice_id
        self._model = model
        self._timeout = timeout

    async def stream(self, text: str, sample_rate: int) -> AsyncGenerator[SpeechChunk]:
        query = urlencode({"model_id": self._model, "output_format": f"pcm_{sample_rate}"})
        url = f"{self._url}/v1/text-to-speech/{self._voice_id}/stream-input?{query}"
        try:
            async with asyncio.timeout(self._timeout):
                socket = await websockets.connect(url, additional_headers={"xi-api-key": self._api_key})
        except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
            raise TtsError("speech synthesis socket could not be opened") from exc
        words, received_ms = AlignmentWords(), 0.0
        try:
            await socket.send(json.dumps({"text": " ", "xi-api-key": self._api_key}))
            await socket.send(json.dumps({"text": text + " ", "flush": True}))
            await socket.send(json.dumps({"text": ""}))
            while True:
                try:
                    async with asyncio.timeout(self._timeout):
                        raw = await socket.recv()
                except TimeoutError:
                    raise TtsError(f"speech synthesis sent nothing for {self._timeout:g} s") from None
                except websockets.ConnectionClosed as exc:
                    raise TtsError("speech synthesis socket closed early") from exc
                message = json.loads(raw)
                audio = base64.b64decode(message.get("audio") or "")
                timed = _socket_aligned(message.get("alignment"), received_ms, words)
                received_ms += duration_ms(audio, sample_rate)
                if audio or timed:
                    yield SpeechChunk(audio, timed)
                if message.get("isFinal"):
                    if last := words.flush():
                        yield SpeechChunk(b"", tuple(last))
                    return
        finally:
            await socket.close()


class EspeakSynthesizer:
    """Offline speech: robotic but intelligible, needs no network or key."""

    offline = True

    def __init__(self, *, voice: str = "en-us", chunk_ms: int = 200) -> None:
        self._voice = voice
        self._chunk_ms = chunk_ms

    async def stream(self, text: str, sample_rate: int) -> AsyncGenerator[SpeechChunk]:
        spoken = await asyncio.to_thread(Espeak.speak, text, voice=self._voice)
        pcm = await asyncio.to_thread(resample, spoken.pcm, spoken.sample_rate, sample_rate)
        # Times from eSpeak's own word and clause events; the whole piece is synthesised at once,
        # so every word goes with the first chunk.
        words = tuple(words_from_marks(text, spoken.word_marks, spoken.clause_ends,
                                       len(pcm) / SAMPLE_WIDTH / sample_rate * 1000))
        size = sample_rate * self._chunk_ms // 1000 * 2
        for index, start in enumerate(range(0, len(pcm), size)):
            yield SpeechChunk(pcm[start:start + size], words if index == 0 else ())
