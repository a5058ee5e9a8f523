"""A real SMTP server on loopback (aiosmtpd), collecting what it accepts; `fail_next` answers
that many DATA commands with a transient 451 first, `permanent_next` with a 550."""

from __future__ import annotations

import email
import email.policy
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.conftest import free_port


@dataclass
class SmtpInbox:
    messages: list[EmailMessage] = field(default_factory=list)
    fail_next: int = 0
    permanent_next: int = 0
    attempts: int = 0
    attempt_times: list[float] = field(default_factory=list)  # time.monotonic() of each DATA
    host: str = "127.0.0.1"
    port: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # the name aiosmtpd calls
        with self._lock:
            self.attempts += 1
            self.attempt_times.append(time.monotonic())
            if self.permanent_next > 0:
                self.permanent_next -= 1
                return "550 5.1.1 mailbox unavailable"
            if self.fail_next > 0:
                self.fail_next -= 1
                return "451 4.3.0 try again later"
            parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            self.messages.append(parsed)
        return "250 OK"

    def by_message_id(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for message in self.messages:
            counts[str(message["Message-ID"])] = counts.get(str(message["Message-ID"]), 0) + 1
        return counts

    @staticmethod
    def text_of(message: EmailMessage) -> str:
        part = message.get_body(preferencelist=("plain",))
        assert part is not None
        return str(part.get_content())  # type: ignore[attr-defined]

    @staticmethod
    def html_of(message: EmailMessage) -> str:
        part = message.get_body(preferencelist=("html",))
        assert part is not None
        return str(part.get_content())  # type: ignore[attr-defined]


@contextmanager
def smtp_server() -> Iterator[SmtpInbox]:
    inbox = SmtpInbox(port=free_port())
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()
