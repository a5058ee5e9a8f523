"""/reports: a user reports an inaccurate or inappropriate answer; dealership admins review them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints
from sqlalchemy import ColumnElement, select

from server.api.endpoint import Ctx, endpoint
from server.api.people import display_names
from server.api.schemas import Input, Output, PageQuery
from server.conversation.models import (
    ConversationMessage,
    ConversationSession,
    MessageReport,
    MessageRole,
    ReportStatus,
)
from server.db.models import Role
from server.errors import NotFound, ValidationFailed

TAG = "reports"
ADMINS = [Role.super_admin, Role.dealership_admin]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class ReportIn(Input):
    session_id: uuid.UUID
    message_id: uuid.UUID
    reason: Reason


class ReportPatch(Input):
    status: Literal["open", "resolved", "dismissed"]
    resolution: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None


class ReportQuery(PageQuery):
    status: ReportStatus | None = None
    session_id: uuid.UUID | None = None


class ReportOut(Output):
    id: uuid.UUID
    dealership_id: uuid.UUID
    session_id: uuid.UUID
    message_id: uuid.UUID
    reporter_id: uuid.UUID
    reason: str
    status: ReportStatus
    resolution: str | None
    resolved_by: uuid.UUID | None
    resolved_at: datetime | None
    created_at: datetime
    message_text: str | None = None
    reporter_name: str | None = Field(default=None, description="who reported it: name, or email when unnamed")
    persona_name: str | None = Field(default=None, description="the session's customer or trainer")


class ReportList(Output):
    items: list[ReportOut]
    total: int


@endpoint("POST", "/reports", summary="Report an inaccurate or inappropriate answer", tag=TAG, body=ReportIn,
          response=ReportOut, status=201, errors=(404, 422))
async def create_report(ctx: Ctx, body: ReportIn) -> ReportOut:
    session = await ctx.scope.get(ConversationSession, body.session_id)
    message = await ctx.db.get(ConversationMessage, body.message_id)
    if message is None or message.session_id != session.id:
        raise NotFound("Message not found.")
    if message.role is not MessageRole.assistant:
        raise ValidationFailed("Only an answer can be reported.",
                               details=[{"field": "message_id", "message": "not an answer"}])
    report = MessageReport(dealership_id=session.dealership_id, session_id=session.id, message_id=message.id,
                           reporter_id=ctx.principal.user_id, reason=body.reason)
    ctx.db.add(report)
    await ctx.db.flush()
    await ctx.db.refresh(report)
    return (await _outs(ctx, [report]))[0]


@endpoint("GET", "/reports", summary="List reported answers", tag=TAG, query=ReportQuery, response=ReportList,
          roles=ADMINS)
async def list_reports(ctx: Ctx, query: ReportQuery) -> ReportList:
    criteria: list[ColumnElement[bool]] = []
    if query.status is not None:
        criteria.append(MessageReport.status == query.status)
    if query.session_id is not None:
        criteria.append(MessageReport.session_id == query.session_id)
    rows, total = await ctx.scope.list(MessageReport, *criteria, order_by=MessageReport.created_at.desc(),
                                       limit=query.limit, offset=query.offset)
    return ReportList(items=await _outs(ctx, rows), total=total)


async def _outs(ctx: Ctx, rows: Sequence[MessageReport]) -> list[ReportOut]:
    """The reports with what a reviewer reads beside them, in two queries for the page."""
    texts: dict[uuid.UUID, str] = {}
    personas: dict[uuid.UUID, str] = {}
    if rows:
        messages = await ctx.db.execute(select(ConversationMessage.id, ConversationMessage.text).where(
            ConversationMessage.id.in_({r.message_id for r in rows})))
        texts = {message_id: text for message_id, text in messages}
        sessions = await ctx.db.execute(select(ConversationSession.id, ConversationSession.persona).where(
            ConversationSession.id.in_({r.session_id for r in rows})))
        personas = {session_id: str(persona.get("name", "")) for session_id, persona in sessions}
    names = await display_names(ctx.db, (r.reporter_id for r in rows))
    return [ReportOut.model_validate(r).model_copy(update={
        "message_text": texts.get(r.message_id), "reporter_name": names.get(r.reporter_id),
        "persona_name": personas.get(r.session_id)}) for r in rows]


@endpoint("PATCH", "/reports/{report_id:uuid}", summary="Resolve or dismiss a report", tag=TAG, body=ReportPatch,
          response=ReportOut, roles=ADMINS, errors=(404,))
async def update_report(ctx: Ctx, report_id: uuid.UUID, body: ReportPatch) -> ReportOut:
    report = await ctx.scope.get(MessageReport, report_id, for_update=True)
    report.status = ReportStatus(body.status)
    if body.resolution is not None:
        report.resolution = body.resolution
    if report.status is ReportStatus.open:
        report.resolved_by, report.resolved_at = None, None
    else:
        report.resolved_by, report.resolved_at = ctx.principal.user_id, datetime.now(UTC)
    await ctx.db.flush()
    return (await _outs(ctx, [report]))[0]


ENDPOINTS = [create_report, list_reports, update_report]
