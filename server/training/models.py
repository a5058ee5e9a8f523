"""Training tables: a dealership's own rubrics and scenarios.

Built-in rubrics and scenarios ship as files (`builtin/`, read by `catalog.py`); a dealership's
own live here, with UUID ids. `spec` holds everything but the name/title, validated by the
models in `spec.py`, so a file, an API body and a row mean the same thing. Soft delete, like
`persona`: past sessions keep their frozen copy (`conversation_session.scenario`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, String, func
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from server.db.models import Base


def _uuid() -> uuid.UUID:
    return uuid.uuid4()


class Rubric(Base):
    __tablename__ = "rubric"
    __table_args__ = (Index("ix_rubric_dealership", "dealership_id"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=_uuid)
    dealership_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("dealership.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    spec: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)  # `spec.RubricSpec` less the name
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Scenario(Base):
    __tablename__ = "scenario"
    __table_args__ = (Index("ix_scenario_dealership", "dealership_id"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=_uuid)
    dealership_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("dealership.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    # `active` is a column too: plain users list only active scenarios, filtered in SQL.
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sql_text("true"))
    spec: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)  # `spec.ScenarioSpec` less title, active
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
