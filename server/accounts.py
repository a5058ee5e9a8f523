"""Account rules shared by the API, the CLI and the demo seed."""

from __future__ import annotations

import re
import secrets
import unicodedata
import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.passwords import MAX_PASSWORD_BYTES, hash_password
from server.db.models import Dealership, RefreshToken, Role, User
from server.errors import Conflict, ValidationFailed


def check_password_bytes(password: str) -> None:
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise ValidationFailed(details=[{"field": "password", "message":
                                         f"must be at most {MAX_PASSWORD_BYTES} bytes in UTF-8"}])


def name_from_email(email: str) -> str:
    """A display name when none was given: 'jane.doe+work@x.com' -> 'Jane Doe'."""
    local = email.split("@", 1)[0].split("+", 1)[0]
    words = [w for w in re.split(r"[._\-\s]+", local) if w]
    return " ".join(w[:1].upper() + w[1:] for w in words) or email


async def email_taken(session: AsyncSession, email: str, *, except_id: uuid.UUID | None = None) -> bool:
    query = select(User.id).where(func.lower(User.email) == email.lower(), User.deleted_at.is_(None))
    if except_id is not None:
        query = query.where(User.id != except_id)
    return (await session.execute(query.limit(1))).first() is not None


async def create_user(
    session: AsyncSession, *, email: str, password: str | None, name: str, role: Role,
    dealership_id: uuid.UUID | None, bcrypt_rounds: int,
) -> User:
    """`password=None`: an invited account; a random password nobody knows (hashed like any, so
    signing in to it takes as long as to any other) until the invite is accepted."""
    if password is None:
        password = secrets.token_urlsafe(32)
    check_password_bytes(password)
    if role is Role.super_admin:
        dealership_id = None
    elif dealership_id is None:
        raise ValidationFailed(details=[{"field": "dealership_id", "message": "required for this role"}])
    if await email_taken(session, email):
        raise Conflict("An account with this email already exists.", code="email_taken")
    user = User(email=email.lower(), password_hash=await hash_password(password, bcrypt_rounds), name=name,
                role=role, dealership_id=dealership_id)
    session.add(user)
    await session.flush()
    return user


async def revoke_all_refresh_tokens(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:80] or "dealership"


async def unique_slug(session: AsyncSession, name: str) -> str:
    base = slugify(name)
    slug, n = base, 1
    while (await session.execute(select(Dealership.id).where(Dealership.slug == slug))).first():
        n += 1
        slug = f"{base}-{n}"
    return slug
