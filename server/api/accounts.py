"""/auth/invite and /auth/password-reset: the single-use links sent by email (server/auth/links.py)."""

from __future__ import annotations

from functools import partial

from pydantic import Field
from sqlalchemy import func, select

from server import audit
from server.accounts import check_password_bytes, revoke_all_refresh_tokens
from server.api.auth import SUSPENDED, TokenOut, _issue
from server.api.endpoint import Ctx, endpoint
from server.api.schemas import Email, Input, Output, Password
from server.auth import links
from server.auth.passwords import hash_password
from server.db.models import AccountTokenPurpose, AuditAction, Dealership, User
from server.errors import Unauthorized
from server.state import AppState

TAG = "auth"


class LinkIn(Input):
    token: str = Field(min_length=16, max_length=256, description="the `token` query parameter of the emailed link")
    password: Password


class ResetRequestIn(Input):
    email: Email


class Accepted(Output):
    message: str


RESET_ACCEPTED = "If an account uses this email, a link to reset its password is on its way."


@endpoint("POST", "/auth/invite/accept", summary="Accept an invite: set your password and sign in", tag=TAG,
          body=LinkIn, response=TokenOut, auth=False, errors=(400, 401, 422))
async def accept_invite(ctx: Ctx, body: LinkIn) -> TokenOut:
    return await _set_password(ctx, body, AccountTokenPurpose.invite, AuditAction.invite_accepted)


@endpoint("POST", "/auth/password-reset", summary="Email a password-reset link (always 202)", tag=TAG,
          body=ResetRequestIn, response=Accepted, status=202, auth=False, errors=(422, 429))
async def request_reset(ctx: Ctx, body: ResetRequestIn) -> Accepted:
    # Limits first and for every email, known or not: a 429 says nothing about an account.
    await ctx.state.limits.check("password_reset_address", ctx.client_ip)
    await ctx.state.limits.check("password_reset", body.email)
    # The answer goes before the account is even looked up: a known account's token and email
    # (two inserts, a template) took ~10 ms more than an unknown one's nothing, measurably
    # (tests/bench/password_reset_timing.py). Both paths are this one until here.
    ctx.state.tasks.spawn("password-reset", _send_reset(ctx.state, body.email, ctx.client_ip))
    return Accepted(message=RESET_ACCEPTED)


async def _send_reset(state: AppState, email: str, ip: str) -> None:
    """The reset link's token and its email, in one transaction (or neither). No password
    hashing; nothing for an unknown, deleted or deactivated account, or a suspended dealership."""
    async with state.sessionmaker() as db, db.begin():
        row = (await db.execute(
            select(User, Dealership.active).outerjoin(Dealership, Dealership.id == User.dealership_id)
            .where(func.lower(User.email) == email, User.deleted_at.is_(None))
        )).one_or_none()
        user = row[0] if row is not None and row[0].active and row[1] is not False else None
        audit.record(db, AuditAction.password_reset_requested, subject_id=user.id if user else None,
                     dealership_id=user.dealership_id if user else None, ip=ip, known=user is not None)
        if user is not None:
            await links.send_link(db, state.mail, state.settings, user, AccountTokenPurpose.password_reset)


@endpoint("POST", "/auth/password-reset/confirm", summary="Set a new password from a reset link (signs out "
          "everywhere else)", tag=TAG, body=LinkIn, response=TokenOut, auth=False, errors=(400, 401, 422))
async def confirm_reset(ctx: Ctx, body: LinkIn) -> TokenOut:
    return await _set_password(ctx, body, AccountTokenPurpose.password_reset, AuditAction.password_reset)


async def _set_password(ctx: Ctx, body: LinkIn, purpose: AccountTokenPurpose, action: AuditAction) -> TokenOut:
    check_password_bytes(body.password)
    user = await links.redeem(ctx.db, body.token, purpose)
    if user.dealership_id is not None and not await ctx.db.scalar(
            select(Dealership.active).where(Dealership.id == user.dealership_id)):
        raise Unauthorized(SUSPENDED, code="dealership_suspended")  # rolled back: the link still works later
    user.password_hash = await hash_password(body.password, ctx.state.settings.bcrypt_rounds)
    # Every earlier sign-in ends (access tokens by version, refresh tokens revoked), and every
    # other link of this account stops working.
    user.token_version += 1
    await revoke_all_refresh_tokens(ctx.db, user.id)
    await links.void_tokens(ctx.db, user.id)
    audit.record(ctx.db, action, actor_id=user.id, subject_id=user.id, dealership_id=user.dealership_id,
                 ip=ctx.client_ip)
    ctx.after_commit(partial(ctx.state.authenticator.invalidate, user.id))
    return await _issue(ctx, user)


ENDPOINTS = [accept_invite, request_reset, confirm_reset]
