"""Turning an access token into a `Principal`, with a short-lived cache of account state.

The cache keeps `/auth/me`-style requests off the database; its TTL (at most 60 s) bounds how
late a deactivation, deletion or password change is noticed by another instance. On the
instance that made the change it is invalidated at once.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.auth.tokens import AccessClaims, decode_access_token
from server.db.models import Role, User
from server.errors import Unauthorized
from server.tenancy import Principal
from server.ttlcache import MISSING, TtlCache

VERIFIED_TOKENS_MAX = 50_000


@dataclass(frozen=True, slots=True)
class _Account:
    principal: Principal
    usable: bool
    token_version: int


class Authenticator:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], *, secret: str, ttl: float) -> None:
        self._sessionmaker = sessionmaker
        self._secret = secret
        self._cache: TtlCache[uuid.UUID, _Account | None] = TtlCache(ttl)
        self._verified: dict[str, AccessClaims] = {}

    async def authenticate(self, token: str) -> Principal:
        claims = self._claims(token)
        account = await self._account(claims.user_id)
        if account is None or not account.usable:
            raise Unauthorized("This account is not active.", code="account_inactive")
        if account.token_version != claims.token_version:
            raise Unauthorized("This token has been revoked; sign in again.", code="token_revoked")
        return account.principal

    def _claims(self, token: str) -> AccessClaims:
        # A client sends the same access token for up to 30 minutes; verifying its signature once
        # and remembering the result (keyed by the whole token, signature included, so any
        # altered token is verified afresh) takes JWT parsing off the hot path. Expiry is still
        # checked on every use.
        claims = self._verified.get(token)
        if claims is not None and claims.expires_at > time.time():
            return claims
        claims = decode_access_token(token, secret=self._secret)
        if len(self._verified) >= VERIFIED_TOKENS_MAX:
            self._verified.clear()
        self._verified[token] = claims
        return claims

    def invalidate(self, user_id: uuid.UUID) -> None:
        self._cache.invalidate(user_id)

    def clear(self) -> None:
        self._cache.clear()

    async def _account(self, user_id: uuid.UUID) -> _Account | None:
        hit = self._cache.get(user_id)
        if hit is not MISSING:
            return hit
        epoch = self._cache.epoch
        async with self._sessionmaker() as session:
            user = (await session.execute(select(User).where(User.id == user_id))).scalar_one_or_none()
        account = None if user is None else account_of(user)
        self._cache.put(user_id, account, epoch=epoch)
        return account


def account_of(user: User) -> _Account:
    principal = Principal(
        user_id=user.id, role=Role(user.role), dealership_id=user.dealership_id,
        email=user.email, name=user.name,
    )
    return _Account(principal=principal, usable=user.active and user.deleted_at is None,
                    token_version=user.token_version)
