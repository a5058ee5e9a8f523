"""The offline builder's cost on the event loop: the rules that read an admin's answer and a
pasted conversation run inline, so their time is the loop's.

Prints the mean per answer over the scripted conversation of tests/test_builder.py (the review's
draft read-back included), per 10-turn transcript, and the slowest of a set of long,
pathological answers (4,000 characters, the most an answer may be) and transcripts (50,000).

Run:  .venv/bin/python tests/bench/builder_rules.py [--rounds 200]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from server.training.builder import extract_offline, flow, transcript
from server.training.builder.collected import Collected
from server.training.builder.readers import OfflineReader
from server.training.builder.stages import Stage
from tests.test_builder import SCRIPT, TRANSCRIPT

LONG = ["Aaaa " * 800, "she pays " * 444, "$1," * 1333, "Honda " * 666, "2019 " * 800, "trade in " * 444,
        "Maria, " * 571, "her " * 1000, "- " * 2000]


async def scripted(rounds: int) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        state = flow.start("scenario")
        for text, _ in SCRIPT:
            state = await flow.answer(state, text, OfflineReader())
    return (time.perf_counter() - started) / (rounds * len(SCRIPT))


def slowest_answer() -> float:
    worst = 0.0
    for text in LONG:
        for stage in Stage:
            started = time.perf_counter()
            extract_offline.read(text[:4000], stage, Collected(name="Sam"))
            worst = max(worst, time.perf_counter() - started)
    return worst


def slowest_transcript() -> float:
    worst = 0.0
    for text in LONG:
        pasted = (("Customer: " + text + "\nSalesperson: " + text + "\n") * 7)[:50_000]
        started = time.perf_counter()
        transcript.read(pasted)
        worst = max(worst, time.perf_counter() - started)
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    per_answer = asyncio.run(scripted(args.rounds))
    started = time.perf_counter()
    for _ in range(args.rounds):
        transcript.read(TRANSCRIPT)
    per_transcript = (time.perf_counter() - started) / args.rounds
    print(f"scripted answer (mean of {args.rounds * len(SCRIPT)}): {per_answer * 1000:.2f} ms")
    print(f"10-turn transcript (mean of {args.rounds}): {per_transcript * 1000:.2f} ms")
    print(f"slowest 4,000-character answer: {slowest_answer() * 1000:.1f} ms")
    print(f"slowest 50,000-character transcript: {slowest_transcript() * 1000:.1f} ms")


if __name__ == "__main__":
    main()
