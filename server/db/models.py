"""Tables. Rows that belong to one dealership carry `dealership_id` and are only ever read
through `server.tenancy.Scope`, which adds the dealership filter in one place."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSONB()}


def _uuid() -> uuid.UUID:
    return uuid.uuid4()


class Role(enum.StrEnum):
    super_admin = "super_admin"
    dealership_admin = "dealership_admin"
    user = "user"


class AuditAction(enum.StrEnum):
    login_ok = "login_ok"
    login_failed = "login_failed"
    refresh_reuse = "refresh_reuse"
    logout = "logout"
    role_change = "role_change"
    deactivation = "deactivation"
    reactivation = "reactivation"
    password_change = "password_change"
    user_created = "user_created"
    user_deleted = "user_deleted"
    dealership_created = "dealership_created"
    dealership_deleted = "dealership_deleted"
    dealership_suspended = "dealership_suspended"
    dealership_reactivated = "dealership_reactivated"
    invite_sent = "invite_sent"
    invite_accepted = "invite_accepted"
    password_reset_requested = "password_reset_requested"
    password_reset = "password_reset"


class Dealership(Base):
    __tablename__ = "dealership"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=_uuid)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=text("'{}'::jsonb"))
    # False: suspended. Its users cannot sign in, refresh or use their tokens (within
    # PRINCIPAL_CACHE_SECONDS on other instances), open voice sessions end at their next turn,
    # and its documents wait unprocessed; its data is kept, and setting it back restores all.
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class User(Base):
    __tablename__ = "app_user"
    __table_args__ = (
        # Case-insensitive uniqueness among accounts that are not deleted.
        Index("uq_app_user_email", func.lower(text("email")), unique=True,
              postgresql_where=text("deleted_at IS NULL")),
        Index("ix_app_user_dealership", "dealership_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=_uuid)
    email: Mapped[str] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[Role] = mapped_column(Enum(Role, name="user_role", native_enum=False, length=32))
    dealership_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("dealership.id", ondelete="CASCADE"), nullable=True
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Deleting an account keeps its row (and so the history that points at it) but frees the email.
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Bumped on password change and deactivation: access tokens carry it, so older ones stop working.
    token_version: Mapped[int] = mapped_column(default=0, server_default=text("0"))


class RefreshToken(Base):
    __tablename__ = "refresh_token"
    __table_args__ = (Index("ix_refresh_token_family", "family_id"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=_uuid)
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("app_user.id", ondelete="CASCADE")
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    rotated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AccountTokenPurpose(enum.StrEnum):
    invite = "invite"
    password_reset = "password_reset"


class AccountToken(Base):
    """A single-use link's token (an invite, a password reset), stored as its SHA-256 like
    refresh tokens: the database never holds one that works."""

    __tablename__ = "account_token"
    __table_args__ = (Index("ix_account_token_user", "user_id", "purpose"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=_uuid)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("app_user.id", ondelete="CASCADE"))
    purpose: Mapped[AccountTokenPurpose] = mapped_column(
        Enum(AccountTokenPurpose, name="account_token_purpose", native_enum=False, length=32))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Set when used, or when a newer token or a password change makes it void.
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AuditEvent(Base):
    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_dealership_at", "dealership_id", "at"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=_uuid)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True
    )
    subject_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    action: Mapped[AuditAction] = mapped_column(
        Enum(AuditAction, name="audit_action", native_enum=False, length=40)
    )
    dealership_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("dealership.id", ondelete="SET NULL"), nullable=True
    )
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=text("'{}'::jsonb"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


__all__ = ["AccountToken", "AccountTokenPurpose", "AuditAction", "AuditEvent", "Base", "Dealership", "RefreshToken",
           "Role", "Text", "User"]
