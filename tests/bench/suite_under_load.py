"""Runs chosen tests repeatedly beside CPU burners, to find tests that only pass on an idle machine.

Each round is one pytest run of the chosen tests (so the embedded PostgreSQL, the live server and
Chromium start as they do in the suite); the burners are busy-loop processes started before the
first round and stopped, by their process ids, after the last. Burners and tests run at the same
`--nice` (19 by default: they compete with each other but yield to everything else on a shared
machine), optionally pinned to `--cpus` so that a few burners make a big difference.

Run (one test database per developer: set REDIS_TEST_URL as for any pytest run):
    .venv/bin/python tests/bench/suite_under_load.py --rounds 3 --burners 2 --cpus 0
    .venv/bin/python tests/bench/suite_under_load.py --burners 0 tests/test_web_e2e.py  # baseline
Prints one line per round and, at the end, a pass count per test with its median duration.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TESTS = [
    "tests/test_web_e2e.py::test_voice_turn_with_a_fake_microphone",
    "tests/test_web_e2e.py::test_admin_pages_and_screenshots",
    "tests/test_web_e2e.py::test_barge_in_stops_playback_and_marks_the_reply_interrupted",
]


def confine(nice: int, cpus: set[int] | None) -> Callable[[], None]:
    def apply() -> None:
        os.nice(nice)
        if cpus:
            os.sched_setaffinity(0, cpus)
    return apply


def start_burners(count: int, nice: int, cpus: set[int] | None) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"], preexec_fn=confine(nice, cpus))
            for _ in range(count)]


def one_round(tests: list[str], nice: int, cpus: set[int] | None, extra: list[str],
              log: Path | None) -> dict[str, tuple[str, float]]:
    """Runs the tests once; returns {test id: (outcome, seconds)}. pytest's output goes to `log`."""
    with tempfile.TemporaryDirectory() as folder, (log or Path(os.devnull)).open("wb") as output:
        report = Path(folder) / "report.xml"
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}",
                        *extra, *tests], cwd=ROOT, preexec_fn=confine(nice, cpus),
                       stdout=output, stderr=subprocess.STDOUT, check=False)
        if not report.exists():
            return {test: ("error", 0.0) for test in tests}
        outcomes: dict[str, tuple[str, float]] = {}
        for case in ET.parse(report).getroot().iter("testcase"):
            name = f"{case.get('classname', '').replace('.', '/')}.py::{case.get('name')}"
            children = {child.tag for child in case}
            outcome = ("failed" if children & {"failure", "error"} else "skipped" if "skipped" in children
                       else "passed")
            outcomes[name] = (outcome, float(case.get("time", 0)))
            if outcome == "failed":
                detail = next(child for child in case if child.tag in ("failure", "error"))
                print(f"  {name} failed: {(detail.get('message') or '')[:300]}", flush=True)
        return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tests", nargs="*", default=DEFAULT_TESTS, help="pytest node ids or files")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--burners", type=int, default=2, help="busy-loop processes beside the tests")
    parser.add_argument("--nice", type=int, default=19, help="niceness of the tests and the burners")
    parser.add_argument("--cpus", default="", help="pin tests and burners to these CPUs, e.g. 0 or 0,1")
    parser.add_argument("--pytest-args", default="", help="extra pytest arguments, e.g. '-k voice'")
    parser.add_argument("--log-dir", type=Path, help="keep each round's pytest output here (round-N.log)")
    args = parser.parse_args()
    if not os.environ.get("REDIS_TEST_URL"):
        parser.error("set REDIS_TEST_URL (your own Redis database) first")
    cpus = {int(c) for c in args.cpus.split(",")} if args.cpus else None
    if args.log_dir:
        args.log_dir.mkdir(parents=True, exist_ok=True)

    results: dict[str, list[tuple[str, float]]] = defaultdict(list)
    burners = start_burners(args.burners, args.nice, cpus)
    began = time.monotonic()
    try:
        for number in range(1, args.rounds + 1):
            started = time.monotonic()
            log = args.log_dir / f"round-{number}.log" if args.log_dir else None
            outcomes = one_round(args.tests, args.nice, cpus, args.pytest_args.split(), log)
            for test, outcome in outcomes.items():
                results[test].append(outcome)
            failed = sorted(t for t, (o, _) in outcomes.items() if o != "passed")
            print(f"round {number}: {len(outcomes) - len(failed)}/{len(outcomes)} passed in "
                  f"{time.monotonic() - started:.0f} s, load average {os.getloadavg()[0]:.1f}"
                  + (f"; not passed: {', '.join(failed)}" if failed else ""), flush=True)
    finally:
        for burner in burners:
            burner.terminate()
        for burner in burners:
            burner.wait()
    print(f"\n{args.rounds} rounds, {args.burners} burners, nice {args.nice}, cpus {args.cpus or 'all'}, "
          f"{time.monotonic() - began:.0f} s")
    for test, runs in sorted(results.items()):
        passed = sum(outcome == "passed" for outcome, _ in runs)
        median = statistics.median(seconds for _, seconds in runs)
        print(f"{passed}/{len(runs)} passed, median {median:.0f} s  {test}")


if __name__ == "__main__":
    main()
