"""Access tokens (HS256 JWT) and opaque refresh tokens (stored only as SHA-256)."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass

import jwt

from server.errors import Unauthorized

ALGORITHM = "HS256"


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: uuid.UUID
    role: str
    dealership_id: uuid.UUID | None
    token_version: int
    jti: str
    expires_at: int
    # The refresh-token family issued with this token: logging out (or a detected reuse) revokes
    # the family, and with it every access token issued in that sign-in. None in older tokens.
    family_id: uuid.UUID | None = None


def issue_access_token(
    *, secret: str, user_id: uuid.UUID, role: str, dealership_id: uuid.UUID | None,
    token_version: int, ttl_seconds: int, family_id: uuid.UUID | None = None,
) -> tuple[str, int]:
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "role": role,
        "dealership_id": str(dealership_id) if dealership_id else None,
        "ver": token_version,
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if family_id is not None:
        claims["fam"] = str(family_id)
    return jwt.encode(claims, secret, algorithm=ALGORITHM), ttl_seconds


def decode_access_token(token: str, *, secret: str) -> AccessClaims:
    try:
        # `algorithms` pins HS256: tokens signed with "none" or any other algorithm are refused.
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM],
                            options={"require": ["sub", "exp", "jti", "role"]})
        dealership = claims.get("dealership_id")
        family = claims.get("fam")
        return AccessClaims(
            user_id=uuid.UUID(claims["sub"]),
            role=str(claims["role"]),
            dealership_id=uuid.UUID(dealership) if dealership else None,
            token_version=int(claims.get("ver", 0)),
            jti=str(claims["jti"]),
            expires_at=int(claims["exp"]),
            family_id=uuid.UUID(family) if family else None,
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("The access token has expired.", code="token_expired") from None
    except (jwt.InvalidTokenError, ValueError, TypeError, KeyError):
        raise Unauthorized("The access token is not valid.", code="invalid_token") from None


def new_refresh_token() -> str:
    return secrets.token_urlsafe(48)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
