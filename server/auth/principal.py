"""Turning an access token into a `Principal`, with a short-lived cache of account state.

This is the one place a token's holder is judged still allowed in, for REST and for every
voice turn alike: the account is active and not deleted, its dealership is not suspended
(`dealership.active`), the token's version is current, and the sign-in it came from (its
refresh-token family) was not logged out. The cache keeps `/auth/me`-style requests off the
database; its TTL (at most 60 s) bounds how late such a change is noticed by another
instance. On the instance that made the change it is invalidated at once.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.auth.tokens import AccessClaims, decode_access_token
from server.db.models import Dealership, RefreshToken, Role, User
from server.errors import Unauthorized
from server.tenancy import Principal
from server.ttlcache import MISSING, TtlCache

VERIFIED_TOKENS_MAX = 50_000


@dataclass(frozen=True, slots=True)
class _Account:
    principal: Principal
    usable: bool
    token_version: int
    suspended: bool  # its dealership's `active` flag is off


class Authenticator:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], *, secret: str, ttl: float) -> None:
        self._sessionmaker = sessionmaker
        self._secret = secret
        self._cache: TtlCache[uuid.UUID, _Account | None] = TtlCache(ttl)
        # Refresh-token families (sign-ins) that were revoked: logout, reuse, password change.
        self._revoked: TtlCache[uuid.UUID, bool] = TtlCache(ttl)
        self._verified: dict[str, AccessClaims] = {}

    async def authenticate(self, token: str) -> Principal:
        return await self.check(self.claims(token))

    async def check(self, claims: AccessClaims) -> Principal:
        """The principal behind already verified claims, if its holder is still allowed in (expiry
        aside: an open voice socket re-checks its claims on every turn)."""
        account, revoked = await self._state(claims)
        if account is None or not account.usable:
            raise Unauthorized("This account is not active.", code="account_inactive")
        if account.suspended:
            raise Unauthorized("This dealership is suspended.", code="dealership_suspended")
        if account.token_version != claims.token_version or revoked:
            raise Unauthorized("This token has been revoked; sign in again.", code="token_revoked")
        return account.principal

    def claims(self, token: str) -> AccessClaims:
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

    def invalidate_family(self, family_id: uuid.UUID) -> None:
        self._revoked.invalidate(family_id)

    def clear(self) -> None:
        self._cache.clear()
        self._revoked.clear()

    async def _state(self, claims: AccessClaims) -> tuple[_Account | None, bool]:
        account = self._cache.get(claims.user_id)
        family = claims.family_id
        revoked = self._revoked.get(family) if family is not None else False
        if account is not MISSING and revoked is not MISSING:
            return account, revoked
        epochs = self._cache.epoch, self._revoked.epoch
        # Both are usually missing together (a token's first use): one session for both reads.
        async with self._sessionmaker() as session:
            if account is MISSING:
                row = (await session.execute(
                    select(User, Dealership.active).outerjoin(Dealership, Dealership.id == User.dealership_id)
                    .where(User.id == claims.user_id)
                )).one_or_none()
                account = None if row is None else account_of(row[0], dealership_active=row[1])
                self._cache.put(claims.user_id, account, epoch=epochs[0])
            if revoked is MISSING:
                assert family is not None
                revoked = bool(await session.scalar(select(exists().where(
                    RefreshToken.family_id == family, RefreshToken.revoked_at.is_not(None)))))
                self._revoked.put(family, revoked, epoch=epochs[1])
        return account, revoked


def account_of(user: User, *, dealership_active: bool | None) -> _Account:
    principal = Principal(
        user_id=user.id, role=Role(user.role), dealership_id=user.dealership_id,
        email=user.email, name=user.name,
    )
    return _Account(principal=principal, usable=user.active and user.deleted_at is None,
                    token_version=user.token_version,
                    suspended=user.dealership_id is not None and dealership_active is False)
