"""The server's side: extraction children started on demand, reused while healthy, killed at a
limit or when the job stops. Every limit ends in an `ExtractionError` whose text is the reason
the user reads."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from server.rag.chunking import Piece
from server.rag.extract import ExtractionError
from server.rag.extractor import protocol
from server.rag.extractor.child import EXIT_TOO_LARGE

log = logging.getLogger(__name__)

TOO_SLOW = ("The file took too long to read (over {seconds:g} s); it was stopped. It may be damaged or built "
            "to overload the reader: try a simpler copy, or split it.")
TOO_SLOW_PAGE = ("The file took too long to read: page {page} alone ran over {seconds:g} s; it was stopped. The "
                 "page may be damaged or built to overload the reader: try a simpler copy.")
TOO_LARGE = ("The file is too large to read: reading it needed more than {mb} MB of memory; it was stopped. "
             "Try splitting it into smaller files.")
# A child used this many jobs is replaced, so no slow leak in a parser outlives it.
_JOBS_PER_CHILD = 200


@dataclass(frozen=True, slots=True)
class Limits:
    seconds: float  # wall clock for one document (extraction and chunking)
    page_seconds: float  # wall clock for one PDF page
    memory_mb: int  # the child's address space; 0: unlimited


@dataclass(frozen=True, slots=True)
class Request:
    kind: str
    data: bytes
    max_docx_bytes: int
    size: int
    overlap: int


@dataclass(frozen=True, slots=True)
class Result:
    pieces: list[Piece]
    pages: int | None  # a PDF's page count
    last_page: int | None  # the last page with text (DOCX: counted from page breaks)


class ChildDied(Exception):
    """The child ended without an answer for a reason that is not a limit (a crash): retried."""


class _Child:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.jobs = 0
        self.answered = False  # its last job ended with an answer: it can take another

    @property
    def pid(self) -> int:
        return self.process.pid

    async def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        await self.process.wait()


class ExtractorPool:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._idle: list[_Child] = []
        self._busy: set[_Child] = set()
        self._closed = False

    @property
    def busy_pids(self) -> list[int]:
        return [child.pid for child in self._busy]

    async def extract(self, request: Request, on_page: Callable[[int, int], None]) -> Result:
        """Read one file in a child. Cancelling this (the job stopped) kills the child at once."""
        child = await self._acquire()
        try:
            return await self._run(child, request, on_page)
        finally:
            self._busy.discard(child)
            if child.answered and not self._closed and child.jobs < _JOBS_PER_CHILD:
                self._idle.append(child)
            else:
                await asyncio.shield(child.kill())

    async def warm(self, count: int) -> None:
        """Start children ahead of the first job (each loads its parsers, ~0.4 s of CPU, meanwhile)."""
        while len(self._idle) < count and not self._closed:
            self._idle.append(await self._spawn())

    async def _spawn(self) -> _Child:
        memory = self.limits.memory_mb * 1024 * 1024
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "server.rag.extractor.child", str(memory),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        return _Child(process)

    async def _acquire(self) -> _Child:
        while self._idle:
            child = self._idle.pop()
            if child.process.returncode is None:
                break
        else:
            child = await self._spawn()
        self._busy.add(child)
        return child

    async def _run(self, child: _Child, request: Request, on_page: Callable[[int, int], None]) -> Result:
        limits = self.limits
        process = child.process
        assert process.stdin is not None and process.stdout is not None
        child.jobs += 1
        child.answered = False
        started = time.monotonic()
        deadline = started + limits.seconds
        page: int | None = None
        pages: int | None = None
        page_deadline = float("inf")
        header = {"kind": request.kind, "max_docx": request.max_docx_bytes, "size": request.size,
                  "overlap": request.overlap, "cpu_seconds": limits.seconds}
        try:
            process.stdin.write(protocol.encode(header, request.data))
            async with asyncio.timeout_at(_loop_time(deadline)):
                await process.stdin.drain()
            while True:
                timeout_at = min(deadline, page_deadline)
                async with asyncio.timeout_at(_loop_time(timeout_at)):
                    message = await protocol.read_async(process.stdout)
                if "page" in message:
                    page, pages = int(message["page"]), int(message["pages"])
                    on_page(page, pages)
                    page_deadline = time.monotonic() + limits.page_seconds
                    continue
                if "read" in message:  # every page read; chunking is bounded by the document's limit
                    page_deadline = float("inf")
                    continue
                child.answered = True
                if "error" in message:
                    raise ExtractionError(str(message["error"]))
                return _result(message, pages)
        except TimeoutError:
            if page_deadline <= deadline and page is not None:
                raise ExtractionError(TOO_SLOW_PAGE.format(page=page, seconds=limits.page_seconds)) from None
            raise ExtractionError(TOO_SLOW.format(seconds=limits.seconds)) from None
        except (asyncio.IncompleteReadError, ConnectionError):
            raise self._death(await _exit_code(process)) from None

    def _death(self, code: int) -> Exception:
        if code == EXIT_TOO_LARGE or code == -signal.SIGKILL:  # SIGKILL not ours: the kernel's OOM killer
            return ExtractionError(TOO_LARGE.format(mb=self.limits.memory_mb))
        if code == -signal.SIGXCPU:
            return ExtractionError(TOO_SLOW.format(seconds=self.limits.seconds))
        return ChildDied(f"the extraction process ended with code {code}")

    async def close(self) -> None:
        self._closed = True
        children = [*self._idle, *self._busy]
        self._idle.clear()
        await asyncio.gather(*(child.kill() for child in children), return_exceptions=True)


def _loop_time(monotonic_deadline: float) -> float:
    return asyncio.get_running_loop().time() + (monotonic_deadline - time.monotonic())


async def _exit_code(process: asyncio.subprocess.Process) -> int:
    try:
        async with asyncio.timeout(5):
            return await process.wait()
    except TimeoutError:  # its output closed but it lives on: end it
        process.kill()
        return await process.wait()


def _result(message: dict[str, Any], pages: int | None) -> Result:
    pieces = [Piece(position=int(p[0]), text=str(p[1]), page=p[2], page_end=p[3], heading=p[4])
              for p in message["pieces"]]
    return Result(pieces=pieces, pages=pages, last_page=message.get("last_page"))
