"""OpenAI embeddings (`text-embedding-3-small` by default): batched within the API's limits and
retried with exponential backoff on 429, 5xx and connection errors."""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import random
from collections.abc import Iterator, Sequence

import httpx2 as httpx  # the HTTP client under this openai SDK
import numpy as np
import orjson
from openai import APIConnectionError, APIStatusError, AsyncOpenAI, DefaultAioHttpClient

from server.errors import ServiceUnavailable

log = logging.getLogger(__name__)

MAX_INPUTS = 2048  # per request
# 300k tokens per request; at worst ~3 characters per token for English prose.
MAX_CHARS_PER_REQUEST = 750_000
MAX_CHARS_PER_INPUT = 24_000  # 8192 tokens per input
KNOWN_DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072,
                    "text-embedding-ada-002": 1536}
RETRYABLE = frozenset({408, 409, 429, 500, 502, 503, 504})


class OpenAIEmbedder:
    offline = False

    def __init__(self, *, api_key: str, base_url: str, model: str, batch_size: int = 256,
                 attempts: int = 6, backoff: float = 0.5, timeout: float = 30.0) -> None:
        # The SDK's own retries are off: ours cover the whole batch with a known budget.
        self.client = AsyncOpenAI(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0,
                                  http_client=DefaultAioHttpClient())
        self.model = model
        self.dimension = KNOWN_DIMENSIONS.get(model, 1536)
        self.batch_size = min(batch_size, MAX_INPUTS)
        self.attempts = attempts
        self.backoff = backoff

    async def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for batch in self._batches([t[:MAX_CHARS_PER_INPUT] or " " for t in texts]):
            vectors.extend(await self._create(batch))
        return vectors

    async def close(self) -> None:
        await self.client.close()

    async def embed_query(self, text: str) -> list[float]:
        return (await self._create([text[:MAX_CHARS_PER_INPUT] or " "]))[0]

    def _batches(self, texts: list[str]) -> Iterator[list[str]]:
        batch: list[str] = []
        chars = 0
        for text in texts:
            if batch and (len(batch) >= self.batch_size or chars + len(text) > MAX_CHARS_PER_REQUEST):
                yield batch
                batch, chars = [], 0
            batch.append(text)
            chars += len(text)
        if batch:
            yield batch

    async def _create(self, batch: list[str]) -> list[list[float]]:
        for attempt in range(self.attempts):
            try:
                # `post` (the SDK's documented raw request) rather than `embeddings.create`: the
                # typed call parses every vector into a pydantic model, ~0.5 ms a query on the
                # critical path of every grounded answer. Vectors come as base64 float32, as the
                # SDK itself asks for them.
                response = await self.client.post("/embeddings", cast_to=httpx.Response, body={
                    "input": batch, "model": self.model, "encoding_format": "base64"})
            except APIStatusError as exc:
                if exc.status_code not in RETRYABLE or attempt == self.attempts - 1:
                    raise ServiceUnavailable(f"The embedding service answered {exc.status_code}.",
                                             details={"retryable": exc.status_code in RETRYABLE}) from exc
                delay = _retry_after(exc) or self._delay(attempt)
            except APIConnectionError as exc:
                if attempt == self.attempts - 1:
                    raise ServiceUnavailable("The embedding service cannot be reached.",
                                             details={"retryable": True}) from exc
                delay = self._delay(attempt)
            else:
                vectors = _vectors(response.content, len(batch))
                self.dimension = len(vectors[0])
                return vectors
            log.warning("embedding request retried", extra={"attempt": attempt + 1, "delay": round(delay, 2)})
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    def _delay(self, attempt: int) -> float:
        return float(min(self.backoff * 2**attempt, 8.0) * (0.5 + random.random() / 2))  # noqa: S311


def _vectors(content: bytes, expected: int) -> list[list[float]]:
    """The vectors of an embeddings response, in input order (each base64 float32, or a list)."""
    try:
        items = sorted(orjson.loads(content)["data"], key=lambda item: item["index"])
        vectors = [np.frombuffer(base64.b64decode(item["embedding"]), dtype="<f4").tolist()
                   if isinstance(item["embedding"], str) else [float(x) for x in item["embedding"]]
                   for item in items]
        if len(vectors) != expected or not vectors[0] or any(len(v) != len(vectors[0]) for v in vectors):
            raise ValueError("not one vector per input, all of one dimension")
    except (ValueError, TypeError, KeyError, binascii.Error) as exc:
        raise ServiceUnavailable("The embedding service sent an answer we cannot read.",
                                 details={"retryable": True}) from exc
    return vectors


def _retry_after(exc: APIStatusError) -> float | None:
    value = exc.response.headers.get("retry-after")
    try:
        return min(float(value), 30.0) if value else None
    except ValueError:
        return None
