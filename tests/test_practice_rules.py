"""The rules of practice management on their own (no database): an assignment's status from its
progress, levels by score, and the moves a manager may make on the certification board."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from server.errors import Conflict, ValidationFailed
from server.practice.certification import BoardStage, check_move, level_of, moves
from server.practice.models import Assignment, AssignmentProgress
from server.practice.progress import Status, attempt_passed, summarise

NOW = datetime(2026, 12, 5, 12, tzinfo=UTC)
LEVELS = {"bronze": 60, "silver": 75, "gold": 90}


def assignment(scenarios: list[str], min_attempts: int = 1, due_in: timedelta = timedelta(days=1)) -> Assignment:
    return Assignment(id=uuid.uuid4(), scenario_ids=scenarios, min_attempts=min_attempts, due_at=NOW + due_in)


def progress(scenarios: dict[str, Any], *, passed: bool = False, overdue: bool = False) -> AssignmentProgress:
    return AssignmentProgress(user_id=uuid.uuid4(), attempts=sum(e["attempts"] for e in scenarios.values()),
                              scenarios=scenarios, passed_at=NOW if passed else None,
                              overdue_at=NOW if overdue else None)


def entry(attempts: int, best: float, latest: float, first: float, passed: bool = False) -> dict[str, Any]:
    return {"attempts": attempts, "best": best, "latest": latest, "first": first,
            "passed_at": NOW.isoformat() if passed else None}


def test_statuses() -> None:
    one = assignment(["a"], min_attempts=2)
    assert summarise(one, progress({}), NOW).status is Status.not_started
    assert summarise(one, progress({"a": entry(1, 50, 50, 50)}), NOW).status is Status.in_progress
    assert summarise(one, progress({"a": entry(2, 60, 60, 50)}), NOW).status is Status.failed
    assert summarise(one, progress({"a": entry(2, 90, 60, 50, True)}, passed=True), NOW).status is Status.passed
    # Past the due date: overdue unless passed, whether the clock or the sweep says so.
    late = assignment(["a"], due_in=timedelta(hours=-1))
    assert summarise(late, progress({"a": entry(1, 50, 50, 50)}), NOW).status is Status.overdue
    assert summarise(one, progress({}, overdue=True), NOW).status is Status.overdue
    assert summarise(late, progress({"a": entry(1, 90, 90, 90, True)}, passed=True), NOW).status is Status.passed


def test_a_programmes_scores_are_the_mean_over_its_scenarios() -> None:
    two = assignment(["a", "b"])
    summary = summarise(two, progress({"a": entry(2, 80, 70, 60, True)}), NOW)
    assert (summary.best_score, summary.latest_score, summary.first_score) == (40, 35, 30)
    assert summary.status is Status.in_progress  # b has no attempt yet


def test_an_attempt_passes_on_the_scorecard_or_the_assignments_mark() -> None:
    card = {"overall": 80.0, "passed": True, "goal_met": True}
    assert attempt_passed(card, None) and attempt_passed(card, 80) and not attempt_passed(card, 81)
    assert not attempt_passed({**card, "goal_met": False}, 50)  # the goal missed fails any mark
    assert attempt_passed({"overall": 65.0, "passed": False, "goal_met": None}, 60)


def test_levels() -> None:
    assert [level_of(s, LEVELS) for s in (None, 59.9, 60, 75, 89, 90, 100)] == \
        [None, None, "bronze", "silver", "silver", "gold", "gold"]


def test_board_moves() -> None:
    assert moves(BoardStage.not_started) == moves(BoardStage.practising) == []
    check_move(BoardStage.ready_for_review, BoardStage.certified, None)
    check_move(BoardStage.certified, BoardStage.ready_for_review, "Needs a supervised deal.")
    check_move(BoardStage.ready_for_review, BoardStage.practising, "Rushed.")
    for stage, target, code in [(BoardStage.practising, BoardStage.certified, "not_ready"),
                                (BoardStage.not_started, BoardStage.certified, "not_ready"),
                                (BoardStage.practising, BoardStage.ready_for_review, "stage_computed"),
                                (BoardStage.certified, BoardStage.not_started, "stage_computed"),
                                (BoardStage.certified, BoardStage.certified, "no_change")]:
        with pytest.raises(Conflict) as refused:
            check_move(stage, target, "a note")
        assert refused.value.code == code
    for stage, target in [(BoardStage.certified, BoardStage.ready_for_review),
                          (BoardStage.certified, BoardStage.practising)]:
        with pytest.raises(ValidationFailed):
            check_move(stage, target, "  ")
