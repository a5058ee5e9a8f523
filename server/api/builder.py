"""/builder/sessions: write a scenario and its customer by answering one question at a time.

Dealership admins (and super admins, naming the dealership) only. A builder session is private
to the admin who started it: another admin of the same dealership, like any other dealership's
caller, gets 404 (`tenancy.py`, `__owner_only__`); its answers would interleave with the
owner's. `complete` hands back a draft persona and scenario, saved by nothing: the client saves
both with one POST /scenarios (the scenario's fields plus `persona`), after the admin's review.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints
from sqlalchemy import update

from server.api.endpoint import Ctx, endpoint
from server.api.schemas import Input, Output
from server.db.models import Role
from server.errors import Conflict
from server.training.builder import flow
from server.training.builder.collected import Draft, draft, missing
from server.training.builder.flow import BuilderState, Message
from server.training.builder.models import BuilderSession, BuilderStatus
from server.training.builder.readers import Reader, reader_for
from server.training.builder.stages import Stage
from server.training.builder.store import StateStore, store_for

TAG = "builder"
ADMINS = [Role.super_admin, Role.dealership_admin]
Answer = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


class BuilderStart(Input):
    kind: Literal["scenario"]
    source_transcript: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                        max_length=50_000)] | None = Field(
        default=None, description="a real conversation, one 'Speaker: words' line per turn, to draft from")
    dealership_id: uuid.UUID | None = Field(default=None, description="super admins only")


class BuilderAnswer(Input):
    text: Answer


class BuilderOut(Output):
    id: uuid.UUID
    kind: str
    status: BuilderStatus
    stage: Stage
    question: str | None = Field(description="null once the session has expired")
    collected: dict[str, Any] = Field(description="the fields gathered so far (unknown ones are absent)")
    done: bool = Field(description="the admin accepted the draft at the review")
    messages: list[Message] = Field(description="the chat so far, for a resumed session")
    expires_at: datetime
    created_at: datetime


class DraftOut(Draft):
    id: uuid.UUID


class BuilderQuery(Input):
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0)


class BuilderItem(Output):
    id: uuid.UUID
    kind: str
    status: BuilderStatus
    stage: str
    title: str | None = Field(description="the draft's title so far; null until the customer has a name")
    expires_at: datetime
    created_at: datetime
    updated_at: datetime


class BuilderList(Output):
    items: list[BuilderItem]
    total: int


def _store(ctx: Ctx) -> StateStore:
    return store_for(ctx.state.redis, ctx.state.settings.builder_state_ttl_seconds)


def _reader(ctx: Ctx) -> Reader:
    return reader_for(ctx.state.conversations.llm if ctx.state.conversations is not None else None)


def _out(row: BuilderSession, state: BuilderState | None) -> BuilderOut:
    return BuilderOut(
        id=row.id, kind=row.kind, status=row.status, stage=state.stage if state else Stage(row.stage),
        question=state.question if state else None, collected=state.collected.shown() if state else {},
        done=state.done if state else False, messages=state.messages if state else [],
        expires_at=row.expires_at, created_at=row.created_at)


async def _open(ctx: Ctx, session_id: uuid.UUID, *,
                lock: bool = False) -> tuple[BuilderSession, BuilderState | None]:
    """The caller's session (locked for this request's transaction with `lock`) and its active
    state (None: expired)."""
    row = await ctx.scope.get(BuilderSession, session_id, for_update=lock)
    state = await _store(ctx).load(row) if row.status is not BuilderStatus.expired else None
    if state is None and row.status is not BuilderStatus.expired:
        row.status = BuilderStatus.expired
        await _store(ctx).drop(row)
    return row, state


def _expired() -> Conflict:
    return Conflict("This builder session expired without an answer; start a new one.", code="builder_expired")


@endpoint("POST", "/builder/sessions", summary="Start building a scenario (optionally from a real conversation)",
          tag=TAG, body=BuilderStart, response=BuilderOut, status=201, roles=ADMINS, errors=(403, 404, 422, 429))
async def start_builder_session(ctx: Ctx, body: BuilderStart) -> BuilderOut:
    dealership = await ctx.scope.dealership(body.dealership_id)
    fields = None
    if body.source_transcript:
        await ctx.state.limits.count_turn(ctx.principal.user_id)
        fields = await _reader(ctx).transcript(body.source_transcript)
    state = flow.start(body.kind, fields)
    await _expire_stale(ctx, dealership.id)
    row = BuilderSession(id=uuid.uuid4(), dealership_id=dealership.id, user_id=ctx.principal.user_id, kind=body.kind,
                         status=BuilderStatus.active)
    await _store(ctx).save(row, state)
    ctx.db.add(row)
    await ctx.db.flush()
    await ctx.db.refresh(row)
    return _out(row, state)


async def _expire_stale(ctx: Ctx, dealership_id: uuid.UUID) -> None:
    """Postgres-kept states past their TTL are dropped as the dealership starts a new session,
    so they do not pile up (Redis expires its own)."""
    await ctx.db.execute(update(BuilderSession).where(
        BuilderSession.dealership_id == dealership_id,
        BuilderSession.status.in_([BuilderStatus.active, BuilderStatus.completed]),
        BuilderSession.expires_at < datetime.now(UTC),
    ).values(status=BuilderStatus.expired, state=None))


@endpoint("GET", "/builder/sessions", summary="Your builder sessions, the latest first (to resume one)", tag=TAG,
          query=BuilderQuery, response=BuilderList, roles=ADMINS, errors=(403, 422))
async def list_builder_sessions(ctx: Ctx, query: BuilderQuery) -> BuilderList:
    # Only the caller's own, whatever the role: a super admin reaches any session by id (support),
    # but lists only their own.
    rows, total = await ctx.scope.list(BuilderSession, BuilderSession.user_id == ctx.principal.user_id,
                                       order_by=BuilderSession.updated_at.desc(), limit=query.limit,
                                       offset=query.offset)
    now = datetime.now(UTC)
    items = [BuilderItem.model_validate(row) for row in rows]
    for item in items:  # a state past its TTL is expired, whether or not a request has noticed yet
        if item.status in (BuilderStatus.active, BuilderStatus.completed) and item.expires_at <= now:
            item.status = BuilderStatus.expired
    return BuilderList(items=items, total=total)


@endpoint("GET", "/builder/sessions/{session_id:uuid}", summary="Resume a builder session", tag=TAG,
          response=BuilderOut, roles=ADMINS, resource=BuilderSession, errors=(403, 404))
async def get_builder_session(ctx: Ctx, session_id: uuid.UUID) -> BuilderOut:
    row, state = await _open(ctx, session_id)
    return _out(row, state)


@endpoint("POST", "/builder/sessions/{session_id:uuid}/messages", summary="Answer the builder's question", tag=TAG,
          body=BuilderAnswer, response=BuilderOut, roles=ADMINS, resource=BuilderSession,
          errors=(403, 404, 409, 422, 429))
async def answer_builder(ctx: Ctx, session_id: uuid.UUID, body: BuilderAnswer) -> BuilderOut:
    # Each answer may reach the model: it counts against the user's one `chat` limit, as a chat turn.
    await ctx.state.limits.count_turn(ctx.principal.user_id)
    row, state = await _open(ctx, session_id)
    if state is None:
        raise _expired()
    # The model may take seconds: no connection or row lock is held meanwhile. The answer is
    # applied only if nothing else answered this session in between (optimistic, by revision).
    await ctx.db.commit()
    ctx.db.expire_all()  # the locked read below must see the row as it is then, not this copy
    answered = await flow.answer(state, body.text, _reader(ctx))
    row, current = await _open(ctx, session_id, lock=True)
    if current is None:
        raise _expired()
    if current.revision != state.revision:
        raise Conflict("This builder session was answered elsewhere meanwhile; reload it and answer again.",
                       code="builder_conflict")
    row.status = BuilderStatus.active  # an answer after `complete` reopens the draft
    await _store(ctx).save(row, answered)
    await ctx.db.flush()
    return _out(row, answered)


@endpoint("POST", "/builder/sessions/{session_id:uuid}/complete",
          summary="The draft persona and scenario (not saved: POST /personas, then POST /scenarios)", tag=TAG,
          response=DraftOut, roles=ADMINS, resource=BuilderSession, errors=(403, 404, 409))
async def complete_builder_session(ctx: Ctx, session_id: uuid.UUID) -> DraftOut:
    row, state = await _open(ctx, session_id, lock=True)
    if state is None:
        raise _expired()
    if needed := missing(state.collected):
        raise Conflict("The builder needs the customer's name before it can make a draft.",
                       code="builder_incomplete", details={"missing": needed})
    made = draft(state.collected)
    row.status = BuilderStatus.completed
    row.draft = made.model_dump(mode="json")
    await _store(ctx).save(row, state)  # the TTL starts again: the admin may come back to change it
    return DraftOut(id=row.id, **made.model_dump())


@endpoint("DELETE", "/builder/sessions/{session_id:uuid}", summary="Abandon a builder session", tag=TAG,
          status=204, roles=ADMINS, resource=BuilderSession, errors=(403, 404))
async def abandon_builder_session(ctx: Ctx, session_id: uuid.UUID) -> None:
    row = await ctx.scope.get(BuilderSession, session_id, for_update=True)
    await _store(ctx).drop(row)
    row.status = BuilderStatus.abandoned
    row.deleted_at = datetime.now(UTC)
    row.state = None


ENDPOINTS = [start_builder_session, list_builder_sessions, get_builder_session, answer_builder,
             complete_builder_session, abandon_builder_session]
