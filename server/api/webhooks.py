"""/webhooks: a dealership's admins register endpoints that receive signed events
(docs/webhooks.md). The secret is shown once, in the answer to create; deliveries can be listed,
replayed, and a test event sent. Another dealership's endpoint answers 404."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator
from sqlalchemy import insert

from server.api.endpoint import Ctx, endpoint
from server.api.schemas import Input, Output, PageQuery
from server.db.models import Role
from server.errors import Conflict, ValidationFailed
from server.webhooks import events, signing, urls
from server.webhooks.models import TEST_EVENT, DeliveryStatus, EventType, WebhookDelivery, WebhookEndpoint

TAG = "webhooks"
ADMINS = [Role.super_admin, Role.dealership_admin]

Event = Literal["session.completed", "scorecard.ready", "assignment.passed", "assignment.overdue",
                "certification.granted", "document.ready", "document.failed"]
assert set(Event.__args__) == {e.value for e in EventType}  # type: ignore[attr-defined]


def _events(value: list[str]) -> list[str]:
    return sorted(set(value))


class WebhookIn(Input):
    url: str = Field(min_length=1, max_length=2000, description="https outside development; public addresses only")
    events: list[Event] = Field(min_length=1, max_length=20)
    active: bool = True
    description: str = Field(default="", max_length=500)
    dealership_id: uuid.UUID | None = Field(default=None, description="super admins only")

    _unique = field_validator("events")(_events)


class WebhookPatch(Input):
    url: str | None = Field(default=None, min_length=1, max_length=2000)
    events: list[Event] | None = Field(default=None, min_length=1, max_length=20)
    active: bool | None = None
    description: str | None = Field(default=None, max_length=500)


class WebhookOut(Output):
    id: uuid.UUID
    dealership_id: uuid.UUID
    url: str
    events: list[str]
    active: bool
    description: str
    last_success_at: datetime | None
    disabled_at: datetime | None = Field(description="when the sender switched it off after repeated failure")
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="`whsec_` + base64: shown this once, keep it to verify signatures")


class WebhookQuery(PageQuery):
    dealership_id: uuid.UUID | None = Field(default=None, description="super admins only: whose endpoints")


class WebhookList(Output):
    items: list[WebhookOut]
    total: int


class DeliveryQuery(PageQuery):
    status: Literal["pending", "sending", "succeeded", "failed"] | None = None


class DeliveryOut(Output):
    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: str = Field(description="the `webhook-id` header and the payload's `id`")
    event_type: str
    status: str
    attempts: int
    response_code: int | None
    last_error: str | None
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    replay_of: uuid.UUID | None
    created_at: datetime


class DeliveryList(Output):
    items: list[DeliveryOut]
    total: int


async def _check_url(ctx: Ctx, url: str) -> None:
    try:
        await urls.checked_address(url, ctx.state.settings)
    except urls.UrlRefused as exc:
        raise ValidationFailed(str(exc), details=[{"field": "url", "location": "body", "message": str(exc),
                                                   "type": "url_refused"}]) from None


@endpoint("GET", "/webhooks", summary="List webhook endpoints", tag=TAG, query=WebhookQuery,
          response=WebhookList, roles=ADMINS, errors=(403, 422))
async def list_webhooks(ctx: Ctx, query: WebhookQuery) -> WebhookList:
    criteria = [WebhookEndpoint.dealership_id == query.dealership_id] \
        if query.dealership_id is not None and ctx.principal.is_super_admin else []
    rows, total = await ctx.scope.list(WebhookEndpoint, *criteria, order_by=WebhookEndpoint.created_at,
                                       limit=query.limit, offset=query.offset)
    return WebhookList(items=[WebhookOut.model_validate(row) for row in rows], total=total)


@endpoint("POST", "/webhooks", summary="Register a webhook endpoint (its secret is shown once)", tag=TAG,
          body=WebhookIn, response=WebhookCreated, status=201, roles=ADMINS, errors=(403, 404, 422))
async def create_webhook(ctx: Ctx, body: WebhookIn) -> WebhookCreated:
    dealership = await ctx.scope.dealership(body.dealership_id)
    await _check_url(ctx, body.url)
    row = WebhookEndpoint(dealership_id=dealership.id, url=body.url, events=list(body.events), active=body.active,
                          description=body.description, secret=signing.new_secret(),
                          created_by=ctx.principal.user_id)
    ctx.db.add(row)
    await ctx.db.flush()
    await ctx.db.refresh(row)
    return WebhookCreated(**WebhookOut.model_validate(row).model_dump(), secret=row.secret)


@endpoint("GET", "/webhooks/{webhook_id:uuid}", summary="Get a webhook endpoint", tag=TAG, response=WebhookOut,
          roles=ADMINS, resource=WebhookEndpoint, errors=(403, 404))
async def get_webhook(ctx: Ctx, webhook_id: uuid.UUID) -> WebhookOut:
    return WebhookOut.model_validate(await ctx.scope.get(WebhookEndpoint, webhook_id))


@endpoint("PATCH", "/webhooks/{webhook_id:uuid}", summary="Change a webhook endpoint (turn it on or off)",
          tag=TAG, body=WebhookPatch, response=WebhookOut, roles=ADMINS, resource=WebhookEndpoint,
          errors=(403, 404, 422))
async def update_webhook(ctx: Ctx, webhook_id: uuid.UUID, body: WebhookPatch) -> WebhookOut:
    row = await ctx.scope.get(WebhookEndpoint, webhook_id, for_update=True)
    if body.url is not None:
        await _check_url(ctx, body.url)
        row.url = body.url
    if body.events is not None:
        row.events = _events(list(body.events))
    if body.description is not None:
        row.description = body.description
    if body.active is not None:
        if body.active and not row.active:
            # On again: the waiting deliveries go out, and a new failure window starts.
            row.disabled_at = None
            row.disabled_reason = None
            await events.notify(ctx.db)
        row.active = body.active
    await ctx.db.flush()
    await ctx.db.refresh(row)
    return WebhookOut.model_validate(row)


@endpoint("DELETE", "/webhooks/{webhook_id:uuid}", summary="Delete a webhook endpoint and its deliveries",
          tag=TAG, status=204, roles=ADMINS, resource=WebhookEndpoint, errors=(403, 404))
async def delete_webhook(ctx: Ctx, webhook_id: uuid.UUID) -> None:
    row = await ctx.scope.get(WebhookEndpoint, webhook_id, for_update=True)
    await ctx.db.delete(row)


@endpoint("GET", "/webhooks/{webhook_id:uuid}/deliveries", summary="An endpoint's deliveries, newest first",
          tag=TAG, query=DeliveryQuery, response=DeliveryList, roles=ADMINS, resource=WebhookEndpoint,
          errors=(403, 404, 422))
async def list_deliveries(ctx: Ctx, webhook_id: uuid.UUID, query: DeliveryQuery) -> DeliveryList:
    hook = await ctx.scope.get(WebhookEndpoint, webhook_id)
    criteria = [WebhookDelivery.endpoint_id == hook.id]
    if query.status is not None:
        criteria.append(WebhookDelivery.status == query.status)
    rows, total = await ctx.scope.list(WebhookDelivery, *criteria,
                                       order_by=WebhookDelivery.created_at.desc(),
                                       limit=query.limit, offset=query.offset)
    return DeliveryList(items=[DeliveryOut.model_validate(row) for row in rows], total=total)


async def _active(ctx: Ctx, webhook_id: uuid.UUID) -> WebhookEndpoint:
    hook = await ctx.scope.get(WebhookEndpoint, webhook_id)
    if not hook.active:
        raise Conflict("This endpoint is switched off; turn it on to send to it.", code="webhook_inactive")
    return hook


async def _enqueue(ctx: Ctx, hook: WebhookEndpoint, *, event_id: str, event_type: str, body: str,
                   replay_of: uuid.UUID | None = None) -> DeliveryOut:
    delivery_id = uuid.uuid4()
    await ctx.db.execute(insert(WebhookDelivery).values(
        id=delivery_id, endpoint_id=hook.id, dealership_id=hook.dealership_id, event_id=event_id,
        event_type=event_type, body=body, status=DeliveryStatus.pending.value, replay_of=replay_of))
    await events.notify(ctx.db)
    row = await ctx.db.get(WebhookDelivery, delivery_id)
    assert row is not None
    return DeliveryOut.model_validate(row)


@endpoint("POST", "/webhooks/{webhook_id:uuid}/deliveries/{delivery_id:uuid}/replay",
          summary="Send a delivery's event again (same webhook-id, a new delivery)", tag=TAG,
          response=DeliveryOut, status=202, roles=ADMINS, resource=WebhookDelivery, errors=(403, 404, 409))
async def replay_delivery(ctx: Ctx, webhook_id: uuid.UUID, delivery_id: uuid.UUID) -> DeliveryOut:
    hook = await _active(ctx, webhook_id)
    original = await ctx.scope.get(WebhookDelivery, delivery_id)
    if original.endpoint_id != hook.id:
        await ctx.scope.get(WebhookDelivery, uuid.UUID(int=0))  # the same 404 as a missing one
    return await _enqueue(ctx, hook, event_id=original.event_id, event_type=original.event_type,
                          body=original.body, replay_of=original.id)


@endpoint("POST", "/webhooks/{webhook_id:uuid}/test", summary="Send a test event (type webhook.test)", tag=TAG,
          response=DeliveryOut, status=202, roles=ADMINS, resource=WebhookEndpoint, errors=(403, 404, 409))
async def test_webhook(ctx: Ctx, webhook_id: uuid.UUID) -> DeliveryOut:
    hook = await _active(ctx, webhook_id)
    event_id = events.new_event_id()
    body = events.payload(event_id, TEST_EVENT, hook.dealership_id,
                          {"message": "A test event from Sparring.", "endpoint_id": str(hook.id)})
    return await _enqueue(ctx, hook, event_id=event_id, event_type=TEST_EVENT, body=body)


ENDPOINTS = [list_webhooks, create_webhook, get_webhook, update_webhook, delete_webhook, list_deliveries,
             replay_delivery, test_webhook]
