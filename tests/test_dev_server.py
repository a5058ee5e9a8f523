"""`sparring serve` as the README's `scripts/dev` runs it: development settings, no DATABASE_URL
(its own embedded PostgreSQL under DATA_DIR), no JWT_SECRET. Real subprocesses, real signals."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from tests.conftest import free_port

PASSWORD = "dev-password-1"
EMAIL = "owner@example.com"


def dev_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "JWT_SECRET", "ENVIRONMENT")}
    return {**env, "DATA_DIR": str(data_dir), "ENVIRONMENT": "development", "REDIS_URL": "", "BCRYPT_ROUNDS": "4",
            "LOG_JSON": "true"}


def eventually(condition: Callable[[], bool], *, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {message}")
        time.sleep(0.2)


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def postmaster(data_dir: Path) -> int:
    return int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0])


class DevServer:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log = data_dir / f"serve-{time.monotonic_ns()}.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "server.cli", "serve", "--port", self.url.rsplit(":", 1)[1]],
                cwd=data_dir, env=dev_env(data_dir), stdout=out, stderr=subprocess.STDOUT)
        eventually(self._up, timeout=180, message=f"the server to start:\n{self.output()[-3000:]}")

    def _up(self) -> bool:
        if self.process.poll() is not None:
            pytest.fail(f"the server exited ({self.process.returncode}):\n{self.output()[-3000:]}")
        try:
            return httpx.get(self.url + "/api/health", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig: int) -> int:
        self.process.send_signal(sig)
        return self.process.wait(timeout=120)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=60)


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    # Outside pytest's temp root, as in conftest: pgserver opens the path up to its own user.
    directory = Path(tempfile.mkdtemp(prefix="sparring-dev-test-"))
    done = subprocess.run([sys.executable, "-m", "server.cli", "create-superuser", "--email", EMAIL, "--password",
                           PASSWORD, "--name", "Owner"], cwd=directory, env=dev_env(directory),
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    try:
        yield directory
    finally:
        pid_file = directory / "postgres" / "postmaster.pid"
        if pid_file.exists() and running(pid := postmaster(directory)):
            os.kill(pid, signal.SIGINT)   # fast shutdown of a server a failed test left behind
            eventually(lambda: not running(pid), timeout=60, message="the leftover postmaster to stop")
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def servers() -> Iterator[list[DevServer]]:
    started: list[DevServer] = []
    yield started
    for server in started:
        server.kill()


def test_the_embedded_postgres_stops_with_the_server(data_dir: Path, servers: list[DevServer]) -> None:
    # The CLI command that created the account started the database and stopped it as it exited.
    assert not (data_dir / "postgres" / "postmaster.pid").exists()

    # `kill`, `timeout`, a process manager: SIGTERM. uvicorn shuts down, then re-raised SIGTERM
    # used to end the process before pgserver's exit handler could stop PostgreSQL.
    servers.append(server := DevServer(data_dir))
    pid = postmaster(data_dir)
    code = server.stop(signal.SIGTERM)
    eventually(lambda: not running(pid), timeout=60, message="PostgreSQL to stop after SIGTERM")
    assert code == 128 + signal.SIGTERM

    # A server killed outright cannot stop anything; the next one forgets it, and stops the
    # database when it goes (here by SIGHUP: the terminal was closed).
    servers.append(killed := DevServer(data_dir))
    pid = postmaster(data_dir)
    killed.kill()
    assert running(pid)
    servers.append(server := DevServer(data_dir))
    assert postmaster(data_dir) == pid
    server.stop(signal.SIGHUP)
    eventually(lambda: not running(pid), timeout=60, message="PostgreSQL to stop after SIGHUP")
    assert "forgetting exited processes" in server.output()

    # Ctrl-C: stopped as well, and no KeyboardInterrupt traceback.
    servers.append(server := DevServer(data_dir))
    pid = postmaster(data_dir)
    server.stop(signal.SIGINT)
    eventually(lambda: not running(pid), timeout=60, message="PostgreSQL to stop after Ctrl-C")
    assert "Traceback" not in server.output()


def test_development_signs_with_a_random_secret_kept_in_the_data_dir(data_dir: Path,
                                                                    servers: list[DevServer]) -> None:
    servers.append(server := DevServer(data_dir))
    login = httpx.post(server.url + "/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD}, timeout=30)
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]
    path = data_dir / "jwt_secret"
    secret = path.read_text().strip()
    assert len(secret.encode()) >= 32 and secret != "dev-secret-change-me"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert jwt.decode(token, secret, algorithms=["HS256"])["role"] == "super_admin"
    server.stop(signal.SIGINT)
    assert "InsecureKeyLengthWarning" not in server.output()

    # Kept, not made again: a token from before the restart still signs in.
    servers.append(server := DevServer(data_dir))
    me = httpx.get(server.url + "/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert me.status_code == 200, me.text
    assert path.read_text().strip() == secret
    server.stop(signal.SIGINT)
    assert "InsecureKeyLengthWarning" not in server.output()

