"""`session_insight`: one row per ended, scored session, the few columns team insight reads.

Team insight aggregates a dealership's sessions over a date range (50,000 of them in the
benchmark). Reading them from `conversation_session` would parse the persona, the frozen scenario
and the scorecard JSON of every row; this row keeps what the aggregates need as plain columns,
written by `summary.record` in the same transaction that stores the scorecard (and rewritten when
a review overrides the score)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Index, Integer, String
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from server.db.models import Base


class SessionInsight(Base):
    __tablename__ = "session_insight"
    __table_args__ = (Index("ix_session_insight_dealership_started", "dealership_id", "started_at"),)

    session_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("conversation_session.id", ondelete="CASCADE"), primary_key=True)
    dealership_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("dealership.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("app_user.id", ondelete="CASCADE"))
    # What was practised, for first-attempt versus best: the scenario's id, or "persona:<id>" for a
    # session without a scenario; and its title (or the persona's name) to show.
    practice_key: Mapped[str] = mapped_column(String(80))
    practice_label: Mapped[str] = mapped_column(String(200))
    objections: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    duration_s: Mapped[int] = mapped_column(Integer)
    overall: Mapped[float | None] = mapped_column(Float, nullable=True)
    passed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
