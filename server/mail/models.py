"""The outbox: every email, written in the same transaction as the change that causes it.

The row is also the job (status, attempts, lease), as documents are for the document queue, so
an email exists exactly when its cause was committed, and survives any restart until it is sent.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from server.db.models import Base, _uuid


class OutboxStatus(enum.StrEnum):
    pending = "pending"  # waiting for (another) attempt
    sending = "sending"  # claimed by a sender until `lease_until`
    sent = "sent"  # the transport accepted it
    failed = "failed"  # refused for good, or out of attempts
    kept = "kept"  # no transport configured: read it with `sparring outbox` or the Outbox page


class OutboxMessage(Base):
    __tablename__ = "mail_outbox"
    __table_args__ = (
        # The sender's claim looks only at emails still to send; keep that scan small.
        Index("ix_mail_outbox_due", "next_attempt_at", postgresql_where="status IN ('pending', 'sending')"),
        Index("ix_mail_outbox_dealership_created", "dealership_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=_uuid)
    # None: an email to a super admin (no dealership).
    dealership_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("dealership.id", ondelete="CASCADE"), nullable=True)
    # One email per cause: enqueueing the same key again returns the first one.
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    to: Mapped[str] = mapped_column(String(254))
    template: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.pending.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    lease_token: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    provider_id: Mapped[str | None] = mapped_column(String(300), nullable=True)  # the transport's message id
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    @property
    def message_id(self) -> str:
        """The Message-ID header, the same on every attempt: a receiver can drop a second copy
        sent after a crash between the transport's acceptance and our record of it."""
        return f"<{self.id}@sparring.outbox>"
