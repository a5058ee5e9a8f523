"""/outbox: the emails the server wrote, for admins, outside production (development and test):
with no transport configured this is where invites and resets are read."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from server.api.endpoint import Ctx, endpoint
from server.api.schemas import Output, PageQuery
from server.db.models import Role
from server.errors import NotFound
from server.mail.models import OutboxMessage

TAG = "outbox"


class OutboxQuery(PageQuery):
    status: Literal["pending", "sending", "sent", "failed", "kept"] | None = None
    to: str | None = None


class OutboxItem(Output):
    id: uuid.UUID
    dealership_id: uuid.UUID | None
    to: str
    template: str
    subject: str
    text: str
    html: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


class OutboxList(Output):
    items: list[OutboxItem]
    total: int
    transport: str | None  # "smtp", "mailgun", or null: emails are kept here


@endpoint("GET", "/outbox", summary="Emails in the outbox (development and test only)", tag=TAG,
          query=OutboxQuery, response=OutboxList, roles=[Role.super_admin, Role.dealership_admin],
          errors=(403, 404))
async def list_outbox(ctx: Ctx, query: OutboxQuery) -> OutboxList:
    if ctx.state.settings.environment == "production":
        # Emails carry working links: in production they are read in the inbox they went to.
        raise NotFound("No such endpoint.")
    criteria = []
    if query.status is not None:
        criteria.append(OutboxMessage.status == query.status)
    if query.to is not None:
        criteria.append(OutboxMessage.to == query.to.lower())
    rows, total = await ctx.scope.list(OutboxMessage, *criteria, order_by=OutboxMessage.created_at.desc(),
                                       limit=query.limit, offset=query.offset)
    return OutboxList(items=[OutboxItem.model_validate(row) for row in rows], total=total,
                      transport=ctx.state.mail.transport)


ENDPOINTS = [list_outbox]
