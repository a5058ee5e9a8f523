"""Fake OpenAI for the voice path: multipart transcription and a streaming (SSE) chat endpoint;
a JSON-schema request (the scorecard a session gets when it ends) is answered with a minimal
valid answer and recorded in `json_requests`, apart from the chats.

Behaviour is set on `FakeOpenAI.config` at any time (the fake serves from its own thread);
every request is recorded, so tests can check what the real SDK sent. Run it standalone (its
own process, for benchmarks): `python -m tests.fakes.openai_voice --port 8101 --stt 0.3 --ttft 0.25
--tps 30`.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.openai_chat import example_for


@dataclass
class OpenAIConfig:
    transcript: str = "How much is this car?"
    transcripts: list[str] = field(default_factory=list)  # answered first, one per request, then `transcript`
    stt_latency_s: float = 0.05
    stt_fail_next: int = 0  # answer the next N transcriptions with stt_fail_status
    stt_fail_status: int = 500
    reply: str = "It is a fair price. The car has low mileage and a full service history."
    ttft_s: float = 0.05
    tokens_per_s: float = 200.0
    cut_next_after: int | None = None  # break the next stream after this many tokens


@dataclass
class FakeOpenAI:
    config: OpenAIConfig = field(default_factory=OpenAIConfig)
    transcriptions: list[dict[str, Any]] = field(default_factory=list)
    chats: list[dict[str, Any]] = field(default_factory=list)
    json_requests: list[dict[str, Any]] = field(default_factory=list)
    open_streams: int = 0

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/v1/audio/transcriptions", self._transcribe, methods=["POST"]),
            Route("/v1/chat/completions", self._chat, methods=["POST"]),
        ])

    async def _transcribe(self, request: Request) -> Response:
        form = await request.form()
        upload = form["file"]
        assert not isinstance(upload, str)
        data = await upload.read()
        with wave.open(io.BytesIO(data), "rb") as wav:  # a real WAV or this raises
            seconds = wav.getnframes() / wav.getframerate()
            rate = wav.getframerate()
        if len(self.transcriptions) >= 10_000:  # a long benchmark run must not grow the fake forever
            del self.transcriptions[:5_000]
        self.transcriptions.append({"model": form.get("model"), "filename": upload.filename,
                                    "seconds": seconds, "sample_rate": rate, "at": time.monotonic()})
        await asyncio.sleep(self.config.stt_latency_s)
        if self.config.stt_fail_next > 0:
            self.config.stt_fail_next -= 1
            return JSONResponse({"error": {"message": "fake failure", "type": "server_error"}},
                                status_code=self.config.stt_fail_status)
        text = self.config.transcripts.pop(0) if self.config.transcripts else self.config.transcript
        return JSONResponse({"text": text})

    async def _chat(self, request: Request) -> Response:
        body = await request.json()
        if body.get("response_format"):
            return self._json(body)
        if len(self.chats) >= 10_000:
            del self.chats[:5_000]
        self.chats.append(body)
        cut, self.config.cut_next_after = self.config.cut_next_after, None
        tokens = [word + " " for word in self.config.reply.split(" ")]
        tokens[-1] = tokens[-1].rstrip()
        ttft, interval = self.config.ttft_s, 1.0 / self.config.tokens_per_s

        async def events() -> AsyncIterator[bytes]:
            self.open_streams += 1
            # Token k is due at ttft + k * interval from the request, whatever the sleeps overran:
            # under load the fake must keep its advertised latencies, not drift behind them.
            began = time.monotonic()
            try:
                for index, token in enumerate(tokens):
                    if (delay := began + ttft + index * interval - time.monotonic()) > 0:
                        await asyncio.sleep(delay)
                    if cut is not None and index >= cut:
                        raise ConnectionAbortedError("fake stream cut")  # uvicorn drops the connection
                    yield _sse(_chunk({"content": token}))
                yield _sse(_chunk({}, finish="stop"))
                yield _sse({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0,
                            "model": body.get("model", "fake"), "choices": [],
                            "usage": {"prompt_tokens": 10, "completion_tokens": len(tokens),
                                      "total_tokens": 10 + len(tokens)}})
                yield b"data: [DONE]\n\n"
            finally:
                self.open_streams -= 1

        return StreamingResponse(events(), media_type="text/event-stream")


    def _json(self, body: dict[str, Any]) -> Response:
        self.json_requests.append(body)
        content = json.dumps(example_for(body["response_format"].get("json_schema", {}).get("schema", {})))
        return JSONResponse({
            "id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": body.get("model", "fake"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": None},
                         "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}})


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": "fake",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def _sse(data: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(data)}\n\n".encode()


def main() -> None:
    import argparse

    import uvicorn

    parser = argparse.ArgumentParser(description="Fake OpenAI (transcription + streaming chat) for benchmarks")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--stt", type=float, default=0.3, help="seconds per transcription")
    parser.add_argument("--ttft", type=float, default=0.25, help="seconds to the first token")
    parser.add_argument("--tps", type=float, default=30.0, help="tokens per second after the first")
    parser.add_argument("--reply", default=OpenAIConfig.reply)
    parser.add_argument("--transcript", default=OpenAIConfig.transcript)
    args = parser.parse_args()
    fake = FakeOpenAI(OpenAIConfig(transcript=args.transcript, stt_latency_s=args.stt, reply=args.reply,
                                   ttft_s=args.ttft, tokens_per_s=args.tps))
    uvicorn.run(fake.app(), host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
