"""Text to speech: one piece of text -> PCM16 mono chunks at the session's output rate.

Adapters: ElevenLabs over HTTP streaming (the SDK's async generator; the default, see below),
ElevenLabs over the input-streaming WebSocket, and offline eSpeak NG. Every stream is consumed
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
from typing import Protocol
from urllib.parse import urlencode

import websockets
from elevenlabs.client import AsyncElevenLabs
from elevenlabs.core.api_error import ApiError

from server.voice.audio import SAMPLE_WIDTH, resample
from server.voice.espeak import Espeak

SUPPORTED_PCM_RATES = (8000, 16000, 22050, 24000, 44100, 48000)


class TtsError(Exception):
    def __init__(self, message: str, *, retryable: bool = True) -> None:
        self.retryable = retryable
        super().__init__(message)


class Synthesizer(Protocol):
    offline: bool

    def stream(self, text: str, sample_rate: int) -> AsyncGenerator[bytes]: ...


async def with_chunk_timeout(chunks: AsyncGenerator[bytes], seconds: float) -> AsyncGenerator[bytes]:
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


async def whole_samples(chunks: AsyncGenerator[bytes]) -> AsyncGenerator[bytes]:
    """Re-cuts a byte stream into chunks of whole 16-bit samples: network reads may split one."""
    rest = b""
    async with aclosing(chunks) as source:
        async for chunk in source:
            data = rest + chunk if rest else chunk
            cut = len(data) - len(data) % SAMPLE_WIDTH
            rest = data[cut:]
            if cut:
                yield data[:cut]


class ElevenLabsHttp:
    offline = False

    def __init__(self, client: AsyncElevenLabs, *, voice_id: str, model: str, timeout: float) -> None:
        self._client = client
        self._voice_id = voice_id
        self._model = model
        self._timeout = timeout

    async def stream(self, text: str, sample_rate: int) -> AsyncGenerator[bytes]:
        source = self._client.text_to_speech.stream(
            self._voice_id, text=text, model_id=self._model, output_format=f"pcm_{sample_rate}",
            optimize_streaming_latency=3,
            # chunk_size None: each chunk as it arrives. A fixed size held the first chunk back
            # until the next one filled it up (+20 ms to first audio in tests/bench/voice_load.py).
            request_options={"max_retries": 0, "chunk_size": None})
        try:
            async for chunk in whole_samples(with_chunk_timeout(source, self._timeout)):
                yield chunk
        except ApiError as exc:
            status = exc.status_code or 0
            raise TtsError(f"speech synthesis failed with status {status}",
                           retryable=status >= 500 or status == 429) from exc
        except OSError as exc:
            raise TtsError("speech synthesis service unreachable") from exc


class ElevenLabsSocket:
    """The input-streaming WebSocket (`/v1/text-to-speech/{voice}/stream-input`), one per piece."""

    offline = False

    def __init__(self, base_url: str, api_key: str, *, voice_id: str, model: str, timeout: float) -> None:
        self._url = base_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1).rstrip("/")
        self._api_key = api_key
        self._voice_id = voice_id
        self._model = model
        self._timeout = timeout

    async def stream(self, text: str, sample_rate: int) -> AsyncGenerator[bytes]:
        query = urlencode({"model_id": self._model, "output_format": f"pcm_{sample_rate}"})
        url = f"{self._url}/v1/text-to-speech/{self._voice_id}/stream-input?{query}"
        try:
            async with asyncio.timeout(self._timeout):
                socket = await websockets.connect(url, additional_headers={"xi-api-key": self._api_key})
        except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
            raise TtsError("speech synthesis socket could not be opened") from exc
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
                if message.get("audio"):
                    yield base64.b64decode(message["audio"])
                if message.get("isFinal"):
                    return
        finally:
            await socket.close()


class EspeakSynthesizer:
    """Offline speech: robotic but intelligible, needs no network or key."""

    offline = True

    def __init__(self, *, voice: str = "en-us", chunk_ms: int = 200) -> None:
        self._voice = voice
        self._chunk_ms = chunk_ms

    async def stream(self, text: str, sample_rate: int) -> AsyncGenerator[bytes]:
        pcm, rate = await asyncio.to_thread(Espeak.synthesize, text, voice=self._voice)
        pcm = await asyncio.to_thread(resample, pcm, rate, sample_rate)
        size = sample_rate * self._chunk_ms // 1000 * 2
        for start in range(0, len(pcm), size):
            yield pcm[start:start + size]
