"""Fake ElevenLabs: the HTTP streaming endpoint (raw PCM16), its with-timestamps variant (one JSON
line per chunk: `audio_base64`, `alignment` and `normalized_alignment` of the characters whose
audio is in that chunk, in seconds from the start of the request's audio) and the input-streaming
WebSocket (`audio` with its `alignment` in the socket's own shape: `chars`, `charStartTimesMs`,
`charDurationsMs`, in ms from the start of that audio chunk). The audio is a 220 Hz tone (so it is not silence)
lasting `ms_per_char` per character of the text, like speech, and the alignment says so.
Standalone (its own process, for benchmarks): `python -m tests.fakes.elevenlabs_server --port 8102
--ttfb 0.1`."""

from __future__ import annotations

import asyncio
import base64
import json
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect


@dataclass
class ElevenLabsConfig:
    ttfb_s: float = 0.03
    ms_per_char: float = 60.0
    chunk_ms: int = 100
    speed: float = 5.0  # audio produced this many times faster than real time
    hang_next: int = 0  # the next N requests send headers, then nothing
    fail_next: int = 0
    fail_status: int = 500


def tone(ms: float, rate: int) -> bytes:
    samples = np.arange(int(rate * ms / 1000))
    return (np.sin(2 * math.pi * 220 * samples / rate) * 8000).astype(np.int16).tobytes()


@dataclass
class FakeElevenLabs:
    config: ElevenLabsConfig = field(default_factory=ElevenLabsConfig)
    requests: list[dict[str, Any]] = field(default_factory=list)
    open_streams: int = 0

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/v1/text-to-speech/{voice_id}/stream", self._stream, methods=["POST"]),
            Route("/v1/text-to-speech/{voice_id}/stream/with-timestamps", self._stream_with_timestamps,
                  methods=["POST"]),
            WebSocketRoute("/v1/text-to-speech/{voice_id}/stream-input", self._socket),
        ])

    def _rate(self, output_format: str) -> int:
        assert output_format.startswith("pcm_"), output_format
        return int(output_format.removeprefix("pcm_"))

    async def _audio(self, text: str, rate: int) -> AsyncIterator[bytes]:
        pcm = tone(len(text) * self.config.ms_per_char, rate)
        size = rate * self.config.chunk_ms // 1000 * 2
        # Chunks are due on a fixed schedule from the request, so loop delays do not add up.
        began, step = time.monotonic(), self.config.chunk_ms / 1000 / self.config.speed
        for index, start in enumerate(range(0, len(pcm), size)):
            if (delay := began + self.config.ttfb_s + index * step - time.monotonic()) > 0:
                await asyncio.sleep(delay)
            yield pcm[start:start + size]

    def alignment(self, text: str, start: int, end: int, rate: int) -> dict[str, Any]:
        """The characters whose audio lies in bytes [start, end) of the text's audio."""
        per_char = self.config.ms_per_char / 1000
        first = math.ceil(start / 2 / rate / per_char - 1e-9)
        last = min(len(text), math.ceil(end / 2 / rate / per_char - 1e-9))
        return {"characters": list(text[first:last]),
                "character_start_times_seconds": [round(i * per_char, 3) for i in range(first, last)],
                "character_end_times_seconds": [round((i + 1) * per_char, 3) for i in range(first, last)]}

    async def _timed(self, text: str, rate: int) -> AsyncIterator[tuple[bytes, dict[str, Any]]]:
        at = 0
        async for chunk in self._audio(text, rate):
            yield chunk, self.alignment(text, at, at + len(chunk), rate)
            at += len(chunk)

    async def _stream(self, request: Request) -> Response:
        return await self._http(request, timestamps=False)

    async def _stream_with_timestamps(self, request: Request) -> Response:
        return await self._http(request, timestamps=True)

    async def _http(self, request: Request, *, timestamps: bool) -> Response:
        body = await request.json()
        if len(self.requests) >= 10_000:  # a long benchmark run must not grow the fake forever
            del self.requests[:5_000]
        fmt = request.query_params.get("output_format", "mp3_44100_128")
        self.requests.append({"transport": "http+timestamps" if timestamps else "http",
                              "voice_id": request.path_params["voice_id"],
                              "text": body["text"], "model_id": body.get("model_id"), "output_format": fmt,
                              "api_key": request.headers.get("xi-api-key")})
        if self.config.fail_next > 0:
            self.config.fail_next -= 1
            return JSONResponse({"detail": {"status": "fake_failure"}}, status_code=self.config.fail_status)
        hang = self.config.hang_next > 0
        if hang:
            self.config.hang_next -= 1
        rate = self._rate(fmt)

        async def body_stream() -> AsyncIterator[bytes]:
            self.open_streams += 1
            try:
                if hang:
                    await asyncio.sleep(3600)
                if not timestamps:
                    async for chunk in self._audio(body["text"], rate):
                        yield chunk
                    return
                async for chunk, alignment in self._timed(body["text"], rate):
                    line = {"audio_base64": base64.b64encode(chunk).decode(), "alignment": alignment,
                            "normalized_alignment": alignment}
                    yield (json.dumps(line) + "\n").encode()
            finally:
                self.open_streams -= 1

        return StreamingResponse(body_stream(), media_type="application/json" if timestamps else "audio/pcm")

    async def _socket(self, websocket: WebSocket) -> None:
        await websocket.accept()
        rate = self._rate(websocket.query_params.get("output_format", "pcm_16000"))
        self.open_streams += 1
        text = ""
        try:
            first = json.loads(await websocket.receive_text())
            self.requests.append({"transport": "websocket", "voice_id": websocket.path_params["voice_id"],
                                  "model_id": websocket.query_params.get("model_id"),
                                  "api_key": first.get("xi-api-key") or websocket.headers.get("xi-api-key"),
                                  "text": ""})
            while True:
                message = json.loads(await websocket.receive_text())
                text += message.get("text", "")
                if message.get("flush") or message.get("text") == "":
                    spoken, text = text.strip(), ""
                    if spoken:
                        self.requests[-1]["text"] += spoken
                        at = 0.0
                        async for chunk, alignment in self._timed(spoken, rate):
                            starts = [round(s * 1000 - at) for s in alignment["character_start_times_seconds"]]
                            socket_alignment = {"chars": alignment["characters"], "charStartTimesMs": starts,
                                                "charDurationsMs": [round(self.config.ms_per_char)] * len(starts)}
                            at += len(chunk) / 2 / rate * 1000
                            await websocket.send_text(json.dumps({"audio": base64.b64encode(chunk).decode(),
                                                                  "alignment": socket_alignment,
                                                                  "normalizedAlignment": socket_alignment}))
                if message.get("text") == "":
                    await websocket.send_text(json.dumps({"isFinal": True}))
                    break
            await websocket.close()
        except WebSocketDisconnect:
            pass
        finally:
            self.open_streams -= 1


def main() -> None:
    import argparse

    import uvicorn

    parser = argparse.ArgumentParser(description="Fake ElevenLabs (HTTP stream + stream-input socket) for benchmarks")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ttfb", type=float, default=0.1, help="seconds to the first audio byte")
    parser.add_argument("--ms-per-char", type=float, default=60.0, help="audio length per character of text")
    args = parser.parse_args()
    fake = FakeElevenLabs(ElevenLabsConfig(ttfb_s=args.ttfb, ms_per_char=args.ms_per_char))
    uvicorn.run(fake.app(), host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
