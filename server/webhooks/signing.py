"""Standard Webhooks signatures (https://www.standardwebhooks.com), by the convention's own
library: `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">` with the endpoint's
secret, which is `whsec_` + base64 of random bytes."""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the convention asks for 24 to 64


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def headers(secret: str, event_id: str, body: bytes, now: datetime | None = None) -> dict[str, str]:
    """The three headers for one attempt: the timestamp is the attempt's, so a retry is signed afresh."""
    at = (now or datetime.now(UTC)).replace(microsecond=0)
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(event_id, at, body),
    }
