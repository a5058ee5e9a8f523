"""What every voice turn passes before it reaches the model, like a REST request: the account
behind the socket is still allowed in (the authenticator's check, cached as for REST: not
deactivated, deleted, signed out, revoked, nor its dealership suspended), and the turn counts
against the user's one conversation limit, shared with REST `/chat` (`RATE_LIMIT_CHAT`).

Token expiry is not re-checked: a voice session may outlast its access token (up to
VOICE_MAX_SESSION_S); everything that revokes access is.
"""

from __future__ import annotations

from server.auth.principal import Authenticator
from server.auth.tokens import AccessClaims
from server.errors import Unauthorized
from server.ratelimit import RateLimits
from server.tenancy import Principal
from server.voice.protocol import EndReason

_END_REASONS = {
    "dealership_suspended": EndReason.suspended,
    "account_inactive": EndReason.account_inactive,
}


class AccessRevoked(Exception):
    """The socket's principal is no longer valid: the session ends with `reason`."""

    def __init__(self, reason: EndReason) -> None:
        self.reason = reason
        super().__init__(reason.value)


class TurnGuard:
    def __init__(self, authenticator: Authenticator, limits: RateLimits) -> None:
        self._authenticator = authenticator
        self._limits = limits
        self._claims: AccessClaims | None = None

    async def authenticate(self, token: str) -> Principal:
        """The socket's `auth` message: raises `Unauthorized` like any request."""
        claims = self._authenticator.claims(token)
        principal = await self._authenticator.check(claims)
        self._claims = claims
        return principal

    async def admit_turn(self) -> None:
        """Raises `AccessRevoked`, or `RateLimited` (the session carries on)."""
        assert self._claims is not None
        try:
            principal = await self._authenticator.check(self._claims)
        except Unauthorized as exc:
            raise AccessRevoked(_END_REASONS.get(exc.code, EndReason.token_revoked)) from None
        await self._limits.count_turn(principal.user_id)
