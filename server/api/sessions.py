"""/sessions: conversation history. A user sees their own sessions, a dealership admin their
dealership's, a super admin all (the filter lives in `server.tenancy.Scope`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field
from sqlalchemy import ColumnElement, or_, select

from server.api.chat import SourceOut, engine_of
from server.api.endpoint import Ctx, endpoint
from server.api.people import display_names
from server.api.recordings import recording_url
from server.api.reviews import SessionReviewOut, session_review
from server.api.schemas import Output, PageQuery, Timestamp
from server.conversation.models import (
    Channel,
    ConversationMessage,
    ConversationSession,
    MessageRole,
    Mode,
    SessionStatus,
)
from server.review.models import ReviewItem

TAG = "sessions"


class SessionQuery(PageQuery):
    user_id: uuid.UUID | None = None
    persona_id: str | None = Field(default=None, max_length=64)
    scenario_id: str | None = Field(default=None, max_length=64)
    mode: Mode | None = None
    channel: Channel | None = None
    status: SessionStatus | None = None
    flagged: bool | None = None
    dealership_id: uuid.UUID | None = None
    since: Timestamp | None = Field(default=None, description="started at or after (ISO 8601)")
    until: Timestamp | None = Field(default=None, description="started before (ISO 8601)")
    include_empty: bool = Field(default=False, description="also list ended sessions without a single turn "
                                "(a voice session is stored when it opens; one left before any turn is noise)")


class SessionSummary(Output):
    id: uuid.UUID
    dealership_id: uuid.UUID
    user_id: uuid.UUID
    user_name: str = Field(description="the salesperson: the account's name, or its email when it has none")
    mode: Mode
    channel: Channel
    persona_id: str
    persona_name: str
    scenario_id: str | None = None
    scenario_title: str | None = None
    status: SessionStatus
    message_count: int
    flagged: bool
    overall_score: float | None = Field(description="0-100 (scorecard v2's `overall`)")
    passed: bool | None = None
    started_at: datetime
    last_activity_at: datetime
    ended_at: datetime | None


class SessionList(Output):
    items: list[SessionSummary]
    total: int


class BackchannelOut(Output):
    text: str = Field(description="what the trainee said over the reply (\"uh-huh\"; empty for a cough)")
    at_ms: int = Field(description="where in the reply's audio it came, in ms")


class MessageOut(Output):
    id: uuid.UUID
    seq: int
    role: MessageRole
    text: str
    sources: list[SourceOut]
    tags: dict[str, Any]
    model: str | None
    offline: bool
    interrupted: bool
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    timings: dict[str, float | None]
    metrics: dict[str, Any]
    backchannels: list[BackchannelOut] = Field(
        default_factory=list, description="a voice answer: what the trainee said over it without interrupting")
    created_at: datetime


class SessionDetail(SessionSummary):
    persona: dict[str, Any]
    scenario: dict[str, Any] | None = Field(default=None, description="the frozen copy: scenario, rubric_id, rubric")
    flags: list[dict[str, Any]]
    scorecard: dict[str, Any] | None
    messages: list[MessageOut]
    recording_url: str | None = Field(default=None, description="the voice session's audio (WAV), when recorded")
    reviews: list[SessionReviewOut] = Field(
        default_factory=list, description="the session's reviews (a dispute, a flag, a low-confidence score) and "
        "their outcome")


class EvidenceOut(Output):
    message_id: str
    quote: str = Field(description="verbatim from that message, one of the trainee's own")


class CriterionOut(Output):
    key: str
    label: str
    score: int
    max: int
    reason: str
    evidence: list[EvidenceOut]


class FactOut(Output):
    key: str
    label: str
    uncovered: bool
    message_id: str | None = Field(default=None, description="the customer's message that revealed it")
    turn: int | None = Field(default=None, description="1-based: the trainee turn it answered")


class ScoreOut(Output):
    dimension: str
    score: int
    evidence: str
    message_id: uuid.UUID | None


class ScorecardOut(Output):
    """Scorecard version 2 (`version`, `overall` 0-100, `passed`, `criteria`, `facts`, `goal_met`), with
    the version 1 fields (`scores` by dimension, `objections`, talk measures) kept beside it."""
    version: int = 2
    session_id: uuid.UUID
    mode: Mode
    persona_id: str
    scenario_id: str | None = None
    scenario_title: str | None = None
    rubric_id: str
    rubric_name: str
    generated_by: str
    overall: float | None = Field(description="0-100: the rubric's criteria, weighted")
    passed: bool | None = Field(description="overall >= pass_score (null: nothing scored)")
    pass_score: int
    criteria: list[CriterionOut]
    facts: list[FactOut]
    goal_met: bool | None
    legacy_overall: float | None = Field(default=None, description="version 1's mean of the five 1-5 scores")
    scores: list[ScoreOut]
    objections: dict[str, list[str]]
    talk_ratio: float | None
    talk_words: dict[str, int]
    longest_monologue: dict[str, Any] | None
    words_per_minute: float | None
    filler_words: dict[str, Any] | None
    backchannels: int | None = Field(default=None, description="voice sessions: how often the trainee acknowledged "
                                     "(\"uh-huh\") over the customer's replies without interrupting")
    summary: str
    turns: int
    doubts: list[str] = Field(default_factory=list, description="why the judge may be wrong (docs/api.md, Reviews)")


def _overall(card: dict[str, Any] | None) -> float | None:
    """0-100 for every scorecard: a version 1 card's 1-5 mean is put on the same scale."""
    overall = card.get("overall") if card else None
    if card is None or overall is None or card.get("version") == 2:
        return overall
    return round((float(overall) - 1) / 4 * 100)


def summary(row: ConversationSession, user_name: str) -> SessionSummary:
    card = row.scorecard
    return SessionSummary(
        id=row.id, dealership_id=row.dealership_id, user_id=row.user_id, user_name=user_name, mode=row.mode,
        channel=row.channel,
        persona_id=row.persona_id, persona_name=str(row.persona.get("name", "")), scenario_id=row.scenario_id,
        scenario_title=str(row.scenario["spec"]["title"]) if row.scenario else None, status=row.status,
        message_count=row.message_count, flagged=row.flagged, overall_score=_overall(card),
        passed=card.get("passed") if card else None, started_at=row.started_at,
        last_activity_at=row.last_activity_at, ended_at=row.ended_at,
    )


def message_out(row: ConversationMessage) -> MessageOut:
    return MessageOut(
        id=row.id, seq=row.seq, role=row.role, text=row.text,
        sources=[SourceOut.model_validate(s) for s in row.sources],
        tags=row.tags, model=row.model, offline=row.offline, interrupted=row.interrupted,
        prompt_tokens=row.prompt_tokens, completion_tokens=row.completion_tokens, cost_usd=row.cost_usd,
        timings={"ttft_ms": row.ttft_ms, "total_ms": row.total_ms}, metrics=row.metrics, created_at=row.created_at,
        backchannels=[BackchannelOut.model_validate(b) for b in row.metrics.get("backchannels", [])],
    )


@endpoint("GET", "/sessions", summary="List conversation sessions you can see", tag=TAG, query=SessionQuery,
          response=SessionList)
async def list_sessions(ctx: Ctx, query: SessionQuery) -> SessionList:
    model = ConversationSession
    criteria: list[ColumnElement[bool]] = []
    filters: dict[str, Any] = {"user_id": query.user_id, "persona_id": query.persona_id,
                               "scenario_id": query.scenario_id, "mode": query.mode,
                               "channel": query.channel, "status": query.status, "flagged": query.flagged,
                               "dealership_id": query.dealership_id}
    criteria += [getattr(model, name) == value for name, value in filters.items() if value is not None]
    if query.since is not None:
        criteria.append(model.started_at >= query.since)
    if query.until is not None:
        criteria.append(model.started_at < query.until)
    if not query.include_empty:
        criteria.append(or_(model.message_count > 0, model.status == SessionStatus.active))
    rows, total = await ctx.scope.list(model, *criteria, order_by=model.started_at.desc(), limit=query.limit,
                                       offset=query.offset)
    names = await display_names(ctx.db, (row.user_id for row in rows))
    return SessionList(items=[summary(row, names.get(row.user_id, "")) for row in rows], total=total)


@endpoint("GET", "/sessions/{session_id:uuid}", summary="A session's transcript, sources, timings and scorecard",
          tag=TAG, response=SessionDetail, errors=(404,))
async def get_session(ctx: Ctx, session_id: uuid.UUID) -> SessionDetail:
    row = await ctx.scope.get(ConversationSession, session_id)
    messages = (await ctx.db.execute(
        select(ConversationMessage).where(ConversationMessage.session_id == row.id).order_by(ConversationMessage.seq)
    )).scalars().all()
    names = await display_names(ctx.db, [row.user_id])
    reviews = (await ctx.db.execute(ctx.scope.select(ReviewItem, ReviewItem.session_id == row.id)
                                    .order_by(ReviewItem.created_at))).scalars()
    return SessionDetail(**summary(row, names.get(row.user_id, "")).model_dump(), persona=row.persona,
                         flags=row.flags, scorecard=row.scorecard, scenario=row.scenario,
                         messages=[message_out(m) for m in messages], recording_url=await recording_url(ctx, row.id),
                         reviews=[session_review(r) for r in reviews])


@endpoint("POST", "/sessions/{session_id:uuid}/end", summary="End a session and get its scorecard", tag=TAG,
          response=ScorecardOut, errors=(404, 409))
async def end_session(ctx: Ctx, session_id: uuid.UUID) -> ScorecardOut:
    card = await engine_of(ctx).end(ctx.principal, session_id)
    return ScorecardOut.model_validate(card)


ENDPOINTS = [list_sessions, get_session, end_session]
