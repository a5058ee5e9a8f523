"""Proving the password again before a change that would hand the account to whoever holds the
token: one's own password or email. A stolen access token alone must not become a takeover.

The check is a password check like a login's: the same admission (per client address and in
total) and the same per-email-and-address throttle, so a token cannot be used to guess the
password at hashing speed.
"""

from __future__ import annotations

from server.auth.admission import LoginAdmission
from server.auth.passwords import verify_password
from server.db.models import User
from server.ratelimit import RateLimits


async def password_matches(logins: LoginAdmission, limits: RateLimits, user: User, password: str, *,
                           address: str, rounds: int) -> bool:
    async with logins.admit(address):
        await limits.check("login", f"{user.email.lower()}|{address}")
        await limits.check_failures("login_address", address)
        if await verify_password(password, user.password_hash, rounds=rounds):
            return True
        await limits.fail("login_address", address)
        return False
