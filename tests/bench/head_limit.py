"""What the request-head bound costs per request: uvicorn's httptools protocol and ours
(`server/headlimit.py`) reading the same ~700-byte request (a bearer token, nine headers, a small
body) in one `data_received`, which also starts the request's ASGI task. Alternating rounds, the
fastest round of each kept. Run: .venv/bin/python -m tests.bench.head_limit"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from server.headlimit import HeadLimitedProtocol

REQUEST = (b"POST /api/v1/chat HTTP/1.1\r\nHost: example.com\r\nAuthorization: Bearer " + b"x" * 400 + b"\r\n"
           b"Content-Type: application/json\r\nAccept: text/event-stream\r\nUser-Agent: Mozilla/5.0\r\n"
           b"Accept-Language: en\r\nAccept-Encoding: gzip\r\nConnection: keep-alive\r\nContent-Length: 40\r\n\r\n"
           + b"x" * 40)
ROUNDS, REQUESTS = 7, 3000


class _Transport:
    """Just enough of a socket transport for the protocol to read a request."""

    def __init__(self) -> None:
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 5000)}.get(name, default)

    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _app(scope: Any, receive: Any, send: Any) -> None:
    pass


async def main() -> None:
    loop = asyncio.get_running_loop()
    config = Config(app=_app, log_config=None)
    config.load()
    kinds: list[tuple[str, type[HttpToolsProtocol], dict[str, int]]] = [
        ("uvicorn httptools", HttpToolsProtocol, {}),
        ("head-limited", HeadLimitedProtocol, {"max_head_bytes": 32 * 1024, "max_headers": 100}),
    ]
    best: dict[str, float] = {}
    for _ in range(ROUNDS):
        for name, cls, limits in kinds:
            total = 0.0
            for _ in range(REQUESTS):
                protocol = cls(config=config, server_state=ServerState(), app_state={}, _loop=loop, **limits)
                protocol.connection_made(_Transport())  # type: ignore[arg-type]
                began = time.perf_counter()
                protocol.data_received(REQUEST)
                total += time.perf_counter() - began
                for task in list(protocol.tasks):
                    task.cancel()
                protocol.connection_lost(None)
                await asyncio.sleep(0)
            best[name] = min(best.get(name, float("inf")), total / REQUESTS * 1e6)
    for name, us in best.items():
        print(f"{name:>18}: {us:.1f} µs per request head ({len(REQUEST)} bytes), fastest of {ROUNDS} rounds")


if __name__ == "__main__":
    asyncio.run(main())
