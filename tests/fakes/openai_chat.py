"""A fake OpenAI-compatible chat completions server, for the real `openai` SDK to talk to.

Streams SSE like the real API (chunk objects; the role chunk first; a finish chunk; with
`stream_options.include_usage` a last usage chunk whose `choices` is []; then `data: [DONE]`),
answers `response_format` JSON-schema requests with JSON (from `json_reply`, or a minimal
object that satisfies the schema), and can misbehave on demand:

    fake = FakeOpenAI(ttft=0.2, tokens_per_second=50)
    fake.fail_next(Fault("status", status=429), Fault("cut", after_tokens=3))
    with serve_in_thread(fake.app) as url:
        AsyncOpenAI(base_url=url + "/v1", api_key="test")

Faults are used one per request, in order: "status" answers an error status, "cut" drops the
connection after N tokens, "truncate" ends the stream cleanly after N tokens without a finish
reason or [DONE]. Every request body is kept in `requests` (the last `keep`, if given). Run it
standalone for benchmarks:
`python -m tests.fakes.openai_chat --port 8100 --ttft 0.2 --tps 100`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import gzip
import itertools
import json
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

Messages = list[dict[str, Any]]
_ids = itertools.count(1)


@dataclass(frozen=True)
class Fault:
    kind: Literal["status", "cut", "truncate"]
    status: int = 500
    after_tokens: int = 0
    retry_after: float | None = None


def echo_reply(messages: Messages) -> str:
    last = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    return f"Here is a practical answer about: {last[:80]}. Acknowledge the concern, then show the value."


def example_for(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> Any:
    """A minimal value satisfying a JSON schema (enough for strict structured-output schemas)."""
    defs = defs if defs is not None else schema.get("$defs", {})
    if "$ref" in schema:
        return example_for(defs[schema["$ref"].split("/")[-1]], defs)
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema:
        return example_for(schema["anyOf"][0], defs)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = kind[0]
    if kind == "object":
        return {name: example_for(sub, defs) for name, sub in schema.get("properties", {}).items()}
    if kind == "array":
        return []
    if kind == "integer":
        return int(schema.get("minimum", 0))
    if kind == "number":
        return float(schema.get("minimum", 0))
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return ""


class FakeOpenAI:
    def __init__(self, *, ttft: float = 0.0, tokens_per_second: float = 0.0,
                 reply: Callable[[Messages], str] = echo_reply,
                 json_reply: Callable[[str, dict[str, Any], Messages], dict[str, Any]] | None = None,
                 keep: int | None = None) -> None:
        self.ttft = ttft
        self.gzip = False  # answer event streams gzip-compressed (as some proxies do), whole
        self.tokens_per_second = tokens_per_second
        self.reply = reply
        self.json_reply = json_reply
        self.faults: deque[Fault] = deque()
        self.requests: deque[dict[str, Any]] = deque(maxlen=keep)
        self.app = Starlette(routes=[
            Route("/v1/chat/completions", self._completions, methods=["POST"]),
            Route("/v1/models", self._models, methods=["GET"]),
        ])

    def fail_next(self, *faults: Fault) -> None:
        self.faults.extend(faults)

    async def _models(self, request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": "gpt-4o", "object": "model", "owned_by": "fake"}]})

    async def _completions(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        fault = self.faults.popleft() if self.faults else None
        if fault is not None and fault.kind == "status":
            headers = {"retry-after": str(fault.retry_after)} if fault.retry_after is not None else {}
            kind = "rate_limit_exceeded" if fault.status == 429 else "server_error"
            return JSONResponse({"error": {"message": f"fake {fault.status}", "type": kind, "code": kind}},
                                status_code=fault.status, headers=headers)
        messages: Messages = body["messages"]
        model = body.get("model", "gpt-4o")
        prompt_tokens = sum(len(str(m.get("content", ""))) // 4 + 4 for m in messages)
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            events = self._stream(messages, model, prompt_tokens, include_usage, fault)
            if self.gzip:
                body = gzip.compress(b"".join([event async for event in events]))
                return Response(body, media_type="text/event-stream", headers={"content-encoding": "gzip"})
            return StreamingResponse(events, media_type="text/event-stream")
        await asyncio.sleep(self.ttft)
        content = self._json(body, messages) if body.get("response_format") else self.reply(messages)
        return JSONResponse({
            "id": f"chatcmpl-fake{next(_ids)}", "object": "chat.completion", "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": None},
                         "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(content) // 4,
                      "total_tokens": prompt_tokens + len(content) // 4},
        })

    def _json(self, body: dict[str, Any], messages: Messages) -> str:
        spec = body["response_format"].get("json_schema", {})
        schema = spec.get("schema", {})
        data = self.json_reply(spec.get("name", ""), schema, messages) if self.json_reply else example_for(schema)
        return json.dumps(data)

    async def _stream(self, messages: Messages, model: str, prompt_tokens: int, include_usage: bool,
                      fault: Fault | None) -> AsyncIterator[bytes]:
        ident, created = f"chatcmpl-fake{next(_ids)}", int(time.time())

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            payload = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}
            if include_usage:
                payload["usage"] = None
            # Raw UTF-8, as the real API sends it (a token may hold U+2028, which is not a line end).
            return b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n"

        made: dict[str, bytes] = {}

        def content(token: str) -> bytes:
            # Built once per distinct token: the fake's CPU is not the server's, and the load
            # benchmarks run both on the same two cores.
            if token not in made:
                made[token] = chunk({"content": token})
            return made[token]

        text = self.reply(messages)
        tokens = [word + " " for word in text.split(" ")]
        tokens[-1] = tokens[-1].rstrip(" ")
        await asyncio.sleep(self.ttft)
        yield chunk({"role": "assistant", "content": "", "refusal": None})
        for index, token in enumerate(tokens):
            if fault is not None and index == fault.after_tokens:
                if fault.kind == "cut":
                    raise ConnectionAbortedError("fake stream cut")  # uvicorn drops the connection
                return  # "truncate": a clean end with no finish reason and no [DONE]
            if index and self.tokens_per_second:
                await asyncio.sleep(1 / self.tokens_per_second)
            yield content(token)
        yield chunk({}, finish="stop")
        if include_usage:
            usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(tokens),
                     "total_tokens": prompt_tokens + len(tokens)}
            yield b"data: " + json.dumps({"id": ident, "object": "chat.completion.chunk", "created": created,
                                          "model": model, "choices": [], "usage": usage}).encode() + b"\n\n"
        yield b"data: [DONE]\n\n"


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ttft", type=float, default=0.2, help="seconds before the first token")
    parser.add_argument("--tps", type=float, default=100.0, help="tokens per second after the first")
    parser.add_argument("--words", type=int, default=30, help="words per answer (the mean, with --spread)")
    parser.add_argument("--spread", type=float, default=0.0,
                        help="answers vary uniformly within words x (1 +- spread), from a fixed seed")
    args = parser.parse_args()
    from tests.fakes.openai_embeddings import FakeEmbeddings

    lengths = random.Random(11)

    def answer(_messages: Messages) -> str:
        spread = args.words * args.spread
        return " ".join(["word"] * max(1, round(args.words + lengths.uniform(-spread, spread))))

    # A benchmark's provider keeps no history (a growing heap made its collector pause longer
    # and longer, late in a run: on the server's chats, which come after the direct ones).
    fake = FakeOpenAI(ttft=args.ttft, tokens_per_second=args.tps, reply=answer, keep=16)
    # Embeddings too (any key), so a server pointed here can ingest documents and retrieve.
    embeddings = FakeEmbeddings(api_key="")
    fake.app.router.routes.extend(embeddings.app().routes)
    # Its first token is meant to come at a fixed time: no collector pass over its startup heap,
    # and few passes at all (as the server does, `server/app.py`).
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
    uvicorn.run(fake.app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
