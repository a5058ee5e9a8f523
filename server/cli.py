"""The `sparring` command: serve, migrate, create-superuser, seed-demo, doctor, outbox."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from server.settings import ConfigurationError, Settings, load_settings


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def _database_url(settings: Settings) -> str:
    from server.db.engine import resolve_database_url

    return resolve_database_url(settings)


async def _with_session(settings: Settings, work: Callable[[Any], Awaitable[int]]) -> int:
    from server.db.engine import create_engine, create_sessionmaker
    from server.db.migrate import upgrade_head_async

    url = _database_url(settings)
    await upgrade_head_async(url)
    engine = create_engine(url, pool_size=2)
    try:
        async with create_sessionmaker(engine)() as session:
            return await work(session)
    finally:
        await engine.dispose()


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from server.db.migrate import upgrade_head
    from server.headlimit import http_protocol
    from server.log import configure_logging

    configure_logging(settings.log_level, settings.log_json)
    url = _database_url(settings)
    upgrade_head(url)
    # Workers inherit the resolved URL, so they share this process's embedded server.
    os.environ["DATABASE_URL"] = url
    _exit_cleanly_on_signals()
    try:
        uvicorn.run("server.app:asgi_factory", factory=True, host=args.host, port=args.port,
                    workers=args.workers, log_config=None, ws_max_size=64 * 1024,
                    # X-Forwarded-* are read by the app, from FORWARDED_ALLOW_IPS only (none by default);
                    # uvicorn's own handling would trust loopback whatever the setting says.
                    proxy_headers=False,
                    # httptools bounds neither a header's size nor their number: we do (431).
                    http=http_protocol(settings.max_header_bytes, settings.max_headers),
                    # Voice frames are PCM, which deflate barely shrinks: compressing every 20-40 ms
                    # frame cost ~5% of the server's CPU in the voice load benchmark for nothing.
                    ws_per_message_deflate=False)
    except KeyboardInterrupt:  # Ctrl-C, raised again by uvicorn once it has shut down
        return 130
    return 0


def _exit_cleanly_on_signals() -> None:
    """Stopping the server by signal must still run the exit handlers: the embedded PostgreSQL is
    stopped by one (pgserver's, in the last process using it). uvicorn shuts down gracefully on
    SIGINT/SIGTERM, then raises the signal again with our handler in place: SIGTERM's default
    action would end the process without them, so it exits instead. SIGHUP (the terminal
    closed) asks uvicorn for the same graceful stop."""
    def exit_now(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, exit_now)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, lambda signum, frame: os.kill(os.getpid(), signal.SIGTERM))


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from server.db.migrate import head_revision, upgrade_head

    url = _database_url(settings)
    upgrade_head(url)
    print(f"database at migration {head_revision(url)}")
    return 0


def cmd_create_superuser(settings: Settings, args: argparse.Namespace) -> int:
    from server.accounts import create_user
    from server.db.models import Role
    from server.errors import SparringError

    password = sys.stdin.readline().rstrip("\n") if args.password == "-" else args.password
    if len(password) < 8:
        return _fail("the password must be at least 8 characters")
    email = args.email.strip().lower()
    name = _superuser_name(args.name, email, ask=args.password != "-" and sys.stdin.isatty())

    async def work(session: Any) -> int:
        try:
            user = await create_user(session, email=email, password=password,
                                     name=name, role=Role.super_admin, dealership_id=None,
                                     bcrypt_rounds=settings.bcrypt_rounds)
        except SparringError as exc:
            return _fail(exc.message if not exc.details else f"{exc.message} {exc.details}")
        await session.commit()
        print(f"created super admin {user.email} ({user.id}), named {user.name!r}")
        return 0

    return asyncio.run(_with_session(settings, work))


def _superuser_name(given: str | None, email: str, *, ask: bool) -> str:
    """The name shown in the header and in Staff: --name, else asked at a terminal, else taken
    from the email (a blank name read as "· Super admin")."""
    from server.accounts import name_from_email

    if given and given.strip():
        return given.strip()
    derived = name_from_email(email)
    if ask:
        try:
            answer = input(f"Name [{derived}]: ").strip()
        except EOFError:
            answer = ""
        return answer or derived
    return derived


def cmd_seed_demo(settings: Settings, args: argparse.Namespace) -> int:
    from server.demo import seed_demo

    async def work(session: Any) -> int:
        accounts = await seed_demo(session, settings)
        await session.commit()
        print("Demo dealership 'Demo Motors' (slug demo-motors) is ready. Sign in with:")
        for role, email, password in accounts:
            print(f"  {role:<17} {email:<32} {password}")
        return 0

    return asyncio.run(_with_session(settings, work))


def cmd_outbox(settings: Settings, args: argparse.Namespace) -> int:
    """The latest emails in the outbox, with their text: with no SMTP or Mailgun configured,
    this is where invites and password resets are read (their links work as sent)."""
    from sqlalchemy import select

    from server.mail.models import OutboxMessage

    async def work(session: Any) -> int:
        query = select(OutboxMessage).order_by(OutboxMessage.created_at.desc()).limit(args.limit)
        if args.status:
            query = query.where(OutboxMessage.status == args.status)
        if args.to:
            query = query.where(OutboxMessage.to == args.to.strip().lower())
        rows = list((await session.execute(query)).scalars())
        if not rows:
            print("the outbox is empty")
        for row in reversed(rows):
            print(f"--- {row.created_at:%Y-%m-%d %H:%M:%S} {row.status} ({row.attempts} attempts) {row.id}")
            print(f"To: {row.to}\nSubject: {row.subject}")
            if row.last_error:
                print(f"Last error: {row.last_error}")
            print()
            print(row.text.rstrip())
            print()
        return 0

    return asyncio.run(_with_session(settings, work))


def cmd_ingest(settings: Settings, args: argparse.Namespace) -> int:
    from server.rag.bulk import ingest_paths

    return asyncio.run(ingest_paths(settings, _database_url(settings), args.paths, args.dealership))


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    from server.log import configure_logging
    from server.rag.bulk import run_worker

    configure_logging(settings.log_level, settings.log_json)
    return asyncio.run(run_worker(settings, _database_url(settings), args.concurrency))


def cmd_doctor(settings: Settings, args: argparse.Namespace) -> int:
    from server.doctor import run_doctor

    return asyncio.run(run_doctor(settings))


def cmd_talk(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from server.voice.talk import TalkError, TalkOptions, talk

    token = args.token or os.environ.get("SPARRING_TOKEN")
    if not token and not (args.email and args.password):
        return _fail("give --token (or SPARRING_TOKEN), or --email and --password")
    if not args.wav and not args.list_personas:
        return _fail("give --wav FILE (the speech to send), or --list-personas")
    options = TalkOptions(url=args.url, wav=Path(args.wav) if args.wav else None, out=Path(args.out),
                          mode=args.mode, persona=args.persona, token=token, email=args.email,
                          password=args.password, list_personas=args.list_personas)
    try:
        return asyncio.run(talk(options))
    except TalkError as exc:
        return _fail(str(exc))


def _builtin_personas() -> str:
    """The built-in personas for `sparring talk --help`, read from their files (importing the
    conversation package for this would slow every command down)."""
    import json
    from importlib import resources

    lines = []
    for entry in sorted(resources.files("server.conversation").joinpath("personas").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            data = json.loads(entry.read_text(encoding="utf-8"))
            mode = "training" if data["kind"] == "trainer" else "roleplay"
            lines.append(f"  {data['id']:<16} {data['name']} ({mode})")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sparring", description="Sparring server")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP/WebSocket server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(func=cmd_serve)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)

    su = sub.add_parser("create-superuser", help="create a super admin (non-interactive)")
    su.add_argument("--email", required=True)
    su.add_argument("--password", required=True, help="the password, or '-' to read it from stdin")
    su.add_argument("--name", default=None,
                    help="shown in the header and in Staff; asked for at a terminal, else taken from the email")
    su.set_defaults(func=cmd_create_superuser)

    sub.add_parser("seed-demo", help="create a demo dealership with an admin and a trainee").set_defaults(
        func=cmd_seed_demo)
    talk = sub.add_parser(
        "talk", help="voice session from a WAV file: prints transcripts, saves the reply",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Built-in personas (your dealership may disable some, or add its own: --list-personas):\n"
               + _builtin_personas() + "\nWithout --persona or --mode: training with Adam.")
    talk.add_argument("--wav", default=None, help="16-bit PCM WAV to say (any rate, resampled to 16 kHz)")
    talk.add_argument("--out", default="reply.wav", help="where to save the reply audio")
    talk.add_argument("--url", default="http://127.0.0.1:8000")
    talk.add_argument("--persona", default=None, metavar="ID_OR_NAME",
                      help='whom to talk to: a persona\'s id or name, e.g. adam or "Tony Russo"')
    talk.add_argument("--mode", choices=["training", "roleplay"], default=None,
                      help="default: the persona's own mode; training (with Adam) without --persona; "
                           "roleplay without --persona: the server picks the customer")
    talk.add_argument("--list-personas", action="store_true", help="list the personas you can talk to, and exit")
    talk.add_argument("--token", default=None)
    talk.add_argument("--email", default=None)
    talk.add_argument("--password", default=None)
    talk.set_defaults(func=cmd_talk)

    ingest = sub.add_parser("ingest", help="load documents (files or folders) into a dealership's knowledge base")
    ingest.add_argument("paths", nargs="+", metavar="PATH")
    ingest.add_argument("--dealership", required=True, metavar="SLUG")
    ingest.set_defaults(func=cmd_ingest)

    worker = sub.add_parser("worker", help="run document ingestion workers (separately from the server)")
    worker.add_argument("--concurrency", type=int, default=1)
    worker.set_defaults(func=cmd_worker)

    sub.add_parser("doctor", help="check configuration, database, migrations and providers").set_defaults(
        func=cmd_doctor)

    outbox = sub.add_parser("outbox", help="show the latest emails (kept ones too: no SMTP or Mailgun set)")
    outbox.add_argument("--limit", type=int, default=20)
    outbox.add_argument("--status", choices=["pending", "sending", "sent", "failed", "kept"], default=None)
    outbox.add_argument("--to", default=None, metavar="EMAIL")
    outbox.set_defaults(func=cmd_outbox)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigurationError as exc:
        return _fail(f"configuration: {exc}")
    result: int = args.func(settings, args)
    return result


def random_password() -> str:
    return secrets.token_urlsafe(12)


if __name__ == "__main__":
    sys.exit(main())
