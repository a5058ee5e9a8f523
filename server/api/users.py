"""/users: staff accounts. Admins manage their dealership's; users read and rename themselves."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Annotated

from pydantic import Field, StringConstraints

from server import audit
from server.accounts import check_password_bytes, create_user, email_taken, revoke_all_refresh_tokens
from server.api.endpoint import Ctx, endpoint
from server.api.schemas import Email, Input, Output, PageQuery, Password, UserDetail
from server.auth import links
from server.auth.passwords import hash_password
from server.auth.reauth import password_matches
from server.db.models import AccountTokenPurpose, AuditAction, Dealership, Role, User
from server.errors import Conflict, Forbidden, ValidationFailed

TAG = "users"
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ADMINS = [Role.super_admin, Role.dealership_admin]


class UserIn(Input):
    email: Email
    password: Password | None = Field(
        default=None, description="omit it to email an invite: the user chooses a password from the link")
    name: Name
    role: Role = Role.user
    dealership_id: uuid.UUID | None = None


class UserPatch(Input):
    name: Name | None = None
    email: Email | None = None
    role: Role | None = None
    active: bool | None = None
    password: Password | None = None
    dealership_id: uuid.UUID | None = None
    current_password: str | None = Field(
        default=None, min_length=1, max_length=1024,
        description="your current password: required to change your own email or password")


class UserQuery(PageQuery):
    role: Role | None = None
    active: bool | None = None
    dealership_id: uuid.UUID | None = None
    q: str | None = Field(default=None, max_length=200, description="matches email or name")


class UserCreated(UserDetail):
    """`invite_expires_at` is set when an invite was sent (no password given)."""


class InviteOut(Output):
    invite_expires_at: datetime


class UserList(Output):
    items: list[UserDetail]
    total: int


@endpoint("POST", "/users", summary="Create a user: with no password, email them an invite", tag=TAG,
          body=UserIn, response=UserCreated, status=201, roles=ADMINS, errors=(403, 404, 409))
async def create(ctx: Ctx, body: UserIn) -> UserCreated:
    me = ctx.principal
    if body.role is Role.super_admin and not me.is_super_admin:
        raise Forbidden("Only a super admin can create a super admin.")
    dealership_id = None
    if body.role is not Role.super_admin:
        # Dealership admins always create in their own dealership, whatever they send.
        dealership_id = (await ctx.scope.dealership(body.dealership_id)).id
    user = await create_user(ctx.db, email=body.email, password=body.password, name=body.name,
                             role=body.role, dealership_id=dealership_id,
                             bcrypt_rounds=ctx.state.settings.bcrypt_rounds)
    audit.record(ctx.db, AuditAction.user_created, actor_id=me.user_id, subject_id=user.id,
                 dealership_id=dealership_id, ip=ctx.client_ip, role=body.role.value)
    expires = None
    if body.password is None:
        expires = await _invite(ctx, user)
    await ctx.db.refresh(user)
    return UserCreated.model_validate({**UserDetail.model_validate(user).model_dump(), "invite_expires_at": expires})


@endpoint("POST", "/users/{user_id:uuid}/invite", summary="Email a user a new invite (earlier links stop working)",
          tag=TAG, response=InviteOut, status=202, roles=ADMINS, resource=User, errors=(403, 404))
async def resend_invite(ctx: Ctx, user_id: uuid.UUID) -> InviteOut:
    user = await ctx.scope.get(User, user_id, for_update=True)
    if not user.active:
        raise Conflict("This account is deactivated; reactivate it first.", code="inactive")
    return InviteOut(invite_expires_at=await _invite(ctx, user))


async def _invite(ctx: Ctx, user: User) -> datetime:
    token, _ = await links.send_link(ctx.db, ctx.state.mail, ctx.state.settings, user, AccountTokenPurpose.invite,
                                     inviter=ctx.principal.name or None)
    audit.record(ctx.db, AuditAction.invite_sent, actor_id=ctx.principal.user_id, subject_id=user.id,
                 dealership_id=user.dealership_id, ip=ctx.client_ip)
    return token.expires_at


@endpoint("GET", "/users", summary="List the users you can see", tag=TAG, query=UserQuery,
          response=UserList)
async def list_users(ctx: Ctx, query: UserQuery) -> UserList:
    criteria = []
    if query.role is not None:
        criteria.append(User.role == query.role)
    if query.active is not None:
        criteria.append(User.active.is_(query.active))
    if query.dealership_id is not None:
        criteria.append(User.dealership_id == query.dealership_id)
    if query.q:
        pattern = "%" + query.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        criteria.append(User.email.ilike(pattern) | User.name.ilike(pattern))
    rows, total = await ctx.scope.list(User, *criteria, order_by=User.created_at, limit=query.limit,
                                       offset=query.offset)
    return UserList(items=await _details(ctx, rows), total=total)


@endpoint("GET", "/users/{user_id:uuid}", summary="Get a user", tag=TAG, response=UserDetail, errors=(404,))
async def get_user(ctx: Ctx, user_id: uuid.UUID) -> UserDetail:
    [detail] = await _details(ctx, [await ctx.scope.get(User, user_id)])
    return detail


async def _details(ctx: Ctx, users: Sequence[User]) -> list[UserDetail]:
    """Users as the API shows them, each with the expiry of an invite still waiting to be accepted."""
    invites = await links.pending_invites(ctx.db, [user.id for user in users])
    return [UserDetail.model_validate(user).model_copy(update={"invite_expires_at": invites.get(user.id)})
            for user in users]


@endpoint("PATCH", "/users/{user_id:uuid}", summary="Update a user", tag=TAG, body=UserPatch,
          response=UserDetail, errors=(403, 404, 409, 422, 429))
async def update_user(ctx: Ctx, user_id: uuid.UUID, body: UserPatch) -> UserDetail:
    me = ctx.principal
    user = await ctx.scope.get(User, user_id, for_update=True)
    changes = body.model_dump(exclude_unset=True)
    changes.pop("current_password", None)
    if not me.is_admin and set(changes) - {"name"}:
        raise Forbidden("You can change only your own name.")
    if "dealership_id" in changes and not me.is_super_admin:
        raise Forbidden("Only a super admin can move a user to another dealership.")
    if body.role is Role.super_admin and not me.is_super_admin:
        raise Forbidden("Only a super admin can grant the super admin role.")
    if user.id == me.user_id and (body.active is False or (body.role is not None and body.role != user.role)):
        raise Conflict("You cannot deactivate yourself or change your own role.", code="self_change")
    if user.id == me.user_id and (body.password is not None
                                  or (body.email is not None and body.email != user.email.lower())):
        await _confirm_own_password(ctx, user, body.current_password)

    if body.name is not None:
        user.name = body.name
    if body.email is not None and body.email != user.email:
        if await email_taken(ctx.db, body.email, except_id=user.id):
            raise Conflict("An account with this email already exists.", code="email_taken")
        user.email = body.email
    revoke = False
    if body.role is not None and body.role != user.role:
        audit.record(ctx.db, AuditAction.role_change, actor_id=me.user_id, subject_id=user.id,
                     dealership_id=user.dealership_id, ip=ctx.client_ip, old=user.role.value, new=body.role.value)
        user.role = body.role
        revoke = True
    if "dealership_id" in changes:
        if body.dealership_id is not None:
            await ctx.scope.get(Dealership, body.dealership_id)
        user.dealership_id = body.dealership_id
        revoke = True
    if user.role is Role.super_admin:
        user.dealership_id = None
    elif user.dealership_id is None:
        raise ValidationFailed(details=[{"field": "dealership_id", "message": "required for this role"}])
    if body.active is not None and body.active != user.active:
        action = AuditAction.reactivation if body.active else AuditAction.deactivation
        audit.record(ctx.db, action, actor_id=me.user_id, subject_id=user.id,
                     dealership_id=user.dealership_id, ip=ctx.client_ip)
        user.active = body.active
        revoke = revoke or not body.active
    if body.password is not None:
        check_password_bytes(body.password)
        user.password_hash = await hash_password(body.password, ctx.state.settings.bcrypt_rounds)
        audit.record(ctx.db, AuditAction.password_change, actor_id=me.user_id, subject_id=user.id,
                     dealership_id=user.dealership_id, ip=ctx.client_ip)
        await links.void_tokens(ctx.db, user.id)  # an emailed invite or reset link must not undo it
        revoke = True
    if revoke:
        # Every existing token of this account stops working (access tokens via the version).
        user.token_version += 1
        await revoke_all_refresh_tokens(ctx.db, user.id)
    ctx.after_commit(partial(ctx.state.authenticator.invalidate, user.id))
    await ctx.db.flush()
    await ctx.db.refresh(user)
    [detail] = await _details(ctx, [user])
    return detail


async def _confirm_own_password(ctx: Ctx, user: User, current_password: str | None) -> None:
    """Whoever changes their own sign-in (email or password) proves the password first, as on
    /auth/password: a stolen access token must not become a permanent takeover. An admin setting
    another user's password needs no such proof (the change signs that user out everywhere and is
    audited); the web app offers an invite (`POST /users/{id}/invite`) instead."""
    if current_password is None:
        raise ValidationFailed(details=[{"field": "current_password", "location": "body",
                                         "message": "required to change your own email or password"}])
    settings = ctx.state.settings
    if not await password_matches(ctx.state.logins, ctx.state.limits, user, current_password,
                                  address=ctx.client_ip, rounds=settings.bcrypt_rounds):
        # 403, not 401: the access token is fine, and a client that signs out on 401 should not.
        raise Forbidden("The current password is incorrect.", code="invalid_credentials")


@endpoint("DELETE", "/users/{user_id:uuid}", summary="Delete a user", tag=TAG, status=204, roles=ADMINS,
          resource=User, errors=(403, 404, 409))
async def delete_user(ctx: Ctx, user_id: uuid.UUID) -> None:
    user = await ctx.scope.get(User, user_id, for_update=True)
    if user.id == ctx.principal.user_id:
        raise Conflict("You cannot delete your own account.", code="self_change")
    user.deleted_at = datetime.now(UTC)
    user.active = False
    user.token_version += 1
    await revoke_all_refresh_tokens(ctx.db, user.id)
    audit.record(ctx.db, AuditAction.user_deleted, actor_id=ctx.principal.user_id, subject_id=user.id,
                 dealership_id=user.dealership_id, ip=ctx.client_ip)
    ctx.after_commit(partial(ctx.state.authenticator.invalidate, user.id))


ENDPOINTS = [create, list_users, get_user, update_user, delete_user, resend_invite]
