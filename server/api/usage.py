"""/usage: per-dealership conversation totals (tokens, cost, sessions) for admins."""

from __future__ import annotations

import uuid

from pydantic import Field
from sqlalchemy import ColumnElement, distinct, func, select

from server.api.endpoint import Ctx, endpoint
from server.api.schemas import Input, Output, Timestamp
from server.conversation.models import ConversationMessage, MessageRole
from server.db.models import Role
from server.tenancy import visibility

TAG = "usage"


class UsageQuery(Input):
    dealership_id: uuid.UUID | None = None
    since: Timestamp | None = Field(default=None, description="messages at or after (ISO 8601)")
    until: Timestamp | None = Field(default=None, description="messages before (ISO 8601)")


class UsageTotals(Output):
    sessions: int
    messages: int
    answers: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


class DealershipUsage(UsageTotals):
    dealership_id: uuid.UUID


class UsageOut(Output):
    items: list[DealershipUsage]
    totals: UsageTotals


@endpoint("GET", "/usage", summary="Conversation usage totals per dealership", tag=TAG, query=UsageQuery,
          response=UsageOut, roles=[Role.super_admin, Role.dealership_admin])
async def usage(ctx: Ctx, query: UsageQuery) -> UsageOut:
    m = ConversationMessage
    criteria: list[ColumnElement[bool]] = list(visibility(m, ctx.principal))
    if query.dealership_id is not None:
        criteria.append(m.dealership_id == query.dealership_id)
    if query.since is not None:
        criteria.append(m.created_at >= query.since)
    if query.until is not None:
        criteria.append(m.created_at < query.until)
    rows = (await ctx.db.execute(
        select(m.dealership_id, func.count(distinct(m.session_id)), func.count(),
               func.count().filter(m.role == MessageRole.assistant), func.coalesce(func.sum(m.prompt_tokens), 0),
               func.coalesce(func.sum(m.completion_tokens), 0), func.coalesce(func.sum(m.cost_usd), 0.0))
        .where(*criteria).group_by(m.dealership_id).order_by(m.dealership_id)
    )).all()
    items = [DealershipUsage(dealership_id=r[0], sessions=r[1], messages=r[2], answers=r[3], prompt_tokens=r[4],
                             completion_tokens=r[5], cost_usd=round(float(r[6]), 6)) for r in rows]
    totals = UsageTotals(**{field: sum(getattr(i, field) for i in items) for field in UsageTotals.model_fields})
    return UsageOut(items=items, totals=totals)


ENDPOINTS = [usage]
