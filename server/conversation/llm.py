"""The language model behind a small interface, and its OpenAI-compatible adapter.

`stream()` yields text deltas and then one `Usage`; every failure is an `LLMError` with a
code and a `retryable` flag. The adapter retries (connection errors, 408/409/429/5xx, a stream
that ends before its first token) only until the first token: after that, a broken stream is
an error for the caller, never a silent cut. Any server speaking OpenAI's chat completions API
(OpenRouter, Ollama, vLLM) works by setting `OPENAI_BASE_URL`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol, cast

import aiohttp
import httpx2 as httpx  # the HTTP client under this openai SDK: its transport errors reach us raw
import openai
import orjson
from openai import AsyncOpenAI

from server.conversation.usage import Usage
from server.settings import Settings

ChatTurn = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": ...}


class LLMError(Exception):
    def __init__(self, code: str, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable


class LLM(Protocol):
    model: str

    def stream(self, messages: list[ChatTurn]) -> AsyncIterator[str | Usage]: ...

    async def complete_json(self, messages: list[ChatTurn], *, name: str,
                            schema: dict[str, Any]) -> tuple[dict[str, Any], Usage]: ...


@dataclass
class _Opening:
    text: str
    finish_reason: str | None
    usage: Usage | None


class OpenAIChat:
    """Chat completions over `AsyncOpenAI`; the SDK's own retries are off (we retry only before
    the first token, within `llm_first_token_timeout_seconds`)."""

    def __init__(self, settings: Settings) -> None:
        self.model = settings.llm_model
        self._settings = settings
        self._client = AsyncOpenAI(
            api_key=settings.openai_api_key, base_url=settings.openai_base_url, max_retries=0,
            http_client=openai.DefaultAioHttpClient(),
            timeout=openai.Timeout(connect=settings.llm_connect_timeout_seconds,
                                   read=settings.llm_read_timeout_seconds, write=10.0,
                                   # aiohttp bounds connecting by this one too: never below `connect`.
                                   pool=max(5.0, settings.llm_connect_timeout_seconds)),
        )

    async def close(self) -> None:
        await self._client.close()

    async def stream(self, messages: list[ChatTurn]) -> AsyncIterator[str | Usage]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._settings.llm_first_token_timeout_seconds
        attempt = 0
        while True:
            response = contextlib.AsyncExitStack()
            try:
                async with asyncio.timeout_at(deadline):
                    # The raw event stream, parsed here: the SDK's typed stream builds a pydantic
                    # model per token (once ~40% of the server's CPU at 50 concurrent chats), and
                    # its typed `create` walks every message through its parameter transform
                    # (~1 ms a request). `post` is the SDK's documented way to send a body as is.
                    body = await self._client.post(
                        "/chat/completions", cast_to=httpx.Response, stream=True, body={
                            "model": self.model, "messages": messages, "stream": True,
                            "stream_options": {"include_usage": True},
                            "temperature": self._settings.llm_temperature,
                            "max_tokens": self._settings.llm_max_tokens})
                    response.push_async_callback(body.aclose)
                    chunks = _chunks(_raw(body))
                    opening = await _opening(chunks)
            except (openai.APIError, httpx.HTTPError, LLMError, TimeoutError) as exc:
                await response.aclose()
                error = classify(exc)
                attempt += 1
                pause = _backoff(exc, attempt)
                if not error.retryable or attempt > self._settings.llm_retries or loop.time() + pause >= deadline:
                    raise error from exc
                await asyncio.sleep(pause)
                continue
            except BaseException:  # cancelled, or a bug: the connection still goes back
                await response.aclose()
                raise
            break
        try:
            # The relay, inline: every async generator a token passes through costs it a hop.
            if opening.text:
                yield opening.text
            finish, usage = opening.finish_reason, opening.usage
            try:
                async for chunk in chunks:
                    usage = _usage(chunk) or usage
                    for content, reason in _choices(chunk):
                        if content:
                            yield content
                        finish = reason or finish
            except (openai.APIError, httpx.HTTPError, LLMError) as exc:
                raise LLMError("stream_interrupted", "The model's answer broke off midway; try again.",
                               retryable=True) from exc
            if finish is None:
                raise LLMError("stream_interrupted", "The model's answer broke off midway; try again.",
                               retryable=True)
            if finish == "content_filter":
                raise LLMError("content_filtered", "The model's provider filtered this answer.", retryable=False)
            if usage is not None:
                yield usage
        finally:
            await response.aclose()

    async def complete_json(self, messages: list[ChatTurn], *, name: str,
                            schema: dict[str, Any]) -> tuple[dict[str, Any], Usage]:
        attempt = 0
        while True:
            try:
                async with asyncio.timeout(self._settings.llm_read_timeout_seconds):
                    completion = await self._client.chat.completions.create(
                        model=self.model, messages=cast(Any, messages), temperature=0,
                        response_format=cast(Any, {"type": "json_schema", "json_schema": {
                            "name": name, "schema": schema, "strict": True}}),
                    )
                break
            except (openai.APIError, TimeoutError) as exc:
                error = classify(exc)
                attempt += 1
                if not error.retryable or attempt > self._settings.llm_retries:
                    raise error from exc
                await asyncio.sleep(_backoff(exc, attempt))
        content = completion.choices[0].message.content if completion.choices else None
        try:
            data = json.loads(content or "")
        except ValueError:
            raise LLMError("invalid_json", "The model did not answer with JSON.", retryable=False) from None
        if not isinstance(data, dict):
            raise LLMError("invalid_json", "The model's JSON is not an object.", retryable=False)
        usage = Usage()
        if completion.usage is not None:
            usage = Usage(completion.usage.prompt_tokens, completion.usage.completion_tokens)
        return data, usage


_LINE_END = re.compile(rb"\r\n|\r|\n")


def _raw(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body as it arrives: undecoded unless it is encoded (an event stream rarely is), which
    spares each token httpx's decoder and chunker."""
    if response.headers.get("content-encoding", "identity").strip().lower() in ("identity", ""):
        return response.aiter_raw()
    return response.aiter_bytes()


async def _chunks(body: AsyncIterator[bytes]) -> AsyncIterator[dict[str, Any]]:
    """The JSON chunks of a chat completions event stream, up to `data: [DONE]`: the data of
    each server-sent event, parsed. Lines end at CR, LF or CRLF only: a JSON string may hold
    U+2028 or U+0085 raw, which `str.splitlines()` would also cut at. Other fields (`event:`,
    `id:`, comments) are not needed: an error event carries an `error` object."""
    pending, data = b"", list[bytes]()
    async for piece in body:
        if (not pending and not data and piece.startswith(b"data: ") and piece.endswith(b"\n\n")
                and piece.find(b"\n") == len(piece) - 2 and b"\r" not in piece):
            # The usual piece, one whole event of one line (`data: {...}\n\n`): ~2 us a token
            # less than splitting it into lines.
            chunk = _parse(piece[6:-2])
            if chunk is _DONE:
                return
            if chunk is not None:
                yield chunk
            continue
        pending += piece
        # A CR at the very end may be the first half of a CRLF: keep it for the next piece.
        end = len(pending) - 1 if pending.endswith(b"\r") else len(pending)
        lines = _LINE_END.split(pending[:end])
        pending = lines.pop() + pending[end:]
        for line in lines:
            if not line:
                if data:
                    chunk = _parse(b"\n".join(data))
                    data = []
                    if chunk is _DONE:
                        return
                    if chunk is not None:
                        yield chunk
            elif line.startswith(b"data:"):
                data.append(line[6:] if line.startswith(b"data: ") else line[5:])
    if pending.startswith(b"data:"):
        data.append(pending[6:] if pending.startswith(b"data: ") else pending[5:])
    if data:
        chunk = _parse(b"\n".join(data))
        if chunk is not None and chunk is not _DONE:
            yield chunk


_DONE: dict[str, Any] = {}


def _parse(data: bytes) -> dict[str, Any] | None:
    """One event's data: a chunk, `_DONE` at `[DONE]`, None for anything else that is valid."""
    if data.strip() == b"[DONE]":
        return _DONE
    try:
        chunk = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise LLMError("provider_error", "The language model sent a malformed event.", retryable=True) from None
    if not isinstance(chunk, dict):
        return None
    if chunk.get("error"):
        raise LLMError("provider_error", "The language model failed while answering.", retryable=True)
    return chunk


def _usage(chunk: dict[str, Any]) -> Usage | None:
    usage = chunk.get("usage")
    if not isinstance(usage, dict):
        return None
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    return Usage(prompt if isinstance(prompt, int) else 0, completion if isinstance(completion, int) else 0)


def _choices(chunk: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(text, finish_reason) of each choice in a chunk; anything not shaped like one is skipped."""
    found = []
    choices = chunk.get("choices")
    for choice in choices if isinstance(choices, list) else ():
        if not isinstance(choice, dict):
            continue
        delta = choice.get("delta")
        content = delta.get("content") if isinstance(delta, dict) else None
        finish = choice.get("finish_reason")
        found.append((content if isinstance(content, str) else "", finish if isinstance(finish, str) else None))
    return found


async def _opening(chunks: AsyncIterator[dict[str, Any]]) -> _Opening:
    """Read until the first text (or the end): what happens before it may still be retried."""
    usage: Usage | None = None
    async for chunk in chunks:
        usage = _usage(chunk) or usage
        for content, finish in _choices(chunk):
            if content or finish:
                return _Opening(content, finish, usage)
    raise LLMError("stream_interrupted", "The model's stream ended before it said anything.", retryable=True)


def _unreachable(exc: BaseException) -> bool:
    """A refused, reset or dropped connection somewhere in the chain. The SDK's aiohttp transport
    reports every aiohttp connection error as a connect *timeout*; a refusal is not one."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, aiohttp.ClientConnectionError) and not isinstance(seen, TimeoutError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def classify(exc: BaseException) -> LLMError:
    if isinstance(exc, LLMError):
        return exc
    if _unreachable(exc):
        return LLMError("provider_unavailable", "The language model cannot be reached.", retryable=True)
    if isinstance(exc, TimeoutError | openai.APITimeoutError | httpx.TimeoutException):
        return LLMError("provider_timeout", "The language model took too long to answer.", retryable=True)
    if isinstance(exc, openai.APIConnectionError | httpx.TransportError):
        return LLMError("provider_unavailable", "The language model cannot be reached.", retryable=True)
    if isinstance(exc, openai.RateLimitError):
        return LLMError("provider_rate_limited", "The language model is rate limited; try again shortly.",
                        retryable=True)
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code >= 500 or exc.status_code in (408, 409):
            return LLMError("provider_unavailable", "The language model is unavailable.", retryable=True)
        if exc.status_code in (401, 403):
            return LLMError("provider_auth", "The language model rejected our credentials.", retryable=False)
        return LLMError("provider_rejected", "The language model rejected the request.", retryable=False)
    return LLMError("provider_error", "The language model failed.", retryable=True)


def _backoff(exc: BaseException, attempt: int) -> float:
    if isinstance(exc, openai.APIStatusError):
        header = exc.response.headers.get("retry-after")
        try:
            if header is not None:
                return min(float(header), 8.0)
        except ValueError:
            pass
    return float(min(0.25 * 2 ** (attempt - 1), 2.0))
