"""Practice management tables (migration `0011_assign`), every one dealership-scoped.

A team and a programme are named sets (of people, of scenarios). An assignment gives one or more
scenarios to people with a due date; each assignee has one `assignment_progress` row, written at
creation (a team's members as they are then) and updated when a session started from the
assignment ends. A certification row exists once a manager has acted on a person's programme
(signed them off, or moved them back); the board's other stages are computed from sessions.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from server.db.models import Base, _uuid


class Team(Base):
    __tablename__ = "team"
    __table_args__ = (Index("ix_team_dealership", "dealership_id"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=_uuid)
    dealership_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("dealership.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class TeamMember(Base):
    __tablename__ = "team_member"

    team_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("team.id", ondelete="CASCADE"),
                                               primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("app_user.id", ondelete="CASCADE"),
                                               primary_key=True, index=True)
    dealership_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("dealership.id", ondelete="CASCADE"))


class Program(Base):
    __tablename__ = "program"
    __table_args__ = (Index("ix_program_dealership", "dealership_id"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=_uuid)
    dealership_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("dealership.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    scenario_ids: Mapped[list[str]] = mapped_column(JSONB, default=list)  # built-in ids are strings, own ones UUIDs
    levels: Mapped[dict[str, int]] = mapped_column(JSONB, default=dict)  # {bronze, silver, gold}: scores 0-100
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Assignment(Base):
    __tablename__ = "assignment"
    __table_args__ = (Index("ix_assignment_dealership_due", "dealership_id", "due_at"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=_uuid)
    dealership_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("dealership.id", ondelete="CASCADE"))
    scenario_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    program_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("program.id", ondelete="SET NULL"), nullable=True)
    # What is practised, fixed at creation (a programme's scenarios then), in order.
    scenario_ids: Mapped[list[str]] = mapped_column(JSONB, default=list)
    team_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("team.id", ondelete="SET NULL"), nullable=True)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    min_attempts: Mapped[int] = mapped_column(Integer, default=1)
    pass_score: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: each scenario's own pass mark
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AssignmentProgress(Base):
    __tablename__ = "assignment_progress"
    __table_args__ = (Index("ix_assignment_progress_user", "user_id"),)

    assignment_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("assignment.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("app_user.id", ondelete="CASCADE"),
                                               primary_key=True)
    dealership_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("dealership.id", ondelete="CASCADE"))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Per scenario: {scenario_id: {attempts, best, latest, first, passed_at}} (`assignments.Scores`).
    scenarios: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    passed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    overdue_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)  # marked by the sweep


class Certification(Base):
    __tablename__ = "certification"
    __table_args__ = (UniqueConstraint("user_id", "program_id", name="uq_certification_user_program"),
                      Index("ix_certification_dealership_program", "dealership_id", "program_id"))

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=_uuid)
    dealership_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("dealership.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("app_user.id", ondelete="CASCADE"))
    program_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("program.id", ondelete="CASCADE"))
    # "certified", or the stage a manager moved the person back to ("ready_for_review",
    # "practising": then only sessions ended after `changed_at` count towards being ready again).
    status: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    signed_off_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True)
    certified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
