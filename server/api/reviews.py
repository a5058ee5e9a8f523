"""/reviews: the queue of sessions that need a human (admins), and /sessions/{id}/dispute (a
trainee disputes the score of one of their own sessions). Rules in `server.review.queue`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, StringConstraints
from sqlalchemy import select

from server import audit
from server.api.endpoint import Ctx, endpoint
from server.api.people import display_names
from server.api.schemas import Input, Output, PageQuery
from server.conversation.models import ConversationSession
from server.db.models import AuditAction, Role
from server.errors import NotFound, ValidationFailed
from server.review import queue
from server.review.models import ReviewItem, ReviewOutcome, ReviewReason, ReviewStatus

TAG = "reviews"
ADMINS = [Role.super_admin, Role.dealership_admin]
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class ReviewQuery(PageQuery):
    status: ReviewStatus | None = Field(default=ReviewStatus.open, description="open (default) or resolved")
    reason: ReviewReason | None = None
    session_id: uuid.UUID | None = None
    dealership_id: uuid.UUID | None = Field(default=None, description="super admins: which dealership")


class ReviewOut(Output):
    id: uuid.UUID
    dealership_id: uuid.UUID
    session_id: uuid.UUID
    session_url: str = Field(description="the web app's review page of the session (transcript and scorecard)")
    user_id: uuid.UUID
    user_name: str
    reason: ReviewReason
    detail: dict[str, Any] = Field(description="flagged: {kinds}; low_confidence: {doubts}; dispute: {reason, overall}")
    status: ReviewStatus
    outcome: ReviewOutcome | None
    note: str | None
    original_overall: float | None = Field(description="the score when it was resolved")
    new_overall: float | None = Field(description="the score after it (an override's)")
    overall_score: float | None = Field(default=None, description="the session's score now")
    passed: bool | None = None
    scenario_title: str | None = None
    persona_name: str = ""
    opened_by: str
    resolved_by: uuid.UUID | None
    resolved_at: datetime | None
    created_at: datetime


class ReviewList(Output):
    items: list[ReviewOut]
    total: int


class ScoresIn(Input):
    overall: int | None = Field(default=None, ge=0, le=100, description="the overall score (0-100)")
    criteria: dict[Annotated[str, StringConstraints(max_length=64)], int] | None = Field(
        default=None, max_length=20, description="criterion key -> score on its scale; overall is recounted")


class ResolveIn(Input):
    outcome: ReviewOutcome
    scores: ScoresIn | None = Field(default=None, description="required to override; not allowed to confirm")
    note: Note


class DisputeIn(Input):
    reason: Note


class SessionReviewOut(Output):
    """A review of one's own session as its trainee sees it (no other trainee's)."""
    id: uuid.UUID
    reason: ReviewReason
    status: ReviewStatus
    outcome: ReviewOutcome | None
    note: str | None
    dispute_reason: str | None = None
    original_overall: float | None
    new_overall: float | None
    created_at: datetime
    resolved_at: datetime | None


def session_review(item: ReviewItem) -> SessionReviewOut:
    return SessionReviewOut(
        id=item.id, reason=item.reason, status=item.status, outcome=item.outcome, note=item.note,
        dispute_reason=item.detail.get("reason") if item.reason is ReviewReason.dispute else None,
        original_overall=item.original_overall, new_overall=item.new_overall, created_at=item.created_at,
        resolved_at=item.resolved_at)


def _out(item: ReviewItem, session: ConversationSession | None, name: str) -> ReviewOut:
    card = session.scorecard if session is not None else None
    return ReviewOut(
        id=item.id, dealership_id=item.dealership_id, session_id=item.session_id,
        session_url=f"/sessions/{item.session_id}", user_id=item.user_id, user_name=name, reason=item.reason,
        detail=item.detail, status=item.status, outcome=item.outcome, note=item.note,
        original_overall=item.original_overall, new_overall=item.new_overall,
        overall_score=card.get("overall") if card else None, passed=card.get("passed") if card else None,
        scenario_title=str(session.scenario["spec"]["title"]) if session is not None and session.scenario else None,
        persona_name=str(session.persona.get("name", "")) if session is not None else "",
        opened_by=item.opened_by, resolved_by=item.resolved_by, resolved_at=item.resolved_at,
        created_at=item.created_at)


@endpoint("GET", "/reviews", summary="The review queue: sessions that need a human", tag=TAG, query=ReviewQuery,
          response=ReviewList, roles=ADMINS, errors=(403, 404))
async def list_reviews(ctx: Ctx, query: ReviewQuery) -> ReviewList:
    if not ctx.principal.is_super_admin or query.dealership_id is not None:
        dealership = await ctx.scope.dealership(query.dealership_id)
        await queue.sync_flagged(ctx.db, dealership.id)
    filters = {"status": query.status, "reason": query.reason, "session_id": query.session_id,
               "dealership_id": query.dealership_id}
    criteria = [getattr(ReviewItem, k) == v for k, v in filters.items() if v is not None]
    rows, total = await ctx.scope.list(ReviewItem, *criteria, order_by=ReviewItem.created_at.desc(),
                                       limit=query.limit, offset=query.offset)
    sessions = {s.id: s for s in (await ctx.db.execute(select(ConversationSession).where(
        ConversationSession.id.in_({r.session_id for r in rows})))).scalars()}
    names = await display_names(ctx.db, (r.user_id for r in rows))
    return ReviewList(items=[_out(r, sessions.get(r.session_id), names.get(r.user_id, "")) for r in rows],
                      total=total)


@endpoint("GET", "/reviews/{review_id:uuid}", summary="One review item", tag=TAG, response=ReviewOut,
          roles=ADMINS, resource=ReviewItem, errors=(403, 404))
async def get_review(ctx: Ctx, review_id: uuid.UUID) -> ReviewOut:
    item = await ctx.scope.get(ReviewItem, review_id)
    session = await ctx.db.get(ConversationSession, item.session_id)
    names = await display_names(ctx.db, [item.user_id])
    return _out(item, session, names.get(item.user_id, ""))


@endpoint("POST", "/reviews/{review_id:uuid}/resolve", summary="Confirm or override a session's score",
          tag=TAG, body=ResolveIn, response=ReviewOut, roles=ADMINS, resource=ReviewItem, errors=(403, 404, 409))
async def resolve_review(ctx: Ctx, review_id: uuid.UUID, body: ResolveIn) -> ReviewOut:
    item = await ctx.scope.get(ReviewItem, review_id, for_update=True)
    session = await ctx.scope.get(ConversationSession, item.session_id, for_update=True)
    overriding = body.outcome is ReviewOutcome.overridden
    if overriding and (body.scores is None or (body.scores.overall is None and not body.scores.criteria)):
        raise ValidationFailed(details=[{"field": "scores", "message": "an override needs overall or criteria"}])
    if not overriding and body.scores is not None:
        raise ValidationFailed(details=[{"field": "scores", "message": "a confirmation keeps the score"}])
    changed = await queue.resolve(ctx.db, item, session, outcome=body.outcome, note=body.note,
                                  actor_id=ctx.principal.user_id,
                                  overall_score=body.scores.overall if body.scores else None,
                                  criteria=body.scores.criteria if body.scores else None)
    audit.record(ctx.db, AuditAction.review_resolved, actor_id=ctx.principal.user_id, subject_id=item.user_id,
                 dealership_id=item.dealership_id, ip=ctx.client_ip, review_id=str(item.id),
                 session_id=str(session.id), reason=item.reason.value, outcome=body.outcome.value, note=body.note)
    if changed:
        audit.record(ctx.db, AuditAction.score_overridden, actor_id=ctx.principal.user_id,
                     subject_id=item.user_id, dealership_id=item.dealership_id, ip=ctx.client_ip,
                     review_id=str(item.id), session_id=str(session.id), before=item.original_overall,
                     after=item.new_overall, passed=session.scorecard.get("passed") if session.scorecard else None,
                     note=body.note)
    await ctx.db.flush()
    names = await display_names(ctx.db, [item.user_id])
    return _out(item, session, names.get(item.user_id, ""))


@endpoint("POST", "/sessions/{session_id:uuid}/dispute", summary="Dispute the score of one of your own sessions",
          tag="sessions", body=DisputeIn, response=SessionReviewOut, status=201, errors=(404, 409))
async def dispute_session(ctx: Ctx, session_id: uuid.UUID, body: DisputeIn) -> SessionReviewOut:
    session = await ctx.scope.get(ConversationSession, session_id, for_update=True)
    if session.user_id != ctx.principal.user_id:  # an admin sees others' sessions but disputes only their own
        raise NotFound("ConversationSession not found.")
    await queue.dispute(ctx.db, session, body.reason)
    audit.record(ctx.db, AuditAction.session_disputed, actor_id=ctx.principal.user_id,
                 subject_id=ctx.principal.user_id, dealership_id=session.dealership_id, ip=ctx.client_ip,
                 session_id=str(session.id), reason=body.reason)
    item = (await ctx.db.execute(select(ReviewItem).where(
        ReviewItem.session_id == session.id, ReviewItem.reason == ReviewReason.dispute,
        ReviewItem.status == ReviewStatus.open))).scalar_one()
    return session_review(item)


ENDPOINTS = [list_reviews, get_review, resolve_review, dispute_session]
