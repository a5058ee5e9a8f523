"""The development signing key: with no real `JWT_SECRET` in development, a random one is made
once and kept in `DATA_DIR/jwt_secret` (mode 0600), so tokens survive restarts and PyJWT never
signs with a short placeholder (it warns below 32 bytes, and such a key is guessable)."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from server.settings import PLACEHOLDER_SECRETS, Settings

FILENAME = "jwt_secret"


def with_development_secret(settings: Settings) -> Settings:
    """`settings` unchanged, unless it runs in development on a placeholder secret."""
    if settings.environment != "development" or settings.jwt_secret.strip().lower() not in PLACEHOLDER_SECRETS:
        return settings
    return settings.model_copy(update={"jwt_secret": development_secret(Path(settings.data_dir))})


def development_secret(data_dir: Path) -> str:
    path = data_dir / FILENAME
    with contextlib.suppress(FileNotFoundError):
        if secret := path.read_text().strip():
            return secret
    data_dir.mkdir(parents=True, exist_ok=True)
    # Written aside, then linked into place: link fails if another process (a second worker)
    # got there first, and nobody ever reads a half-written file.
    draft = data_dir / f".{FILENAME}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48) + "\n")
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
    finally:
        draft.unlink(missing_ok=True)
    return path.read_text().strip()
