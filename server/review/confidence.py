"""How sure a scorecard's verdict is: a list of doubts, empty when the judge is confident.

A verdict is in doubt (the session goes to the review queue as `low_confidence`) when:
- `judge_fell_back`: the online judge's model call failed and the offline judge scored it;
- `criterion_judged_offline`: the model left a criterion out or scored it off its scale;
- `quotes_dropped`: a quote the model gave was not the trainee's words verbatim;
- `no_evidence`: a criterion scored above its scale's lowest point quotes nothing to show for it;
- `at_pass_mark`: the overall score is within `PASS_MARK_MARGIN` points of the pass mark, where a
  point either way changes pass into fail.
The first three come from the judge (`Verdict.doubts`, kept on the scorecard as `doubts`), the
others are read from the scorecard itself. A session with nothing scored has no doubts.
"""

from __future__ import annotations

from typing import Any

PASS_MARK_MARGIN = 2
_LOWEST = {1: 0, 3: 0, 5: 1}  # a criterion's scale by its highest point: binary, 0-3, 1-5


def doubts(card: dict[str, Any] | None) -> list[str]:
    if not card or card.get("version") != 2 or card.get("overall") is None:
        return []
    found = list(card.get("doubts") or [])
    for criterion in card.get("criteria") or []:
        if criterion["score"] > _LOWEST.get(int(criterion["max"]), 0) and not criterion.get("evidence"):
            found.append("no_evidence")
            break
    if abs(float(card["overall"]) - float(card.get("pass_score", 70))) <= PASS_MARK_MARGIN:
        found.append("at_pass_mark")
    return list(dict.fromkeys(found))
