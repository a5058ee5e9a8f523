"""/usage: per-dealership conversation totals (tokens, cost, sessions) and photoreal avatar minutes,
for admins."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import Field
from sqlalchemy import ColumnElement, distinct, func, select

from server.api.endpoint import Ctx, endpoint
from server.api.schemas import Input, Output, Timestamp
from server.avatar.models import AvatarUsage
from server.avatar.quota import seconds_expr, usage_criteria
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
    avatar_minutes: float = Field(default=0.0,
                                  description="photoreal (LiveAvatar) minutes of sessions started in the period")


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
    found = {r[0]: DealershipUsage(dealership_id=r[0], sessions=r[1], messages=r[2], answers=r[3], prompt_tokens=r[4],
                                   completion_tokens=r[5], cost_usd=round(float(r[6]), 6)) for r in rows}
    for dealership_id, seconds in await _avatar_seconds(ctx, query):
        item = found.setdefault(dealership_id, DealershipUsage(
            dealership_id=dealership_id, sessions=0, messages=0, answers=0, prompt_tokens=0, completion_tokens=0,
            cost_usd=0.0))
        item.avatar_minutes = round(seconds / 60, 2)
    items = [found[key] for key in sorted(found)]
    totals = UsageTotals(**{field: sum(getattr(i, field) for i in items) for field in UsageTotals.model_fields})
    totals.avatar_minutes = round(totals.avatar_minutes, 2)
    return UsageOut(items=items, totals=totals)


async def _avatar_seconds(ctx: Ctx, query: UsageQuery) -> list[tuple[uuid.UUID, float]]:
    u = AvatarUsage
    criteria: list[ColumnElement[bool]] = list(visibility(u, ctx.principal))
    if query.dealership_id is not None:
        criteria.append(u.dealership_id == query.dealership_id)
    criteria += usage_criteria(query.since, query.until)
    rows = (await ctx.db.execute(
        select(u.dealership_id, func.sum(seconds_expr(datetime.now(UTC)))).where(*criteria).group_by(u.dealership_id)
    )).all()
    return [(r[0], float(r[1] or 0.0)) for r in rows]


ENDPOINTS = [usage]
