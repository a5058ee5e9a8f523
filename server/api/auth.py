"""/auth: login, rotating refresh tokens with reuse detection, logout, me, password change."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from functools import partial

from pydantic import Field
from sqlalchemy import func, select, update

from server import audit
from server.accounts import check_password_bytes, revoke_all_refresh_tokens
from server.api.endpoint import Ctx, endpoint
from server.api.schemas import Email, Input, Output, Password, UserOut
from server.auth.links import void_tokens
from server.auth.passwords import hash_password, verify_password
from server.auth.reauth import password_matches
from server.auth.tokens import hash_refresh_token, issue_access_token, new_refresh_token
from server.db.models import AuditAction, Dealership, RefreshToken, User
from server.errors import Unauthorized

TAG = "auth"


class LoginIn(Input):
    email: Email
    password: str = Field(min_length=1, max_length=1024)


class RefreshIn(Input):
    refresh_token: str = Field(min_length=1, max_length=512)


class PasswordIn(Input):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: Password


class TokenOut(Output):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int
    user: UserOut


async def _issue(ctx: Ctx, user: User, family_id: uuid.UUID | None = None) -> TokenOut:
    settings = ctx.state.settings
    family_id = family_id or uuid.uuid4()
    access, ttl = issue_access_token(
        secret=settings.jwt_secret, user_id=user.id, role=user.role.value, dealership_id=user.dealership_id,
        token_version=user.token_version, ttl_seconds=settings.access_token_minutes * 60, family_id=family_id,
    )
    refresh = new_refresh_token()
    ctx.db.add(RefreshToken(
        user_id=user.id, token_hash=hash_refresh_token(refresh), family_id=family_id,
        expires_at=datetime.now(UTC) + timedelta(days=settings.refresh_token_days),
    ))
    return TokenOut(access_token=access, refresh_token=refresh, expires_in=ttl,
                    user=UserOut.model_validate(user))


INVALID_LOGIN = "Email or password is incorrect."
SUSPENDED = "This dealership is suspended; ask your administrator."


@endpoint("POST", "/auth/login", summary="Sign in with email and password", tag=TAG, body=LoginIn,
          response=TokenOut, auth=False, errors=(401, 429))
async def login(ctx: Ctx, body: LoginIn) -> TokenOut:
    # Admission first: during a flood the refusal costs no limiter call, no query, no hash.
    async with ctx.state.logins.admit(ctx.client_ip):
        await ctx.state.limits.check("login", f"{body.email}|{ctx.client_ip}")
        await ctx.state.limits.check_failures("login_address", ctx.client_ip)
        return await _login(ctx, body)


async def _login(ctx: Ctx, body: LoginIn) -> TokenOut:
    row = (await ctx.db.execute(
        select(User, Dealership.active).outerjoin(Dealership, Dealership.id == User.dealership_id)
        .where(func.lower(User.email) == body.email, User.deleted_at.is_(None))
    )).one_or_none()
    user, dealership_active = (row[0], row[1]) if row is not None else (None, None)
    ok = await verify_password(body.password, user.password_hash if user else None,
                               rounds=ctx.state.settings.bcrypt_rounds)
    suspended = user is not None and user.dealership_id is not None and dealership_active is False
    if user is None or not ok or not user.active or suspended:
        reason = "bad_credentials" if user is None or not ok else "inactive" if not user.active else "suspended"
        audit.record(ctx.db, AuditAction.login_failed, subject_id=user.id if user else None,
                     dealership_id=user.dealership_id if user else None, ip=ctx.client_ip,
                     email=body.email, reason=reason)
        await ctx.db.commit()
        # Failures per address bound a flood of random emails, which the per-email limit never
        # meets; an office behind one address signing in successfully is not held back.
        await ctx.state.limits.fail("login_address", ctx.client_ip)
        if reason == "suspended":
            # Said only to whoever knows the password: it confirms nothing to a guesser.
            raise Unauthorized(SUSPENDED, code="dealership_suspended")
        raise Unauthorized(INVALID_LOGIN, code="invalid_credentials")
    user.last_login_at = datetime.now(UTC)
    audit.record(ctx.db, AuditAction.login_ok, actor_id=user.id, subject_id=user.id,
                 dealership_id=user.dealership_id, ip=ctx.client_ip)
    return await _issue(ctx, user)


@endpoint("POST", "/auth/refresh", summary="Exchange a refresh token for new tokens (rotation)", tag=TAG,
          body=RefreshIn, response=TokenOut, auth=False, errors=(401,))
async def refresh(ctx: Ctx, body: RefreshIn) -> TokenOut:
    now = datetime.now(UTC)
    token = (await ctx.db.execute(
        select(RefreshToken).where(RefreshToken.token_hash == hash_refresh_token(body.refresh_token))
        .with_for_update()
    )).scalar_one_or_none()
    if token is None:
        raise Unauthorized("The refresh token is not valid.", code="invalid_refresh_token")
    if token.rotated_at is not None and token.revoked_at is None:
        # A rotated token presented again means two parties hold this family: revoke it all.
        await _revoke_family(ctx, token.family_id, now)
        ctx.after_commit(partial(ctx.state.authenticator.invalidate_family, token.family_id))
        user = await ctx.db.get(User, token.user_id)
        audit.record(ctx.db, AuditAction.refresh_reuse, subject_id=token.user_id,
                     dealership_id=user.dealership_id if user else None, ip=ctx.client_ip,
                     family_id=str(token.family_id))
        await ctx.db.commit()
        raise Unauthorized("This refresh token was already used; sign in again.", code="refresh_token_reused")
    if token.revoked_at is not None or token.expires_at <= now:
        raise Unauthorized("The refresh token has expired or was revoked.", code="invalid_refresh_token")
    user = await ctx.db.get(User, token.user_id)
    if user is None or not user.active or user.deleted_at is not None:
        raise Unauthorized("This account is not active.", code="account_inactive")
    if user.dealership_id is not None and not await ctx.db.scalar(
            select(Dealership.active).where(Dealership.id == user.dealership_id)):
        raise Unauthorized(SUSPENDED, code="dealership_suspended")
    token.rotated_at = now
    return await _issue(ctx, user, family_id=token.family_id)


async def _revoke_family(ctx: Ctx, family_id: uuid.UUID, now: datetime) -> None:
    await ctx.db.execute(
        update(RefreshToken).where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


@endpoint("POST", "/auth/logout", summary="Sign out: revoke a refresh token's family and its access tokens",
          tag=TAG, body=RefreshIn, status=204, auth=False)
async def logout(ctx: Ctx, body: RefreshIn) -> None:
    token = (await ctx.db.execute(
        select(RefreshToken).where(RefreshToken.token_hash == hash_refresh_token(body.refresh_token))
    )).scalar_one_or_none()
    # Unknown tokens also answer 204: logout is idempotent and confirms nothing.
    if token is not None:
        # Every access token issued in this sign-in carries the family (`fam`): revoking the
        # family revokes them too, here at once and on other instances within the cache TTL.
        await _revoke_family(ctx, token.family_id, datetime.now(UTC))
        ctx.after_commit(partial(ctx.state.authenticator.invalidate_family, token.family_id))
        audit.record(ctx.db, AuditAction.logout, actor_id=token.user_id, subject_id=token.user_id,
                     ip=ctx.client_ip)


@endpoint("GET", "/auth/me", summary="The signed-in account", tag=TAG, response=UserOut)
async def me(ctx: Ctx) -> UserOut:
    p = ctx.principal
    return UserOut(id=p.user_id, email=p.email, name=p.name, role=p.role, dealership_id=p.dealership_id)


@endpoint("POST", "/auth/password", summary="Change your password (signs out every other session)",
          tag=TAG, body=PasswordIn, response=TokenOut, errors=(401, 422, 429))
async def change_password(ctx: Ctx, body: PasswordIn) -> TokenOut:
    check_password_bytes(body.new_password)
    user = await ctx.db.get(User, ctx.principal.user_id, with_for_update=True)
    if user is None:
        raise Unauthorized()
    if not await password_matches(ctx.state.logins, ctx.state.limits, user, body.current_password,
                                  address=ctx.client_ip, rounds=ctx.state.settings.bcrypt_rounds):
        raise Unauthorized("The current password is incorrect.", code="invalid_credentials")
    user.password_hash = await hash_password(body.new_password, ctx.state.settings.bcrypt_rounds)
    user.token_version += 1
    await revoke_all_refresh_tokens(ctx.db, user.id)
    await void_tokens(ctx.db, user.id)  # a reset link sent before must not undo this change
    audit.record(ctx.db, AuditAction.password_change, actor_id=user.id, subject_id=user.id,
                 dealership_id=user.dealership_id, ip=ctx.client_ip)
    ctx.after_commit(partial(ctx.state.authenticator.invalidate, user.id))
    return await _issue(ctx, user)


ENDPOINTS = [login, refresh, logout, me, change_password]
