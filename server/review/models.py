"""`review_item`: one reason a session needs a human, open until a manager resolves it."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Enum, ForeignKey, Index, String, Text, func
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from server.db.models import Base


class ReviewReason(enum.StrEnum):
    flagged = "flagged"  # moderation flagged the session: abuse, distress, the customer breaking character
    low_confidence = "low_confidence"  # the judge's score is in doubt (`confidence.doubts`)
    dispute = "dispute"  # the trainee disputes the score


class ReviewStatus(enum.StrEnum):
    open = "open"
    resolved = "resolved"


class ReviewOutcome(enum.StrEnum):
    confirmed = "confirmed"
    overridden = "overridden"


def _enum(cls: type[enum.StrEnum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, length=32)


class ReviewItem(Base):
    __tablename__ = "review_item"
    __table_args__ = (
        Index("ix_review_item_dealership_status", "dealership_id", "status", "created_at"),
        # One open item per session and reason: a second dispute, or the flag sync running twice,
        # adds nothing while the first is open.
        Index("uq_review_item_open", "session_id", "reason", unique=True,
              postgresql_where=sql_text("status = 'open'")),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    dealership_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("dealership.id", ondelete="CASCADE"))
    session_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("conversation_session.id", ondelete="CASCADE"), index=True)
    # The session's trainee (the owner column: a plain user sees only items on their own sessions).
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("app_user.id", ondelete="CASCADE"))
    reason: Mapped[ReviewReason] = mapped_column(_enum(ReviewReason, "review_reason"))
    # Why, in words and kinds: the flags' kinds, the judge's doubts, the trainee's reason.
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default=sql_text("'{}'::jsonb"))
    status: Mapped[ReviewStatus] = mapped_column(_enum(ReviewStatus, "review_status"), default=ReviewStatus.open)
    outcome: Mapped[ReviewOutcome | None] = mapped_column(_enum(ReviewOutcome, "review_outcome"), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    original_overall: Mapped[float | None] = mapped_column(nullable=True)
    new_overall: Mapped[float | None] = mapped_column(nullable=True)
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    opened_by: Mapped[str] = mapped_column(String(16), default="system")  # "system" or "trainee"
