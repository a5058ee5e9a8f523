"""Run a fake provider (any ASGI app speaking the provider's wire format) on a free port.

The fake runs in its own thread with its own event loop, so it serves equally well to async
tests, to a `live_server` subprocess, and to benchmarks. Real SDKs are pointed at `.url`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

from tests.conftest import free_port


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the test process owns signals
        pass


@contextmanager
def serve_in_thread(app: ASGIApp, *, ws: str = "websockets-sansio") -> Iterator[str]:
    """Yields the base URL (http://127.0.0.1:PORT) while the app is served."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws=ws)
    server = _Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), name=f"fake-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("fake server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
