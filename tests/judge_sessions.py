"""The scripted judge sessions (tests/fixtures/judge_sessions/*.json): loading, playing and scoring them.

A session is either trainee lines played against the offline scenario customer (tagged as the
engine tags them) or a transcript written in full (customer turns tagged only by the classifier,
as a model-played customer's are). Each carries the score a human judge gave every criterion and
whether the session should pass. Agreement on a criterion: the same score on a binary or 0-3
scale, within one point on a 1-5 scale (the research's "within one" for fine scales).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server.conversation import tagging
from server.conversation.personas import builtin_personas
from server.training.criteria import BUILTIN_RUBRICS
from server.training.customer import scenario_reply
from server.training.facts import revealed
from server.training.offline_judge import TranscriptLine, passes
from server.training.spec import FrozenScenario, RubricSpec, ScenarioSpec, Verdict, overall

FOLDER = Path(__file__).parent / "fixtures" / "judge_sessions"


@dataclass
class Session:
    name: str
    scenario: FrozenScenario
    trainee: list[str] = field(default_factory=list)
    transcript: list[tuple[str, str]] = field(default_factory=list)
    expected: dict[str, int] = field(default_factory=dict)
    should_pass: bool | None = None
    group: str = ""  # the file it came from: "heldout" was scored before the judge ever ran on it


def load() -> list[Session]:
    sessions: list[Session] = []
    for path in sorted(FOLDER.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        rubrics = {**BUILTIN_RUBRICS, **{k: RubricSpec.model_validate(v) for k, v in data.get("rubrics", {}).items()}}
        scenarios = {}
        for key, raw in data["scenarios"].items():
            spec = ScenarioSpec.model_validate(raw)
            scenarios[key] = FrozenScenario(id=key, spec=spec, rubric_id=spec.rubric_id, rubric=rubrics[spec.rubric_id])
        for raw in data["sessions"]:
            expected = raw.get("expected") or {}
            sessions.append(Session(raw["name"], scenarios[raw["scenario"]], raw.get("trainee", []),
                                    [(role, text) for role, text in raw.get("transcript", [])],
                                    expected.get("criteria", {}), expected.get("passed"), path.stem))
    return sessions


def play(session: Session) -> list[TranscriptLine]:
    """The session's transcript, tagged as the engine tags it."""
    lines: list[TranscriptLine] = []
    if session.transcript:
        already: set[str] = set()
        last = ""
        for n, (role, text) in enumerate(session.transcript):
            if role == "user":
                tags: dict[str, Any] = tagging.user_tags(text)
                last = text
            else:
                tags = {**tagging.customer_tags(text), "by": "llm"}
                found = revealed(session.scenario.spec.hidden_facts, last, text, already)
                already |= set(found)
                tags["facts_revealed"] = found
            lines.append(TranscriptLine(f"{session.name}-{n}", role, text, tags))
        return lines
    persona = builtin_personas()[session.scenario.spec.persona_id]
    history: list[tuple[str, str, dict[str, Any]]] = []
    for n, text in enumerate(session.trainee):
        user_tags = tagging.user_tags(text)
        lines.append(TranscriptLine(f"{session.name}-u{n}", "user", text, user_tags))
        reply, tags = scenario_reply(session.scenario, persona, history, text)  # (earlier turns, as the engine)
        history += [("user", text, user_tags), ("assistant", reply, tags)]
        lines.append(TranscriptLine(f"{session.name}-c{n}", "assistant", reply, tags))
    return lines


def agrees(scale: str, got: int, want: int) -> bool:
    return abs(got - want) <= (1 if scale == "1-5" else 0)


@dataclass
class Result:
    session: Session
    verdict: Verdict
    score: int
    passed: bool
    agreed: int
    total: int
    misses: list[str]

    @property
    def false_pass(self) -> bool:
        return self.passed and self.session.should_pass is False


def score(session: Session, verdict: Verdict) -> Result:
    scales = {c.key: c.scale for c in session.scenario.rubric.criteria}
    agreed, misses = 0, []
    for result in verdict.criteria:
        want = session.expected.get(result.key)
        if want is None:
            continue
        if agrees(scales[result.key], result.score, want):
            agreed += 1
        else:
            misses.append(f"{result.key}: judged {result.score}, expected {want} ({result.reason})")
    passed = passes(session.scenario, verdict)
    return Result(session, verdict, overall(verdict.criteria, session.scenario.rubric), passed, agreed,
                  len([r for r in verdict.criteria if r.key in session.expected]), misses)
