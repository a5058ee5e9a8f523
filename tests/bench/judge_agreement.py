"""Judge agreement: the offline judge (and the online one, when a model is configured) against the
scores a human judge gave the scripted sessions in tests/fixtures/judge_sessions/*.json.

Agreement on a criterion: the same score on a binary or 0-3 scale, within one point on 1-5.
A false pass: the judge passes a session the human judge failed (the bar: none).

Run:  .venv/bin/python tests/bench/judge_agreement.py [-v]
Bar (issue 18): offline agreement >= 85 % of criteria and no false pass; the online figure is
printed when OPENAI_API_KEY (or the settings' model) is configured and server/training/online_judge.py
exists, and is not part of CI.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from server.training.offline_judge import judge
from tests.judge_sessions import Result, load, play, score


def offline_results() -> list[Result]:
    sessions = load()
    played = [play(session) for session in sessions]
    started = time.perf_counter()
    verdicts = [judge(session.scenario, lines) for session, lines in zip(sessions, played, strict=True)]
    elapsed = time.perf_counter() - started
    turns = sum(len(lines) for lines in played)
    print(f"offline judge time: {1000 * elapsed / len(sessions):.2f} ms a session ({turns / len(sessions):.1f} "
          "messages on average)")
    return [score(session, verdict) for session, verdict in zip(sessions, verdicts, strict=True)]


def report(name: str, results: list[Result], verbose: bool) -> tuple[float, int]:
    agreed = sum(r.agreed for r in results)
    total = sum(r.total for r in results)
    false_passes = [r.session.name for r in results if r.false_pass]
    false_fails = [r.session.name for r in results if not r.passed and r.session.should_pass]
    share = agreed / total if total else 0.0
    print(f"{name} judge: {agreed}/{total} criteria agree ({100 * share:.1f} %) over {len(results)} sessions; "
          f"false passes: {len(false_passes)} {false_passes}; false fails: {len(false_fails)} {false_fails}")
    for result in results:
        if verbose or result.misses:
            mark = "PASS" if result.passed else "fail"
            print(f"  {result.session.name}: {result.agreed}/{result.total}, overall {result.score} {mark} "
                  f"(expected {'pass' if result.session.should_pass else 'fail'})")
            for miss in result.misses:
                print(f"    {miss}")
    return share, len(false_passes)


async def online_results() -> list[Result] | None:
    """The online judge over the same sessions, or None (with a printed note) when it cannot run."""
    try:
        module = importlib.import_module("server.training.online_judge")
    except ImportError:
        print("online judge: skipped (server/training/online_judge.py is not in this build)")
        return None
    from server.conversation.llm import OpenAIChat
    from server.settings import load_settings

    settings = load_settings()
    if not settings.openai_api_key:
        print("online judge: skipped (no model configured: set OPENAI_API_KEY)")
        return None
    llm = OpenAIChat(settings)
    takes_llm = len(inspect.signature(module.judge).parameters) >= 3  # judge(llm, scenario, lines)?
    results = []
    for session in load():
        lines = play(session)
        verdict = module.judge(llm, session.scenario, lines) if takes_llm else module.judge(session.scenario, lines)
        if inspect.isawaitable(verdict):
            verdict = await verdict
        results.append(score(session, verdict))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="every session, not only disagreements")
    args = parser.parse_args()
    results = offline_results()
    share, false_passes = report("offline", results, args.verbose)
    held = [r for r in results if r.session.group == "heldout"]
    if held:
        report("offline (held-out sessions only)", held, verbose=False)
    try:
        online = asyncio.run(online_results())
    except Exception as exc:  # the online figure is informative only: say why it is missing
        print(f"online judge: failed ({type(exc).__name__}: {exc})")
        online = None
    if online is not None:
        report("online", online, args.verbose)
    return 0 if share >= 0.85 and false_passes == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
