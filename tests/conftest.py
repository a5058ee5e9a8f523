"""Test harness: one embedded PostgreSQL for the session, the real app, a clean database per test.

Nothing of ours is mocked: requests go through the whole ASGI stack (middleware, auth, the
database). End-to-end tests start a real uvicorn server on a free port (`live_server`).
"""

from __future__ import annotations

import asyncio
import atexit
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from starlette.applications import Starlette

from server.app import create_app
from server.db.embedded import start_embedded
from server.db.models import Base, Role
from server.settings import Settings
from server.state import AppState

ROOT = Path(__file__).resolve().parents[1]
TEST_PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    if url := os.environ.get("TEST_DATABASE_URL"):
        yield url
        return
    # Not under pytest's temp root: run as root, pgserver opens the path up to the unprivileged
    # user PostgreSQL runs as, and any other pytest run starting meanwhile closes it again.
    directory = Path(tempfile.mkdtemp(prefix="sparring-test-pg-"))
    # Registered first, so it runs last at exit: after pgserver has stopped the server.
    atexit.register(shutil.rmtree, directory, True)
    yield start_embedded(directory)


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": database_url,
        "jwt_secret": "test-" + secrets.token_urlsafe(40),
        # Cost 4 keeps the suite fast; production's default of 12 is checked in test_passwords.
        "bcrypt_rounds": 4,
        "redis_url": None,
        "log_json": True,
        "openai_api_key": None,
        "elevenlabs_api_key": None,
        "pinecone_api_key": None,
        # The session's app sends no webhooks: tests/test_webhooks.py runs its own senders, which
        # another sender on the same database (refusing its loopback receivers) would race.
        "webhook_concurrency": 0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
def state(app: Starlette) -> AppState:
    result: AppState = app.state.sparring
    return result


@pytest.fixture(autouse=True)
async def _clean_database(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    # Resolved before the test runs: pytest refuses new fixture requests during teardown.
    state: AppState | None = request.getfixturevalue("state") if "app" in request.fixturenames else None
    yield
    if state is None:
        return
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    for attempt in range(5):
        try:
            async with state.engine.begin() as conn:
                await conn.execute(text(f"TRUNCATE {tables} CASCADE"))
            break
        except DBAPIError as exc:  # a background worker held a lock mid-job: try again
            if "deadlock" not in str(exc) or attempt == 4:
                raise
    await state.limits.limiter.reset()
    state.authenticator.clear()


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@dataclass
class Account:
    id: uuid.UUID
    email: str
    role: Role
    dealership_id: uuid.UUID | None
    token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class World:
    """Builds dealerships and accounts through the real API (and the CLI's code path for the first
    super admin), then signs in, so tests start from what a user would have."""

    def __init__(self, client: httpx.AsyncClient, state: AppState) -> None:
        self.client = client
        self.state = state
        self._root: Account | None = None

    async def root(self) -> Account:
        if self._root is None:
            from server.accounts import create_user

            email = f"root-{uuid.uuid4().hex[:8]}@example.com"
            async with self.state.sessionmaker() as session:
                await create_user(session, email=email, password=TEST_PASSWORD, name="Root",
                                  role=Role.super_admin, dealership_id=None, bcrypt_rounds=4)
                await session.commit()
            self._root = await self.login(email)
        return self._root

    async def dealership(self, name: str | None = None) -> uuid.UUID:
        root = await self.root()
        response = await self.client.post("/api/v1/dealerships", headers=root.headers,
                                          json={"name": name or f"Dealer {uuid.uuid4().hex[:6]}"})
        assert response.status_code == 201, response.text
        return uuid.UUID(response.json()["id"])

    async def account(self, role: Role, dealership_id: uuid.UUID | None = None) -> Account:
        if role is Role.super_admin and dealership_id is None and self._root is None:
            return await self.root()
        root = await self.root()
        email = f"{role.value}-{uuid.uuid4().hex[:8]}@example.com"
        body: dict[str, Any] = {"email": email, "password": TEST_PASSWORD, "name": role.value, "role": role.value}
        if dealership_id is not None:
            body["dealership_id"] = str(dealership_id)
        response = await self.client.post("/api/v1/users", headers=root.headers, json=body)
        assert response.status_code == 201, response.text
        return await self.login(email)

    async def login(self, email: str, password: str = TEST_PASSWORD) -> Account:
        response = await self.client.post("/api/v1/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        data = response.json()
        user = data["user"]
        return Account(id=uuid.UUID(user["id"]), email=email, role=Role(user["role"]),
                       dealership_id=uuid.UUID(user["dealership_id"]) if user["dealership_id"] else None,
                       token=data["access_token"], refresh_token=data["refresh_token"])


@pytest.fixture
def world(client: httpx.AsyncClient, state: AppState) -> World:
    return World(client, state)


async def inside_one_rate_window(period_s: float = 60, needed_s: float = 20) -> None:
    """Wait, if need be, until `needed_s` seconds remain in the current rate-limit window.

    The limiters' sliding window counts the previous window's hits in proportion to the part of
    it still covered, so hits straddling a window's edge are forgiven a little: tests asserting
    an exact count run inside one window."""
    into = time.time() % period_s
    if into > period_s - needed_s:
        await asyncio.sleep(period_s - into + 0.2)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_live_server(env_overrides: dict[str, str], log_path: Path) -> LiveServer:
    port = free_port()
    # No webhook sender unless a test asks for one (see make_settings).
    env = {**os.environ, "WEBHOOK_CONCURRENCY": "0", **env_overrides}
    log_file = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "server.app:asgi_factory", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--ws-max-size", str(64 * 1024),
         # As `sparring serve`: X-Forwarded-* are the app's business (FORWARDED_ALLOW_IPS).
         "--no-proxy-headers"],
        cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log_path.read_text(errors='replace')}")
        try:
            if httpx.get(url + "/api/ready", timeout=1).status_code == 200:
                return LiveServer(url=url, process=process, log_path=log_path)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server did not become ready:\n{log_path.read_text(errors='replace')}")


def stop_live_server(server: LiveServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()


@contextmanager
def another_instance(settings: Settings, database_url: str, log_dir: Path, **env: str) -> Iterator[LiveServer]:
    """A second server process on the `client` app's database and JWT secret: what one instance
    changes, the other must notice (within its caches' TTLs)."""
    server = start_live_server({"DATABASE_URL": database_url, "ENVIRONMENT": "test", "JWT_SECRET": settings.jwt_secret,
                                "BCRYPT_ROUNDS": "4", "REDIS_URL": "", **env}, log_dir / "other.log")
    try:
        yield server
    finally:
        stop_live_server(server)


@pytest.fixture(scope="session")
def live_server(database_url: str, settings: Settings, tmp_path_factory: pytest.TempPathFactory,
                app: Starlette) -> Iterator[LiveServer]:
    """A real uvicorn process on a free port, sharing the test database (and the JWT secret)."""
    env = {"DATABASE_URL": database_url, "ENVIRONMENT": "test", "JWT_SECRET": settings.jwt_secret,
           "BCRYPT_ROUNDS": "4", "REDIS_URL": "", "OPENAI_API_KEY": "", "ELEVENLABS_API_KEY": "",
           "PINECONE_API_KEY": "",
           # The tests act as the TLS proxy in front of it (X-Forwarded-Proto: https).
           "FORWARDED_ALLOW_IPS": "127.0.0.1"}
    server = start_live_server(env, tmp_path_factory.mktemp("live") / "server.log")
    yield server
    stop_live_server(server)
