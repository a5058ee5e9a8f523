"""Webhook endpoints and their deliveries (the outbox).

A delivery row is the job too (status, attempts, lease), as emails are in `mail_outbox`: it is
written in the same transaction as the change that causes the event, so an event exists exactly
when its cause was committed, and survives any restart until the receiver answers 2xx.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from server.db.models import Base, _uuid


class EventType(enum.StrEnum):
    session_completed = "session.completed"
    scorecard_ready = "scorecard.ready"
    assignment_passed = "assignment.passed"
    assignment_overdue = "assignment.overdue"
    certification_granted = "certification.granted"
    document_ready = "document.ready"
    document_failed = "document.failed"


# Sent by `POST /webhooks/{id}/test` only; no endpoint subscribes to it.
TEST_EVENT = "webhook.test"


class DeliveryStatus(enum.StrEnum):
    pending = "pending"  # waiting for (another) attempt
    sending = "sending"  # claimed by a sender until `lease_until`
    succeeded = "succeeded"  # the receiver answered 2xx
    failed = "failed"  # no 2xx within the retry window (WEBHOOK_RETRY_WINDOW_S)


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoint"
    __table_args__ = (Index("ix_webhook_endpoint_dealership", "dealership_id"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=_uuid)
    dealership_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("dealership.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    description: Mapped[str] = mapped_column(String(500), default="", server_default="")
    # `whsec_` + base64, kept as is so it can sign (docs/security.md: there is no app key to
    # encrypt it with); shown once, on create, and never logged.
    secret: Mapped[str] = mapped_column(String(200))
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Set when the sender switched the endpoint off (a delivery failed for a whole retry window
    # with nothing delivered since); cleared when an admin turns it on again.
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())


class WebhookDelivery(Base):
    __tablename__ = "webhook_delivery"
    __table_args__ = (
        # The sender's claim looks only at deliveries still to make; keep that scan small.
        Index("ix_webhook_delivery_due", "next_attempt_at", postgresql_where="status IN ('pending', 'sending')"),
        Index("ix_webhook_delivery_endpoint_created", "endpoint_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=_uuid)
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("webhook_endpoint.id", ondelete="CASCADE"))
    dealership_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("dealership.id", ondelete="CASCADE"))
    # The event's id: the `webhook-id` header and the payload's `id`, the same on every attempt
    # and on a replay, so a receiver can drop a copy it has already handled.
    event_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)  # the JSON payload, serialised once: every attempt signs the same bytes
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.pending.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    lease_token: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    response_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    replay_of: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
