"""A bound on the request head (request line + headers) that uvicorn's httptools parser lacks.

llhttp reads a header of any length and any number of headers: one 20 MB header was answered
200, and ten connections each sending an endless one took the server from 206 MB to 683 MB.
`HeadLimitedProtocol` is uvicorn's httptools protocol counting what arrives while a head is
incomplete; past `max_head_bytes`, or with more than `max_headers` headers, it answers 431 and
closes the connection before the request reaches the app (many small headers are bounded by
the byte count while they arrive, and counted once the head is whole). h11 has
`h11_max_incomplete_event_size`; we keep httptools, which is faster. `sparring serve` installs
it (`http_protocol(...)`); tests/bench/head_limit.py measures its cost.
"""

from __future__ import annotations

import functools
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from server.errors import error_body


class HeadTooLarge(Exception):
    pass


class HeadLimitedProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, max_head_bytes: int, max_headers: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_head_bytes = max_head_bytes
        self.max_headers = max_headers
        self._in_head = False  # between a request's first byte and the end of its headers
        self._head_bytes = 0  # of the head in progress, in the chunks before this one
        self._chunk_bytes = 0
        self._body_in_chunk = 0
        self._too_large = False

    def data_received(self, data: bytes) -> None:
        self._chunk_bytes, self._body_in_chunk = len(data), 0
        super().data_received(data)  # (a HeadTooLarge raised in a callback ends in send_400_response)
        if self._in_head and not self._too_large:
            # What this chunk added to a head still incomplete: httptools buffers a header until
            # it is whole, so a header that never ends is caught here, not in a callback.
            self._head_bytes += len(data) - self._body_in_chunk
            if self._head_bytes > self.max_head_bytes:
                self._too_large = True
                self._refuse()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes = True, 0

    def on_headers_complete(self) -> None:
        # The count, and the size of a head that arrived whole (measured only when this chunk
        # could have taken it over the limit: the usual head costs no sum).
        if len(self.headers) > self.max_headers or (
                self._head_bytes + self._chunk_bytes > self.max_head_bytes
                and len(self.url) + sum(len(n) + len(v) + 4 for n, v in self.headers) > self.max_head_bytes):
            self._too_large = True
            raise HeadTooLarge()
        self._in_head = False
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._body_in_chunk += len(body)
        super().on_body(body)

    def send_400_response(self, msg: str) -> None:
        if self._too_large:
            self._refuse()
        else:
            super().send_400_response(msg)

    def _refuse(self) -> None:
        self.logger.warning("Request head too large: refused with 431.")
        body = error_body("headers_too_large", "The request headers are too large or too many "
                          f"(at most {self.max_head_bytes} bytes and {self.max_headers} headers).",
                          {"max_bytes": self.max_head_bytes, "max_headers": self.max_headers})
        head = (b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
                b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n")
        if not self.transport.is_closing():
            self.transport.write(head + body)
            self.transport.close()


def http_protocol(max_head_bytes: int, max_headers: int) -> Any:
    """What `uvicorn.run(http=...)` takes: a factory of limited protocols (picklable, for workers)."""
    return functools.partial(HeadLimitedProtocol, max_head_bytes=max_head_bytes, max_headers=max_headers)
