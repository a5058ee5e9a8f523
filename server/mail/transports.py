"""Where emails go: SMTP (aiosmtplib) or the Mailgun HTTP API (httpx).

A transport either accepts an email (returning the id it gave it) or raises `TransportError`,
which says whether trying again may help. Neither logs bodies, links or credentials.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate
from typing import Protocol

import aiosmtplib
import httpx

from server.mail.models import OutboxMessage
from server.settings import Settings


class TransportError(Exception):
    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent  # refused for good (a bad address): no more attempts


class Transport(Protocol):
    name: str

    async def send(self, message: OutboxMessage) -> str:
        """Deliver to the provider; the provider's id for it once accepted."""

    async def close(self) -> None: ...


class SmtpTransport:
    name = "smtp"

    def __init__(self, settings: Settings) -> None:
        assert settings.smtp_host
        self._settings = settings
        self._host = settings.smtp_host

    def _message(self, message: OutboxMessage) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self._settings.mail_from
        email["To"] = message.to
        email["Subject"] = message.subject
        email["Message-ID"] = message.message_id
        email["Date"] = formatdate(usegmt=True)
        email.set_content(message.text)
        email.add_alternative(message.html, subtype="html")
        return email

    async def send(self, message: OutboxMessage) -> str:
        s = self._settings
        implicit_tls = s.smtp_port == 465  # SMTPS; elsewhere STARTTLS when SMTP_STARTTLS (required then)
        try:
            await aiosmtplib.send(
                self._message(message), hostname=self._host, port=s.smtp_port,
                username=s.smtp_username or None, password=s.smtp_password or None,
                use_tls=implicit_tls, start_tls=False if implicit_tls else s.smtp_starttls,
                timeout=s.smtp_timeout_seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise TransportError(f"recipient refused ({_codes(exc)})", permanent=True) from None
        except aiosmtplib.SMTPAuthenticationError as exc:
            # The server's configuration, not the email: retrying after it is fixed may work.
            raise TransportError(f"SMTP authentication failed ({exc.code})") from None
        except aiosmtplib.SMTPResponseException as exc:
            raise TransportError(f"SMTP {exc.code}", permanent=500 <= exc.code < 600) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise TransportError(f"SMTP {type(exc).__name__}") from None
        return message.message_id

    async def close(self) -> None:
        return None


def _codes(exc: aiosmtplib.SMTPRecipientsRefused) -> str:
    return ", ".join(str(getattr(r, "code", "?")) for r in exc.recipients)


class MailgunTransport:
    """POST {MAILGUN_BASE_URL}/v3/{domain}/messages, basic auth `api:KEY`, form fields."""

    name = "mailgun"

    def __init__(self, settings: Settings) -> None:
        assert settings.mailgun_api_key and settings.mailgun_domain
        self._settings = settings
        self._url = f"{settings.mailgun_base_url.rstrip('/')}/v3/{settings.mailgun_domain}/messages"
        self._client = httpx.AsyncClient(auth=("api", settings.mailgun_api_key),
                                         timeout=httpx.Timeout(30.0, connect=10.0))

    async def send(self, message: OutboxMessage) -> str:
        form = {
            "from": self._settings.mail_from, "to": message.to, "subject": message.subject,
            "text": message.text, "html": message.html,
            "h:Message-Id": message.message_id, "o:tag": message.template,
            "v:outbox_id": str(message.id),
        }
        try:
            response = await self._client.post(self._url, data=form)
        except httpx.HTTPError as exc:
            raise TransportError(f"Mailgun {type(exc).__name__}") from None
        if response.status_code == 200:
            try:
                return str(response.json().get("id") or message.message_id)
            except ValueError:
                return message.message_id
        # 400: the email itself is refused; 401/403: the key (fixable: keep trying); 429 and
        # 5xx: try again later.
        raise TransportError(f"Mailgun HTTP {response.status_code}", permanent=response.status_code == 400)

    async def close(self) -> None:
        await self._client.aclose()


def transport_for(settings: Settings) -> Transport | None:
    if settings.mail_transport == "smtp":
        return SmtpTransport(settings)
    if settings.mail_transport == "mailgun":
        return MailgunTransport(settings)
    return None
