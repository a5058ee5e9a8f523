"""Frames between the server and an extraction child: a JSON header and optional raw bytes.

Frame: 4-byte header length, 8-byte payload length (big endian), the header (JSON), the payload.
"""

from __future__ import annotations

import asyncio
import struct
from typing import IO, Any

import orjson

_PREFIX = struct.Struct(">IQ")


def encode(header: dict[str, Any], payload: bytes = b"") -> bytes:
    head = orjson.dumps(header)
    return _PREFIX.pack(len(head), len(payload)) + head + payload


def read_sync(stream: IO[bytes]) -> tuple[dict[str, Any], bytes] | None:
    """The next frame, or None at end of input (the server went away)."""
    prefix = stream.read(_PREFIX.size)
    if len(prefix) < _PREFIX.size:
        return None
    head_size, payload_size = _PREFIX.unpack(prefix)
    header: dict[str, Any] = orjson.loads(stream.read(head_size))
    return header, stream.read(payload_size)


async def read_async(stream: asyncio.StreamReader) -> dict[str, Any]:
    """A child's frame (children send headers only). Raises `asyncio.IncompleteReadError` when
    the child died."""
    head_size, payload_size = _PREFIX.unpack(await stream.readexactly(_PREFIX.size))
    head = await stream.readexactly(head_size)
    if payload_size:
        await stream.readexactly(payload_size)
    # A big result (thousands of chunks) is parsed off the event loop.
    parsed: dict[str, Any] = orjson.loads(head) if head_size < 65536 else await asyncio.to_thread(orjson.loads, head)
    return parsed
