"""Team insight for one dealership and date range, from the `session_insight` rows: a heatmap of
people by objection type, first attempt versus best per person and scenario, practice time per
week, and a leaderboard. Four grouped statements over one indexed range (dealership, started_at);
no JSON is read."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Float, Select, func, literal_column, select
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from server.conversation.taxonomy import OBJECTION_NAMES, Objection
from server.insight.models import SessionInsight as S


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


def _heatmap(where: list[ColumnElement[bool]]) -> Select[Any]:
    objection = func.unnest(S.objections).table_valued("value").render_derived(name="o")
    return (select(S.user_id, objection.c.value, func.avg(S.overall), func.max(S.overall), func.count())
            .select_from(S).join(objection, literal_column("true"))
            .where(*where, S.overall.is_not(None)).group_by(S.user_id, objection.c.value))


async def team_insight(db: AsyncSession, scope: Filter, names: dict[uuid.UUID, str], *,
                       leaderboard_enabled: bool, team_id: uuid.UUID | None = None) -> TeamInsight:
    where = scope.criteria()
    heat = (await db.execute(_heatmap(where))).all()
    first = func.array_agg(aggregate_order_by(S.overall, S.started_at.asc()), type_=ARRAY(Float))[1]
    firsts = (await db.execute(
        select(S.user_id, S.practice_key, func.max(S.practice_label), first, func.max(S.overall), func.count())
        .where(*where, S.overall.is_not(None)).group_by(S.user_id, S.practice_key)
        .order_by(S.user_id, S.practice_key))).all()
    week = func.date_trunc("week", func.timezone("UTC", S.started_at))
    weeks = (await db.execute(
        select(week, func.sum(S.duration_s), func.count(), func.count(S.user_id.distinct()))
        .where(*where).group_by(week).order_by(week))).all()
    totals = (await db.execute(
        select(S.user_id, func.count(), func.count(S.overall), func.avg(S.overall), func.max(S.overall),
               func.count().filter(S.passed.is_(True)), func.sum(S.duration_s))
        .where(*where).group_by(S.user_id))).all()
    people = sorted((PersonTotals(user_id=u, name=names.get(u, ""), sessions=n, scored=scored, average=_round(avg),
                                  best=_round(best), passed=passed, seconds=int(seconds or 0))
                     for u, n, scored, avg, best, passed, seconds in totals), key=lambda p: (p.name, str(p.user_id)))
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
        heatmap=[HeatCell(user_id=u, objection=Objection(o), average=_round(avg) or 0.0, best=_round(best) or 0.0,
                          sessions=n) for u, o, avg, best, n in heat],
        first_vs_best=[FirstVsBest(user_id=u, practice_key=k, practice_label=label, first=_round(f) or 0.0,
                                   best=_round(b) or 0.0, attempts=n) for u, k, label, f, b, n in firsts],
        practice_weeks=[Week(week_start=w.replace(tzinfo=UTC), seconds=int(s or 0), sessions=n, people=p)
                        for w, s, n, p in weeks],
        leaderboard_enabled=leaderboard_enabled, leaderboard=leaderboard)

