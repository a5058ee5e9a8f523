"""Conversation tables: dealership personas, sessions, messages and answer reports.

Every row carries `dealership_id` so `server.tenancy.Scope` filters it in one place; sessions,
messages and reports also name the user who owns them (plain users see only their own).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Computed, DateTime, Enum, Float, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from server.db.models import Base


def _uuid() -> uuid.UUID:
    return uuid.uuid4()


class Mode(enum.StrEnum):
    training = "training"
    roleplay = "roleplay"


class Channel(enum.StrEnum):
    text = "text"
    voice = "voice"
    avatar = "avatar"


class SessionStatus(enum.StrEnum):
    active = "active"
    ended = "ended"


class MessageRole(enum.StrEnum):
    user = "user"
    assistant = "assistant"


class ReportStatus(enum.StrEnum):
    open = "open"
    resolved = "resolved"
    dismissed = "dismissed"


def _enum(cls: type[enum.StrEnum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, length=32)


class Persona(Base):
    """A dealership's own persona; the built-in ones ship as files (see `personas.py`)."""

    __tablename__ = "persona"
    __table_args__ = (Index("ix_persona_dealership", "dealership_id"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=_uuid)
    dealership_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("dealership.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    # Everything else a persona says about itself (vehicle, budget, objections, lines...), validated
    # by `personas.PersonaSpec` so built-in files and API-made personas share one shape.
    spec: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sql_text("true"))
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


SCORE_OVERALL = ("CASE WHEN jsonb_typeof(scorecard -> 'overall') = 'number' "
                 "THEN (scorecard ->> 'overall')::double precision END")
SCORE_PASSED = "CASE WHEN jsonb_typeof(scorecard -> 'passed') = 'boolean' THEN (scorecard ->> 'passed')::boolean END"


class ConversationSession(Base):
    __tablename__ = "conversation_session"
    __table_args__ = (
        Index("ix_conversation_session_dealership_started", "dealership_id", "started_at"),
        Index("ix_conversation_session_user_started", "user_id", "started_at"),
        # The review queue's flag sync (`server.review.queue`): a dealership's few flagged sessions.
        Index("ix_conversation_session_flagged", "dealership_id", postgresql_where=sql_text("flagged")),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=_uuid)
    dealership_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("dealership.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("app_user.id", ondelete="CASCADE"))
    mode: Mapped[Mode] = mapped_column(_enum(Mode, "conversation_mode"))
    channel: Mapped[Channel] = mapped_column(_enum(Channel, "conversation_channel"))
    persona_id: Mapped[str] = mapped_column(String(64))
    # The persona as it was when the session started: later edits do not rewrite history.
    persona: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # The scenario practised, if any, and its frozen copy (`training.spec.FrozenScenario`: the
    # scenario and its rubric as they were at the start), so editing either never changes results.
    scenario_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    scenario: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True), nullable=True)
    # The assignment it was started from (`server.practice`): its score counts towards it when it ends.
    assignment_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("assignment.id", ondelete="SET NULL"), nullable=True)
    status: Mapped[SessionStatus] = mapped_column(_enum(SessionStatus, "conversation_status"),
                                                  default=SessionStatus.active)
    message_count: Mapped[int] = mapped_column(Integer, default=0, server_default=sql_text("0"))
    flagged: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sql_text("false"))
    flags: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, server_default=sql_text("'[]'::jsonb"))
    scorecard: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    # The scorecard's `overall` and `passed`, kept by PostgreSQL beside it (generated columns), so
    # a board or report over thousands of sessions reads two small columns instead of every
    # (kilobytes, stored out of line) scorecard. Anything but a number / a boolean reads as NULL.
    score_overall: Mapped[float | None] = mapped_column(Float, Computed(SCORE_OVERALL, persisted=True), nullable=True)
    score_passed: Mapped[bool | None] = mapped_column(Boolean, Computed(SCORE_PASSED, persisted=True), nullable=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_activity_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ConversationMessage(Base):
    __tablename__ = "conversation_message"
    __table_args__ = (
        Index("uq_conversation_message_seq", "session_id", "seq", unique=True),
        Index("ix_conversation_message_dealership_created", "dealership_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=_uuid)
    session_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("conversation_session.id", ondelete="CASCADE"))
    dealership_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("dealership.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("app_user.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[MessageRole] = mapped_column(_enum(MessageRole, "message_role"))
    text: Mapped[str] = mapped_column(Text)
    sources: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, server_default=sql_text("'[]'::jsonb"))
    # {"techniques": [...]} on salesperson turns, {"objection": ...} on customer turns, plus "by".
    tags: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default=sql_text("'{}'::jsonb"))
    model: Mapped[str | None] = mapped_column(String(100), nullable=True)
    offline: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sql_text("false"))
    prompt_version: Mapped[str | None] = mapped_column(String(16), nullable=True)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default=sql_text("0"))
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default=sql_text("0"))
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0, server_default=sql_text("0"))
    ttft_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    total_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    # Channel-specific measurements (e.g. the voice channel's speech duration, STT and TTS times).
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default=sql_text("'{}'::jsonb"))
    # Barge-in: the text keeps only what the user heard; the full generation stays in metrics.
    interrupted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sql_text("false"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class MessageReport(Base):
    __tablename__ = "message_report"
    __table_args__ = (Index("ix_message_report_dealership_status", "dealership_id", "status"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=_uuid)
    dealership_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("dealership.id", ondelete="CASCADE"))
    session_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("conversation_session.id", ondelete="CASCADE"))
    message_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("conversation_message.id", ondelete="CASCADE"))
    reporter_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("app_user.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[ReportStatus] = mapped_column(_enum(ReportStatus, "report_status"), default=ReportStatus.open)
    resolution: Mapped[str | None] = mapped_column(Text, nullable=True)
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
