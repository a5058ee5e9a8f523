"""Tenant isolation, in one place.

Every read of a dealership-owned row goes through `Scope`: it adds the caller's dealership
filter (and, for plain users, the "own rows only" filter) to the query, so an endpoint cannot
forget it. A row outside the caller's scope is indistinguishable from a missing one: 404.

Models opt in with class attributes:
    __tenant_column__   column naming the owning dealership (default "dealership_id")
    __owner_column__    column naming the owning user; plain users see only their own rows
    __soft_delete__     column that marks a row deleted (hidden from every scope)
    __owner_only__      True: the owner filter applies to dealership admins too (not super admins)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from server.conversation.models import ConversationMessage, ConversationSession, MessageReport, Persona
from server.db.models import Dealership, Role, User
from server.errors import Forbidden, NotFound, ValidationFailed
from server.insight.models import SessionInsight
from server.practice.models import AssignmentProgress, Certification, Program
from server.recording.models import VoiceRecording
from server.review.models import ReviewItem
from server.training.builder.models import BuilderSession
from server.training.models import Rubric, Scenario

M = TypeVar("M")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the verified account behind an access token."""

    user_id: uuid.UUID
    role: Role
    dealership_id: uuid.UUID | None
    email: str
    name: str

    @property
    def is_super_admin(self) -> bool:
        return self.role is Role.super_admin

    @property
    def is_admin(self) -> bool:
        return self.role in (Role.super_admin, Role.dealership_admin)


# Per-model opt-ins (see module docstring); set here rather than on the models so the
# whole isolation policy reads in one file.
Dealership.__tenant_column__ = "id"
User.__owner_column__ = "id"
User.__soft_delete__ = "deleted_at"
# Conversations: plain users see their own sessions, messages and reports; admins their dealership's.
ConversationSession.__owner_column__ = "user_id"
ConversationMessage.__owner_column__ = "user_id"
MessageReport.__owner_column__ = "reporter_id"
Persona.__soft_delete__ = "deleted_at"
# Voice recordings follow their session: plain users hear only their own.
VoiceRecording.__owner_column__ = "user_id"
# Training: a dealership's rubrics and scenarios, read by all its people, deleted softly.
Rubric.__soft_delete__ = "deleted_at"
Scenario.__soft_delete__ = "deleted_at"
# A builder session is one admin's draft in progress: only the admin who started it sees it (a
# colleague's answers would interleave with theirs); super admins see every one. Abandoned ones
# are hidden from everyone.
BuilderSession.__owner_column__ = "user_id"
BuilderSession.__owner_only__ = True
BuilderSession.__soft_delete__ = "deleted_at"

# Practice management: teams, programmes and assignments are the dealership's (admins write; the
# API shows plain users only assignments they are given); progress and certifications are a
# person's own.
Program.__soft_delete__ = "deleted_at"
AssignmentProgress.__owner_column__ = "user_id"
Certification.__owner_column__ = "user_id"
# Team insight rows and review items belong to the session's trainee: a plain user sees only the
# items on their own sessions (never a colleague's dispute); admins their dealership's.
SessionInsight.__owner_column__ = "user_id"
ReviewItem.__owner_column__ = "user_id"


def visibility(model: type[Any], principal: Principal) -> list[ColumnElement[bool]]:
    criteria: list[ColumnElement[bool]] = []
    soft_delete = getattr(model, "__soft_delete__", None)
    if soft_delete:
        criteria.append(getattr(model, soft_delete).is_(None))
    if principal.is_super_admin:
        return criteria
    tenant_column = getattr(model, "__tenant_column__", "dealership_id")
    criteria.append(getattr(model, tenant_column) == principal.dealership_id)
    owner_column = getattr(model, "__owner_column__", None)
    if owner_column and (principal.role is Role.user or getattr(model, "__owner_only__", False)):
        criteria.append(getattr(model, owner_column) == principal.user_id)
    return criteria


class Scope:
    """Queries as one principal may see them."""

    def __init__(self, principal: Principal, session: AsyncSession) -> None:
        self.principal = principal
        self.session = session

    def select(self, model: type[M], *criteria: ColumnElement[bool]) -> Select[M]:
        return select(model).where(*visibility(model, self.principal), *criteria)

    async def get(self, model: type[M], id_: uuid.UUID, *, for_update: bool = False) -> M:
        key = model.id  # type: ignore[attr-defined]
        query = self.select(model, key == id_)
        if for_update:
            query = query.with_for_update()
        row = (await self.session.execute(query)).scalar_one_or_none()
        if row is None:
            raise NotFound(f"{_label(model)} not found.")
        return row

    async def list(
        self, model: type[M], *criteria: ColumnElement[bool], order_by: Any = None,
        limit: int = 50, offset: int = 0,
    ) -> tuple[list[M], int]:
        base = self.select(model, *criteria)
        total = (await self.session.execute(
            select(func.count()).select_from(base.order_by(None).subquery())
        )).scalar_one()
        query = base.limit(limit).offset(offset)
        if order_by is not None:
            query = query.order_by(order_by)
        rows = list((await self.session.execute(query)).scalars())
        return rows, int(total)

    def dealership_for_write(self, requested: uuid.UUID | None) -> uuid.UUID:
        """The dealership a request acts on (a new row, a chat, a search, an upload).

        The one rule for a `dealership_id` a client sends: only a super admin chooses (and must);
        anyone else always acts on their own dealership, whatever id they send, so another
        dealership's id neither reaches it nor tells whether it exists. Every endpoint that
        takes one resolves it here (or through `dealership`)."""
        if self.principal.is_super_admin:
            if requested is None:
                raise ValidationFailed(
                    "dealership_id is required for a super admin.",
                    details=[{"field": "dealership_id", "message": "required"}],
                )
            return requested
        assert self.principal.dealership_id is not None
        return self.principal.dealership_id

    async def dealership(self, requested: uuid.UUID | None) -> Dealership:
        """The dealership the caller acts on (404 if it is not theirs or does not exist)."""
        return await self.get(Dealership, self.dealership_for_write(requested))

    def require_admin(self) -> None:
        if not self.principal.is_admin:
            raise Forbidden()


def _label(model: type[Any]) -> str:
    return {"app_user": "User"}.get(model.__tablename__, model.__name__)


__all__ = ["Principal", "Scope", "true", "visibility"]
