"""An extraction child: `python -m server.rag.extractor.child <memory bytes>`.

Reads requests from stdin and answers on stdout (`protocol` frames), one job at a time, until
stdin closes. Its memory is capped for its whole life (RLIMIT_AS); each job's CPU time is capped
(RLIMIT_CPU: the kernel ends the process with SIGXCPU) in case the server's wall clock is gone.
Running out of memory exits with `EXIT_TOO_LARGE`: the process may be in no state to answer.
"""

from __future__ import annotations

import os
import resource
import sys
from typing import IO, Any

from server.rag.extractor import protocol

EXIT_TOO_LARGE = 3


def _limit_memory(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a killed 1 GB child writes no core file
    if limit > 0:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _limit_cpu(seconds: float) -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = int(usage.ru_utime + usage.ru_stime + seconds) + 1
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))


def _job(header: dict[str, Any], data: bytes, send: Any) -> dict[str, Any]:
    from server.rag.chunking import chunk_blocks
    from server.rag.extract import Block, ExtractionError, extract

    _limit_cpu(float(header["cpu_seconds"]))

    def on_page(number: int, total: int) -> None:
        send({"page": number, "pages": total})

    try:
        blocks: list[Block] = list(extract(header["kind"], data, max_docx_bytes=int(header["max_docx"]),
                                           on_page=on_page))
        del data
        send({"read": True})
        pieces = chunk_blocks(blocks, size=int(header["size"]), overlap=int(header["overlap"]))
    except ExtractionError as exc:
        return {"error": str(exc)}
    last_page = blocks[-1].page if blocks else None
    return {"pieces": [[p.position, p.text, p.page, p.page_end, p.heading] for p in pieces], "last_page": last_page}


def main() -> None:
    _limit_memory(int(sys.argv[1]))
    # Load every parser now, while idle, not when the first file waits.
    import server.rag.chunking
    import server.rag.extract
    import server.rag.wordml  # noqa: F401
    # Frames go to a private copy of stdout; anything a library prints lands on stderr instead.
    out: IO[bytes] = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def send(header: dict[str, Any]) -> None:
        out.write(protocol.encode(header))
        out.flush()

    try:
        while (frame := protocol.read_sync(sys.stdin.buffer)) is not None:
            send(_job(*frame, send))
    except MemoryError:
        os._exit(EXIT_TOO_LARGE)


if __name__ == "__main__":
    main()
