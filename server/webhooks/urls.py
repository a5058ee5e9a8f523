"""Where a webhook may go: no server-side request forgery into the dealership's or our network.

A URL must be https outside development, carry no credentials, and every address its host
resolves to must be public: loopback, private, link-local (cloud metadata at 169.254.169.254),
shared (100.64/10), multicast, reserved and unspecified addresses are refused, IPv4-mapped IPv6
included, unless WEBHOOKS_ALLOW_PRIVATE_URLS. It is checked when an endpoint is registered and
again before every attempt, and the attempt connects to the address that was checked (`pinned`),
never to a second lookup's answer, so a name that answers differently the next time (DNS
rebinding) cannot move a delivery inside.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from contextvars import ContextVar
from urllib.parse import urlsplit

from server.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# host -> the checked address for the request being sent (read by `sender.PinnedBackend`).
pinned: ContextVar[dict[str, str] | None] = ContextVar("webhook_pinned_addresses", default=None)


class UrlRefused(Exception):
    """This URL may not receive webhooks; the message says why (safe to show to the admin)."""


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def check_form(url: str, settings: Settings) -> tuple[str, int]:
    """The URL's host and port, if its form is acceptable (scheme, no credentials, a host)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UrlRefused("This is not a valid URL.") from None
    allowed = ("https", "http") if settings.environment == "development" else ("https",)
    if parts.scheme not in allowed:
        raise UrlRefused("Webhook URLs must use https." if parts.scheme == "http"
                         else "Webhook URLs must start with https://.")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("Webhook URLs must not contain a user name or password.")
    if not parts.hostname:
        raise UrlRefused("The URL has no host.")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


async def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UrlRefused(f"The host {host!r} could not be resolved.") from None
    # An IPv6 answer may carry a zone ("fe80::1%eth0"): the address is what precedes it.
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


async def checked_address(url: str, settings: Settings) -> tuple[str, str]:
    """(host, the address to connect to): every address the host resolves to must be allowed,
    so a name with one public and one private answer is refused as a whole."""
    host, port = check_form(url, settings)
    addresses = await resolve(host, port)
    if not addresses:
        raise UrlRefused(f"The host {host!r} could not be resolved.")
    if not settings.webhooks_allow_private_urls:
        for address in addresses:
            if not is_public(address):
                raise UrlRefused(f"{host} resolves to {address}, a loopback, private or link-local "
                                 "address; webhooks go to public addresses only.")
    return host, str(addresses[0])
