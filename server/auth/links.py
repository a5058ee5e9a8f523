"""Single-use account links: invites (set your first password) and password resets.

The token is 32 random bytes in the link's `token` query parameter; the database keeps only its
SHA-256 (`account_token`), as for refresh tokens. Issuing a token voids the user's earlier ones
of the same purpose; using one, or any password change, voids them all.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.tokens import hash_refresh_token
from server.db.models import AccountToken, AccountTokenPurpose, User
from server.errors import BadRequest
from server.mail import outbox
from server.mail.models import OutboxMessage
from server.settings import Settings

# The web app's pages for each purpose ({PUBLIC_URL}/invite?token=...).
PAGES = {AccountTokenPurpose.invite: "/invite", AccountTokenPurpose.password_reset: "/reset-password"}
TEMPLATES = {AccountTokenPurpose.invite: "invite", AccountTokenPurpose.password_reset: "password_reset"}

INVALID = "This link is not valid, or was already used. Ask for a new one."
EXPIRED = "This link has expired. Ask for a new one."


def hash_token(token: str) -> str:
    return hash_refresh_token(token)


def ttl(settings: Settings, purpose: AccountTokenPurpose) -> timedelta:
    if purpose is AccountTokenPurpose.invite:
        return timedelta(hours=settings.invite_ttl_hours)
    return timedelta(minutes=settings.password_reset_ttl_minutes)


def link(settings: Settings, purpose: AccountTokenPurpose, token: str) -> str:
    return f"{settings.public_url}{PAGES[purpose]}?{urlencode({'token': token})}"


async def void_tokens(db: AsyncSession, user_id: uuid.UUID, purpose: AccountTokenPurpose | None = None,
                      *, now: datetime | None = None) -> None:
    query = update(AccountToken).where(AccountToken.user_id == user_id, AccountToken.used_at.is_(None))
    if purpose is not None:
        query = query.where(AccountToken.purpose == purpose)
    await db.execute(query.values(used_at=now or datetime.now(UTC)))


async def pending_invites(db: AsyncSession, user_ids: list[uuid.UUID],
                          *, now: datetime | None = None) -> dict[uuid.UUID, datetime]:
    """When each user's waiting invite stops working, for the users that have one (sent, not yet
    used, voided or expired): what the Staff list shows as "invite pending"."""
    if not user_ids:
        return {}
    rows = await db.execute(
        select(AccountToken.user_id, func.max(AccountToken.expires_at))
        .where(AccountToken.user_id.in_(user_ids), AccountToken.purpose == AccountTokenPurpose.invite,
               AccountToken.used_at.is_(None), AccountToken.expires_at > (now or datetime.now(UTC)))
        .group_by(AccountToken.user_id))
    return {user_id: expires for user_id, expires in rows.all()}


async def send_link(
    db: AsyncSession, mail: outbox.Mail, settings: Settings, user: User, purpose: AccountTokenPurpose,
    *, inviter: str | None = None, now: datetime | None = None,
) -> tuple[AccountToken, OutboxMessage]:
    """A new token for `user` (voiding their earlier ones of this purpose) and its email, both in
    the caller's transaction."""
    now = now or datetime.now(UTC)
    await void_tokens(db, user.id, purpose, now=now)
    token = secrets.token_urlsafe(32)
    row = AccountToken(id=uuid.uuid4(), user_id=user.id, purpose=purpose, token_hash=hash_token(token), created_at=now,
                       expires_at=now + ttl(settings, purpose))
    db.add(row)
    await db.flush()
    context = {"name": user.name or user.email, "link": link(settings, purpose, token),
               "expires": row.expires_at.strftime("%d %b %Y %H:%M UTC"), "inviter": inviter or "Your administrator"}
    message = await outbox.enqueue(db, mail, dealership_id=user.dealership_id, to=user.email,
                                   template=TEMPLATES[purpose], context=context,
                                   idempotency_key=f"{purpose.value}:{row.id}")
    return row, message


async def redeem(db: AsyncSession, token: str, purpose: AccountTokenPurpose,
                 *, now: datetime | None = None) -> User:
    """The user a valid, unused, unexpired token of `purpose` belongs to (locked for update);
    the token is marked used in the caller's transaction. 400 otherwise, the same answer for
    unknown and used tokens."""
    now = now or datetime.now(UTC)
    row = (await db.execute(
        select(AccountToken).where(AccountToken.token_hash == hash_token(token), AccountToken.purpose == purpose)
        .with_for_update()
    )).scalar_one_or_none()
    if row is None or row.used_at is not None:
        raise BadRequest(INVALID, code="invalid_token")
    if row.expires_at <= now:
        raise BadRequest(EXPIRED, code="token_expired")
    user = await db.get(User, row.user_id, with_for_update=True)
    if user is None or user.deleted_at is not None or not user.active:
        raise BadRequest(INVALID, code="invalid_token")
    row.used_at = now
    return user
