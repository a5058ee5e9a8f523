"""A fake OpenAI embeddings endpoint (`POST /v1/embeddings`) speaking the real wire format.

Vectors are deterministic (the offline hashing embedding, tiled to 1536 dims) so similarity is
meaningful; an empty `api_key` accepts any key. `fail_next` queues error statuses to answer
first (429 carries Retry-After), to exercise retries; `requests` records the batch sizes that
arrived and `formats` the encoding asked for. `floats_only` answers plain float lists whatever
was asked (as some OpenAI-compatible servers do); `malformed_next` answers 200 with a body that
is not an embeddings list that many times; `delay` makes every answer that many seconds late.
"""

from __future__ import annotations

import asyncio
import base64
import struct
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from server.rag.hashing import embed_text

DIMENSION = 1536
MAX_INPUTS = 2048


@dataclass
class FakeEmbeddings:
    api_key: str = "test-key"
    fail_next: list[int] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)
    formats: list[str | None] = field(default_factory=list)
    calls: int = 0
    floats_only: bool = False
    malformed_next: int = 0
    delay: float = 0.0  # seconds before answering (a slow provider)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v1/embeddings", self.embeddings, methods=["POST"])])

    async def embeddings(self, request: Request) -> JSONResponse:
        self.calls += 1
        if self.api_key and request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "Incorrect API key provided.", "invalid_api_key")
        if self.fail_next:
            status = self.fail_next.pop(0)
            headers = {"retry-after": "0"} if status == 429 else {}
            return _error(status, "Rate limit reached." if status == 429 else "The server had an error.",
                          "rate_limit_exceeded" if status == 429 else "server_error", headers)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.malformed_next:
            self.malformed_next -= 1
            return JSONResponse({"object": "list", "data": [{"index": 0, "embedding": "not base64!"}]})
        body: dict[str, Any] = await request.json()
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs or len(inputs) > MAX_INPUTS:
            return _error(400, f"'input' must be 1 to {MAX_INPUTS} items.", "invalid_request_error")
        if any(not isinstance(text, str) or text == "" for text in inputs):
            return _error(400, "'input' cannot contain an empty string.", "invalid_request_error")
        self.requests.append(len(inputs))
        self.formats.append(body.get("encoding_format"))
        data = []
        for index, text in enumerate(inputs):
            vector = [x / 2.0 for x in embed_text(text)] * (DIMENSION // 384)  # still unit length
            if body.get("encoding_format") == "base64" and not self.floats_only:
                encoded: Any = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            else:
                encoded = vector
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        tokens = sum(len(t.split()) for t in inputs)
        return JSONResponse({"object": "list", "data": data, "model": body.get("model"),
                             "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})


def _error(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": code, "param": None, "code": code}},
                        status_code=status, headers=headers)
