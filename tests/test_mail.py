"""Email delivery: a real SMTP server on loopback (aiosmtpd), a fake Mailgun at the network
boundary, the sender's retries, its claim between two instances, and the outbox surviving a
server process killed mid-send."""

from __future__ import annotations

import asyncio
import re
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from starlette.applications import Starlette

from server.app import create_app
from server.db.models import Role
from server.mail import outbox, templates
from server.mail.models import OutboxMessage
from server.mail.sender import backoff_seconds
from server.settings import Settings
from server.state import AppState
from tests.conftest import World, make_settings, start_live_server, stop_live_server
from tests.fakes.mailgun_server import FakeMailgun
from tests.fakes.server import serve_in_thread
from tests.fakes.smtp_server import SmtpInbox, smtp_server

PUBLIC_URL = "https://app.example.com"


@pytest.fixture
def inbox() -> Iterator[SmtpInbox]:
    with smtp_server() as server:
        yield server


def smtp_settings(database_url: str, settings: Settings, inbox: SmtpInbox, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "rag_workers": 0, "jwt_secret": settings.jwt_secret, "public_url": PUBLIC_URL,
        "smtp_host": inbox.host, "smtp_port": inbox.port, "smtp_starttls": False,
        "mail_from": "Sparring <no-reply@example.com>", "mail_poll_seconds": 0.1,
        "mail_retry_base_seconds": 0.3,
    }
    values.update(overrides)
    return make_settings(database_url, **values)


@asynccontextmanager
async def mail_app(mail_settings: Settings) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    app = create_app(mail_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield app, client


async def until(check: Callable[[], Awaitable[bool]] | Callable[[], bool], within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        result = check()
        if result if isinstance(result, bool) else await result:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out waiting")


async def _rows(state: AppState) -> list[OutboxMessage]:
    async with state.sessionmaker() as db:
        return list((await db.execute(select(OutboxMessage).order_by(OutboxMessage.created_at))).scalars())


async def _all_sent(state: AppState) -> list[OutboxMessage]:
    """The rows, once the sender has recorded every acceptance (just after the server's 250)."""
    async def recorded() -> bool:
        return all(row.status == "sent" for row in await _rows(state))

    await until(recorded)
    return await _rows(state)


def test_templates_have_text_and_escaped_html_with_the_dealership() -> None:
    rendered = templates.render("invite", {"dealership": "Bob & <Sons>", "name": "Ann", "inviter": "Zed",
                                           "link": "https://x.example/invite?token=a&b", "expires": "soon"})
    assert "Bob & <Sons> invited you" in rendered.subject
    assert "Bob & <Sons>" in rendered.text and "https://x.example/invite?token=a&b" in rendered.text
    assert "Bob &amp; &lt;Sons&gt;" in rendered.html and "<Sons>" not in rendered.html
    assert 'href="https://x.example/invite?token=a&amp;b"' in rendered.html
    with pytest.raises(Exception, match="name"):
        templates.render("password_reset", {"dealership": "D", "link": "l", "expires": "e"})


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_seconds(n, 30) for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff_seconds(30, 30) == 3600


async def test_invite_and_reset_arrive_over_smtp_with_working_links(
        app: Starlette, database_url: str, settings: Settings, inbox: SmtpInbox) -> None:
    async with mail_app(smtp_settings(database_url, settings, inbox)) as (mapp, client):
        world = World(client, mapp.state.sparring)
        dealership = await world.dealership("Harbour Autos")
        admin = await world.account(Role.dealership_admin, dealership)
        email = f"invitee-{uuid.uuid4().hex[:6]}@example.com"
        created = await client.post("/api/v1/users", headers=admin.headers,
                                    json={"email": email, "name": "Ivy Invitee"})
        assert created.status_code == 201, created.text
        await until(lambda: len(inbox.messages) == 1)
        invite = inbox.messages[0]
        assert invite["To"] == email and invite["From"] == "Sparring <no-reply@example.com>"
        assert "Harbour Autos" in invite["Subject"]
        text, html = SmtpInbox.text_of(invite), SmtpInbox.html_of(invite)
        found = re.search(re.escape(PUBLIC_URL) + r"/invite\?token=([\w\-]+)", text)
        assert found and found.group(0) in html and "Hello Ivy Invitee" in text
        accepted = await client.post("/api/v1/auth/invite/accept",
                                     json={"token": found.group(1), "password": "chosen-by-ivy"})
        assert accepted.status_code == 200, accepted.text

        reset = await client.post("/api/v1/auth/password-reset", json={"email": email})
        assert reset.status_code == 202
        await until(lambda: len(inbox.messages) == 2)
        text = SmtpInbox.text_of(inbox.messages[1])
        found = re.search(re.escape(PUBLIC_URL) + r"/reset-password\?token=([\w\-]+)", text)
        assert found
        confirmed = await client.post("/api/v1/auth/password-reset/confirm",
                                      json={"token": found.group(1), "password": "ivy-forgot-it"})
        assert confirmed.status_code == 200, confirmed.text
        await world.login(email, "ivy-forgot-it")
        rows = await _all_sent(mapp.state.sparring)
        assert [(r.status, r.attempts) for r in rows] == [("sent", 1), ("sent", 1)]
        assert {str(m["Message-ID"]) for m in inbox.messages} == {r.message_id for r in rows}


async def test_smtp_failures_are_retried_with_exponential_backoff(
        app: Starlette, database_url: str, settings: Settings, inbox: SmtpInbox) -> None:
    inbox.fail_next = 2
    async with mail_app(smtp_settings(database_url, settings, inbox)) as (mapp, _):
        state: AppState = mapp.state.sparring
        await _enqueue(state, "one@example.com")
        await until(lambda: len(inbox.messages) == 1)
        [row] = await _all_sent(state)
        assert (row.status, row.attempts, row.last_error) == ("sent", 3, "SMTP 451")
        first_gap, second_gap = (b - a for a, b in zip(inbox.attempt_times, inbox.attempt_times[1:], strict=False))
        assert first_gap >= 0.3 and second_gap >= 0.6  # base, then twice the base
        assert inbox.attempts == 3


async def test_a_permanent_refusal_fails_at_once_and_attempts_run_out(
        app: Starlette, database_url: str, settings: Settings, inbox: SmtpInbox) -> None:
    inbox.permanent_next = 1
    async with mail_app(smtp_settings(database_url, settings, inbox, mail_max_attempts=2,
                                      mail_retry_base_seconds=0.1)) as (mapp, _):
        state: AppState = mapp.state.sparring
        await _enqueue(state, "gone@example.com", key="a")
        await until(lambda: inbox.attempts == 1)
        inbox.fail_next = 5
        await _enqueue(state, "busy@example.com", key="b")
        await until(lambda: inbox.attempts == 3)

        async def settled() -> bool:
            return all(r.status == "failed" for r in await _rows(state))

        await until(settled)
        rows = {r.to: r for r in await _rows(state)}
        assert (rows["gone@example.com"].attempts, rows["gone@example.com"].last_error) == (1, "SMTP 550")
        assert (rows["busy@example.com"].attempts, rows["busy@example.com"].last_error) == (2, "SMTP 451")
        assert inbox.messages == []


async def test_two_instances_never_send_the_same_email(
        app: Starlette, database_url: str, settings: Settings, inbox: SmtpInbox) -> None:
    one = smtp_settings(database_url, settings, inbox)
    async with mail_app(one) as (first, _), mail_app(one) as (second, _):
        state: AppState = first.state.sparring
        async with state.sessionmaker() as db, db.begin():
            for n in range(40):
                await outbox.enqueue(db, outbox.Mail(transport="smtp"), dealership_id=None, to=f"p{n}@example.com",
                                     template="password_reset", context=_context(), idempotency_key=f"many:{n}")
        second.state.sparring.mail.wake()
        state.mail.wake()
        await until(lambda: len(inbox.messages) == 40)
        await asyncio.sleep(0.5)  # two more polls each: nothing else arrives
        rows = await _all_sent(state)
    counts = inbox.by_message_id()
    assert len(counts) == 40 and set(counts.values()) == {1}
    assert {(r.status, r.attempts) for r in rows} == {("sent", 1)}


async def test_the_same_idempotency_key_is_one_email(app: Starlette, state: AppState) -> None:
    mail = outbox.Mail(transport=None)
    async with state.sessionmaker() as db, db.begin():
        first = await outbox.enqueue(db, mail, dealership_id=None, to="a@example.com", template="password_reset",
                                     context=_context(), idempotency_key="once")
        again = await outbox.enqueue(db, mail, dealership_id=None, to="a@example.com", template="password_reset",
                                     context=_context(), idempotency_key="once")
    assert first.id == again.id
    assert len(await _rows(state)) == 1 and (await _rows(state))[0].status == "kept"


async def test_an_email_whose_sender_died_is_taken_over_after_its_lease(
        app: Starlette, database_url: str, settings: Settings, inbox: SmtpInbox) -> None:
    state: AppState = app.state.sparring
    await _enqueue(state, "orphan@example.com", transport="smtp")
    async with state.sessionmaker() as db, db.begin():  # as a sender that died mid-send left it
        await db.execute(update(OutboxMessage).values(status="sending", attempts=1, lease_token=uuid.uuid4(),
                                                      lease_until=datetime.now(UTC) + timedelta(seconds=1)))
    async with mail_app(smtp_settings(database_url, settings, inbox)) as _:
        await asyncio.sleep(0.5)
        assert inbox.messages == []  # the lease still holds
        await until(lambda: len(inbox.messages) == 1)
        [row] = await _all_sent(state)
        assert (row.status, row.attempts) == ("sent", 2)


async def test_mailgun_delivers_with_its_wire_format_and_retries_a_5xx(
        app: Starlette, database_url: str, settings: Settings) -> None:
    fake = FakeMailgun(fail_next=1)
    with serve_in_thread(fake.app()) as url:
        mail_settings = make_settings(database_url, rag_workers=0, jwt_secret=settings.jwt_secret,
                                      public_url=PUBLIC_URL, mailgun_api_key=fake.api_key,
                                      mailgun_domain=fake.domain, mailgun_base_url=url,
                                      mail_from="Harbour <hi@mg.example.com>", mail_poll_seconds=0.1,
                                      mail_retry_base_seconds=0.2)
        async with mail_app(mail_settings) as (mapp, client):
            world = World(client, mapp.state.sparring)
            dealership = await world.dealership("Harbour Autos")
            user = await world.account(Role.user, dealership)
            assert (await client.post("/api/v1/auth/password-reset", json={"email": user.email})).status_code == 202
            await until(lambda: len(fake.messages) == 1)
            [row] = await _all_sent(mapp.state.sparring)
    sent = fake.messages[0]
    assert sent["to"] == user.email and sent["from"] == "Harbour <hi@mg.example.com>"
    assert f"{PUBLIC_URL}/reset-password?token=" in sent["text"] and "Harbour Autos" in sent["html"]
    assert sent["h:Message-Id"] == row.message_id and sent["o:tag"] == "password_reset"
    assert fake.requests == 2 and (row.status, row.attempts) == ("sent", 2)
    assert row.provider_id and row.provider_id.endswith(f"@{fake.domain}>")


async def test_a_bad_mailgun_key_is_not_sent_and_is_retried(
        app: Starlette, database_url: str, settings: Settings) -> None:
    fake = FakeMailgun()
    with serve_in_thread(fake.app()) as url:
        mail_settings = make_settings(database_url, rag_workers=0, jwt_secret=settings.jwt_secret,
                                      mailgun_api_key="wrong-key", mailgun_domain=fake.domain, mailgun_base_url=url,
                                      mail_poll_seconds=0.1, mail_retry_base_seconds=60)
        async with mail_app(mail_settings) as (mapp, _):
            await _enqueue(mapp.state.sparring, "x@example.com", transport="mailgun")
            await until(lambda: fake.requests == 1)

            async def recorded() -> bool:
                return (await _rows(mapp.state.sparring))[0].last_error is not None

            await until(recorded)
            [row] = await _rows(mapp.state.sparring)
    assert (row.status, row.last_error) == ("pending", "Mailgun HTTP 401") and fake.messages == []


def _hanging_smtp() -> socket.socket:
    """A listener that never answers: the connection opens, the SMTP greeting never comes."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    return sock


async def test_an_email_is_written_only_if_its_transaction_commits(app: Starlette, state: AppState) -> None:
    async with state.sessionmaker() as db:
        await outbox.enqueue(db, outbox.Mail(transport=None), dealership_id=None, to="a@example.com",
                             template="password_reset", context=_context(), idempotency_key="rolled-back")
        await db.rollback()
    assert await _rows(state) == []


async def test_a_send_that_hangs_is_cut_within_the_lease_and_retried(
        app: Starlette, database_url: str, settings: Settings) -> None:
    hanging = _hanging_smtp()
    try:
        mail_settings = make_settings(database_url, rag_workers=0, jwt_secret=settings.jwt_secret,
                                      smtp_host="127.0.0.1", smtp_port=hanging.getsockname()[1], smtp_starttls=False,
                                      mail_poll_seconds=0.1, mail_lease_seconds=5, mail_retry_base_seconds=60)
        async with mail_app(mail_settings) as (mapp, _):
            state: AppState = mapp.state.sparring
            await _enqueue(state, "slow@example.com")

            async def cut() -> bool:
                return [(r.status, r.attempts) for r in await _rows(state)] == [("pending", 1)]

            await until(cut)
            [row] = await _rows(state)
    finally:
        hanging.close()
    # Cut at 80% of the 5 s lease (the SMTP client's own timeout is 30 s): still ours to record.
    assert (row.attempts, row.last_error, row.lease_token) == (1, "smtp timed out", None)


@pytest.mark.e2e
async def test_the_outbox_survives_a_server_killed_mid_send(
        app: Starlette, database_url: str, settings: Settings, inbox: SmtpInbox, tmp_path: Path) -> None:
    """Server A writes the invite and starts sending it to an SMTP server that never answers;
    A is killed (SIGKILL) mid-send. Server B, started after, takes the email over once A's lease
    runs out and delivers it; a restart of B after that sends nothing more."""
    state: AppState = app.state.sparring
    hanging = _hanging_smtp()
    base_env = {"DATABASE_URL": database_url, "ENVIRONMENT": "test", "JWT_SECRET": settings.jwt_secret,
                "BCRYPT_ROUNDS": "4", "REDIS_URL": "", "OPENAI_API_KEY": "", "ELEVENLABS_API_KEY": "",
                "PINECONE_API_KEY": "", "RAG_WORKERS": "0", "PUBLIC_URL": PUBLIC_URL, "SMTP_STARTTLS": "false",
                "SMTP_HOST": "127.0.0.1", "MAIL_POLL_SECONDS": "0.2", "MAIL_LEASE_SECONDS": "5"}
    server_a = start_live_server({**base_env, "SMTP_PORT": str(hanging.getsockname()[1])}, tmp_path / "a.log")
    try:
        async with httpx.AsyncClient(base_url=server_a.url) as client:
            world = World(client, state)
            dealership = await world.dealership("Restart Motors")
            admin = await world.account(Role.dealership_admin, dealership)
            created = await client.post("/api/v1/users", headers=admin.headers,
                                        json={"email": "survivor@example.com", "name": "Sam"})
            assert created.status_code == 201, created.text

        async def claimed() -> bool:
            return [r.status for r in await _rows(state)] == ["sending"]

        await until(claimed)
    finally:
        server_a.process.kill()  # no graceful shutdown: as a crash
        server_a.process.wait()
        hanging.close()
    assert inbox.messages == []

    env_b = {**base_env, "SMTP_PORT": str(inbox.port)}
    server_b = start_live_server(env_b, tmp_path / "b.log")
    try:
        await until(lambda: len(inbox.messages) == 1, within=30)
        await _all_sent(state)
    finally:
        stop_live_server(server_b)
    server_c = start_live_server(env_b, tmp_path / "c.log")
    try:
        await asyncio.sleep(1.0)  # five polls
    finally:
        stop_live_server(server_c)
    assert len(inbox.messages) == 1 and inbox.attempts == 1
    [row] = await _rows(state)
    assert (row.status, row.attempts, row.to) == ("sent", 2, "survivor@example.com")
    assert str(inbox.messages[0]["Message-ID"]) == row.message_id
    assert f"{PUBLIC_URL}/invite?token=" in SmtpInbox.text_of(inbox.messages[0])
    for log in (server_a.logs(), server_b.logs()):
        assert "token=" not in log  # no link, no token in the logs


def _context() -> dict[str, Any]:
    return {"name": "N", "link": f"{PUBLIC_URL}/reset-password?token=t", "expires": "soon"}


async def _enqueue(state: AppState, to: str, *, key: str | None = None, transport: str = "smtp") -> None:
    async with state.sessionmaker() as db, db.begin():
        await outbox.enqueue(db, outbox.Mail(transport=transport, wake=state.mail.wake), dealership_id=None, to=to,
                             template="password_reset", context=_context(), idempotency_key=key or to)
