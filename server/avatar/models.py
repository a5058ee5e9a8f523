"""The `avatar_usage` table: one row per photoreal avatar (provider) session, from start to stop.

Photoreal minutes cost money (LiveAvatar LITE: about one credit, $0.10, a minute), so each
provider session is metered from the moment it started to the moment we stopped it, per
dealership; the monthly cap and the usage report read these rows. A row whose `stopped_at` is
null is a session still running (or one whose process died: `quota.py` counts it up to now, at
most `MAX_OPEN_S`). Rows go with their dealership; they outlive the conversation session on
purpose (the minutes were spent).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from server.db.models import Base


class AvatarUsage(Base):
    __tablename__ = "avatar_usage"
    __table_args__ = (Index("ix_avatar_usage_dealership_started", "dealership_id", "started_at"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    dealership_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("dealership.id", ondelete="CASCADE"))
    session_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))  # the conversation session
    user_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    provider: Mapped[str] = mapped_column(String(32))
    provider_session_id: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
