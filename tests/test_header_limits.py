"""Request heads are bounded by the server itself: `sparring serve` answers 431 (or closes) for
oversized or too many headers, and an endless header cannot grow its memory.

The server is started as an operator starts it (`sparring serve`), and spoken to over raw sockets.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from server.settings import Settings
from tests.conftest import ROOT, free_port

LIMIT = 16 * 1024  # MAX_HEADER_BYTES for this server
ENDLESS = 20 * 1024 * 1024


@pytest.fixture(scope="module")
def served(database_url: str, settings: Settings,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "ENVIRONMENT": "test", "JWT_SECRET": settings.jwt_secret,
           "REDIS_URL": "", "OPENAI_API_KEY": "", "ELEVENLABS_API_KEY": "", "PINECONE_API_KEY": "", "RAG_WORKERS": "0",
           "MAX_HEADER_BYTES": str(LIMIT), "MAX_HEADERS": "50"}
    log = (tmp_path_factory.mktemp("serve") / "server.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--port", str(port)], cwd=ROOT,
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, Path(log.name).read_text(errors="replace")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, Path(log.name).read_text(errors="replace")
            time.sleep(0.2)
        yield port, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def _exchange(port: int, head: bytes) -> bytes:
    """Send a whole request head, then read the answer until the server closes or it is complete."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
            if b"\r\n\r\n" in received and b"connection: close" not in received.lower():
                break  # a kept-alive answer: enough to read its status line
        return received


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def _memory_kb(pid: int, field: str) -> int:
    """VmRSS (resident now) or VmHWM (the most it was ever resident) of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field}")


def test_headers_within_the_limits_are_served(served: tuple[int, int]) -> None:
    port, _ = served
    head = (b"GET /api/health HTTP/1.1\r\nHost: x\r\nCookie: " + b"c" * (LIMIT // 2) + b"\r\n"
            + b"".join(b"X-H%d: v\r\n" % i for i in range(40)) + b"\r\n")
    assert _status(_exchange(port, head)) == 200
    # Bodies are not heads: a large one, then more requests on the same kept-alive connection.
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        for _ in range(3):
            big = client.post("/api/v1/auth/login", content=b"x" * (LIMIT * 8),
                              headers={"content-type": "application/json", "X-Pad": "p" * (LIMIT // 2)})
            assert big.status_code == 400 and big.json()["error"]["code"] == "malformed_json", big.text
            assert client.get("/api/health", headers={"X-Pad": "p" * (LIMIT // 2)}).status_code == 200


@pytest.mark.parametrize("case", ["one large header", "too many headers", "long url"])
def test_an_oversized_head_is_answered_431(served: tuple[int, int], case: str) -> None:
    port, _ = served
    head = {
        "one large header": b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (LIMIT + 1) + b"\r\n\r\n",
        "too many headers": b"GET /api/health HTTP/1.1\r\nHost: x\r\n"
                            + b"".join(b"X-H%d: v\r\n" % i for i in range(60)) + b"\r\n",
        "long url": b"GET /api/health?q=" + b"q" * (LIMIT + 1) + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    }[case]
    answer = _exchange(port, head)
    assert _status(answer) == 431, answer[:200]
    assert b'"code":"headers_too_large"' in answer


def _endless_header(port: int) -> int:
    """Send one header that never ends; return how much was sent before the server cut it off."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Endless: ")
        sent, answer = 0, b""
        try:
            while sent < ENDLESS:
                sock.sendall(b"a" * 65536)
                sent += 65536
            answer = sock.recv(65536)  # never cut off: whatever the server says now
        except (BrokenPipeError, ConnectionResetError):
            pass  # cut off: the server closed the connection (its 431 may be lost in the reset)
        except TimeoutError:
            raise AssertionError(f"after {sent} bytes the server neither answered nor closed") from None
        assert not answer.startswith(b"HTTP/1.1 200"), answer[:200]
        return sent


def test_endless_headers_are_cut_off_and_memory_stays_flat(served: tuple[int, int]) -> None:
    port, pid = served
    before = max(_memory_kb(pid, "VmRSS"), _memory_kb(pid, "VmHWM"))
    with ThreadPoolExecutor(max_workers=10) as pool:  # ten at once, as in the report
        sent = list(pool.map(_endless_header, [port] * 10))
    assert all(n < ENDLESS for n in sent), sent
    # The peak while the headers came in (the buffers are freed once the connections close).
    grown_mb = (_memory_kb(pid, "VmHWM") - before) / 1024
    assert grown_mb < 64, f"the server's peak memory grew by {grown_mb:.0f} MB"
    assert httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=10).status_code == 200
