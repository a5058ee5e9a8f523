"""Team insight for one dealership and date range, from the `session_insight` rows: a heatmap of
people by objection type, first attempt versus best per person and scenario, practice time per
week, and a leaderboard. Four grouped statements over one indexed range (dealership, started_at);
no JSON is read."""

from __future__ import annotations

import asyncio
import math
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Float, Select, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from server.conversation.taxonomy import OBJECTION_NAMES, Objection
from server.insight.models import SessionInsight as S

_OBJECTIONS = {o.value for o in Objection}


@dataclass(frozen=True, slots=True)
class Filter:
    dealership_id: uuid.UUID
    start: datetime | None = None  # started at or after
    end: datetime | None = None  # started before
    user_ids: list[uuid.UUID] | None = None  # a team's members; None: everyone

    def criteria(self) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = [S.dealership_id == self.dealership_id]
        if self.start is not None:
            where.append(S.started_at >= self.start)
        if self.end is not None:
            where.append(S.started_at < self.end)
        if self.user_ids is not None:
            where.append(S.user_id.in_(self.user_ids))
        return where


class ObjectionType(BaseModel):
    key: Objection
    label: str


class HeatCell(BaseModel):
    user_id: uuid.UUID
    objection: Objection
    average: float = Field(description="mean overall score (0-100) of the sessions practising it")
    best: float
    sessions: int


class FirstVsBest(BaseModel):
    user_id: uuid.UUID
    practice_key: str = Field(description="the scenario's id, or persona:<id> for a session without a scenario")
    practice_label: str
    first: float = Field(description="the overall score of the first attempt in the range")
    best: float
    attempts: int


class Week(BaseModel):
    week_start: datetime = Field(description="Monday 00:00 UTC")
    seconds: int
    sessions: int
    people: int


class PersonTotals(BaseModel):
    user_id: uuid.UUID
    name: str = ""
    sessions: int
    scored: int
    average: float | None
    best: float | None
    passed: int
    seconds: int


class LeaderboardEntry(BaseModel):
    rank: int
    user_id: uuid.UUID
    name: str
    average: float
    best: float
    sessions: int
    passed: int


class TeamInsight(BaseModel):
    dealership_id: uuid.UUID
    team_id: uuid.UUID | None = None
    start: datetime | None = Field(default=None, alias="from")
    end: datetime | None = Field(default=None, alias="to")
    objection_types: list[ObjectionType]
    people: list[PersonTotals]
    heatmap: list[HeatCell]
    first_vs_best: list[FirstVsBest]
    practice_weeks: list[Week]
    leaderboard_enabled: bool
    leaderboard: list[LeaderboardEntry] | None = Field(
        description="ranked by average score, then sessions; null when the dealership switched it off")

    model_config = {"populate_by_name": True}


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 1)


def _first_score(encoded: float | None) -> float:
    return 0.0 if encoded is None else round(encoded - 1000 * math.floor(encoded / 1000), 1)


def _flat(values: list[Any]) -> list[str]:
    """An objections array, flattened (a multi-dimensional one included)."""
    return [v for item in values for v in (_flat(item) if isinstance(item, list) else [item])]


async def _rows(engine: AsyncEngine, statement: Select[Any] | Any) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(statement)).all())


@dataclass
class _Acc:
    """Running sums for one heatmap cell, first-vs-best pair or person."""
    sessions: int = 0
    scored: int = 0
    total: float = 0.0
    best: float | None = None
    first: float | None = None  # start in ms x 1000 + score of the earliest scored attempt
    passed: int = 0
    seconds: int = 0
    label: str = ""

    def add(self, sessions: int, scored: int, total: float | None, best: float | None,
            first: float | None, passed: int, seconds: int | None) -> None:
        self.sessions += sessions
        self.scored += scored
        self.total += float(total or 0)
        if best is not None:
            self.best = best if self.best is None else max(self.best, best)
        if first is not None and (self.first is None or first < self.first):
            self.first = first
        self.passed += passed
        self.seconds += int(seconds or 0)

    @property
    def average(self) -> float | None:
        return round(self.total / self.scored, 1) if self.scored else None


async def team_insight(engine: AsyncEngine, scope: Filter, names: dict[uuid.UUID, str], *,
                       leaderboard_enabled: bool, team_id: uuid.UUID | None = None) -> TeamInsight:
    """Two statements, run at once on two pooled connections. The first groups the range by person,
    practice and objection set (hash aggregates only: nothing is sorted) into a few rows per person, which give
    the heatmap (a session's score counts for each of its objection types), first attempt versus
    best and each person's totals; the second groups by week."""
    where = scope.criteria()
    scored = S.overall.is_not(None)
    # The earliest scored attempt's score, by a hash aggregate: min(start in ms x 1000 + score) is the
    # earliest start (scores are whole numbers 0-100; exact in a float8 until the year 2255), and its
    # score is what is left over 1000 (`_first_score`).
    earliest = func.min(func.floor(func.extract("epoch", S.started_at) * 1000).cast(Float) * 1000 + S.overall) \
        .filter(scored)
    week = func.date_trunc("week", func.timezone("UTC", S.started_at))
    groups, weeks = await asyncio.gather(
        _rows(engine, select(S.user_id, S.practice_key, S.objections, func.max(S.practice_label), func.count(),
                             func.count(S.overall), func.sum(S.overall), func.max(S.overall), earliest,
                             func.count().filter(S.passed.is_(True)), func.sum(S.duration_s))
              .where(*where).group_by(S.user_id, S.practice_key, S.objections)),
        _rows(engine, select(week, func.sum(S.duration_s), func.count(), func.count(S.user_id.distinct()))
              .where(*where).group_by(week).order_by(week)))
    cells: dict[tuple[uuid.UUID, str], _Acc] = defaultdict(_Acc)
    practices: dict[tuple[uuid.UUID, str], _Acc] = defaultdict(_Acc)
    persons: dict[uuid.UUID, _Acc] = defaultdict(_Acc)
    for user_id, key, objections, label, n, n_scored, total, best, first, passed, seconds in groups:
        sums = (n, n_scored, total, best, first, passed, seconds)
        persons[user_id].add(*sums)
        if n_scored:
            practices[(user_id, key)].add(*sums)
            practices[(user_id, key)].label = label
            for objection in set(_flat(objections)) & _OBJECTIONS:
                cells[(user_id, objection)].add(*sums)
    people = sorted((PersonTotals(user_id=u, name=names.get(u, ""), sessions=a.sessions, scored=a.scored,
                                  average=a.average, best=_round(a.best), passed=a.passed, seconds=a.seconds)
                     for u, a in persons.items()), key=lambda p: (p.name, str(p.user_id)))
    leaderboard = None
    if leaderboard_enabled:
        ranked = sorted((p for p in people if p.average is not None),
                        key=lambda p: (-(p.average or 0), -p.sessions, p.name))
        leaderboard = [LeaderboardEntry(rank=i + 1, user_id=p.user_id, name=p.name, average=p.average or 0,
                                        best=p.best or 0, sessions=p.sessions, passed=p.passed)
                       for i, p in enumerate(ranked)]
    return TeamInsight(
        dealership_id=scope.dealership_id, team_id=team_id, start=scope.start, end=scope.end,
        objection_types=[ObjectionType(key=o, label=OBJECTION_NAMES[o]) for o in Objection],
        people=people,
        heatmap=[HeatCell(user_id=u, objection=Objection(o), average=a.average or 0.0, best=_round(a.best) or 0.0,
                          sessions=a.scored)
                 for (u, o), a in sorted(cells.items(), key=lambda i: (str(i[0][0]), i[0][1]))],
        first_vs_best=[FirstVsBest(user_id=u, practice_key=k, practice_label=a.label,
                                   first=_first_score(a.first), best=_round(a.best) or 0.0,
                                   attempts=a.scored)
                       for (u, k), a in sorted(practices.items(), key=lambda i: (str(i[0][0]), i[0][1]))],
        practice_weeks=[Week(week_start=w.replace(tzinfo=UTC), seconds=int(s or 0), sessions=n, people=p)
                        for w, s, n, p in weeks],
        leaderboard_enabled=leaderboard_enabled, leaderboard=leaderboard)

