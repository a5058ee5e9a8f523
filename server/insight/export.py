"""Team insight as one CSV file: a title block, then each section (heatmap, first attempt versus
best, practice time per week, leaderboard) under its own header row, separated by a blank row.

Spreadsheets run a cell that starts with = + - @ (or a tab or carriage return) as a formula; names
and scenario titles are written by people, so such a cell is written with a leading quote
(OWASP's advice for CSV injection). Numbers are written as numbers."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable
from datetime import datetime

from server.conversation.taxonomy import OBJECTION_NAMES
from server.insight.team import TeamInsight

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
Cell = str | int | float | None


def safe(value: Cell | uuid.UUID | datetime) -> Cell:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_csv(insight: TeamInsight, dealership_name: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")

    def rows(items: Iterable[Iterable[Cell | uuid.UUID | datetime]]) -> None:
        writer.writerows([safe(cell) for cell in row] for row in items)

    names = {p.user_id: p.name for p in insight.people}
    rows([["Team insight", dealership_name],
          ["from", insight.start, "to", insight.end, "team_id", insight.team_id], []])
    rows([["Heatmap"], ["person", "user_id", "objection", "average", "best", "sessions"]])
    rows([names.get(c.user_id, ""), c.user_id, OBJECTION_NAMES[c.objection], c.average, c.best, c.sessions]
         for c in sorted(insight.heatmap, key=lambda c: (names.get(c.user_id, ""), c.objection.value)))
    rows([[], ["First attempt vs best"], ["person", "user_id", "practice", "first", "best", "attempts"]])
    rows([names.get(f.user_id, ""), f.user_id, f.practice_label, f.first, f.best, f.attempts]
         for f in insight.first_vs_best)
    rows([[], ["Practice time per week"], ["week_start", "minutes", "sessions", "people"]])
    rows([w.week_start.date().isoformat(), round(w.seconds / 60, 1), w.sessions, w.people]
         for w in insight.practice_weeks)
    rows([[], ["People"], ["person", "user_id", "sessions", "scored", "average", "best", "passed", "minutes"]])
    rows([p.name, p.user_id, p.sessions, p.scored, p.average, p.best, p.passed, round(p.seconds / 60, 1)]
         for p in insight.people)
    if insight.leaderboard is not None:
        rows([[], ["Leaderboard"], ["rank", "person", "user_id", "average", "best", "sessions", "passed"]])
        rows([e.rank, e.name, e.user_id, e.average, e.best, e.sessions, e.passed] for e in insight.leaderboard)
    return out.getvalue()
