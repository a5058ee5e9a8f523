"""The durable record of a builder session (migration 0008_builder).

The conversation itself (what has been gathered, the pending question) is the *active state*,
kept with a TTL by `store.py`: in Redis when configured, else in this row's `state` column. The
row outlives it: who started the session, for which dealership, where it stands, and the draft
once completed.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Enum, ForeignKey, Index, Integer, String, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from server.db.models import Base


class BuilderStatus(enum.StrEnum):
    active = "active"
    completed = "completed"  # a draft was handed out; further answers reopen it
    expired = "expired"  # its active state outlived the TTL
    abandoned = "abandoned"  # DELETE; hidden from every scope (`deleted_at`)


class BuilderSession(Base):
    __tablename__ = "builder_session"
    __table_args__ = (
        Index("ix_builder_session_dealership_user", "dealership_id", "user_id"),
        Index("ix_builder_session_expiry", "expires_at", postgresql_where="status = 'active'"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    dealership_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("dealership.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("app_user.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[BuilderStatus] = mapped_column(
        Enum(BuilderStatus, name="builder_status", native_enum=False, length=16), default=BuilderStatus.active)
    stage: Mapped[str] = mapped_column(String(32))
    # The draft's title so far (null until the customer has a name), for the list of sessions.
    title: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Bumped by every answer; the active state carries the same number, so a state written for
    # an answer whose transaction then failed is recognised as ahead of the row.
    revision: Mapped[int] = mapped_column(Integer, default=0)
    # The active state when no Redis is configured (`store.PostgresStates`), else null.
    state: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    draft: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)  # the last completed draft
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
