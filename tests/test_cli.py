"""The `sparring` command, run as a real subprocess against the test database."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from server.db.migrate import head_revision
from server.db.models import Role, User
from server.settings import Settings
from server.state import AppState
from tests.conftest import ROOT, Account, LiveServer, World


def sparring(settings: Settings, *args: str, stdin: str | None = None, terminal: int | None = None,
             **env: str | None) -> subprocess.CompletedProcess[str]:
    """Runs the command; an env value of None removes that variable. `terminal`: a pty to read from."""
    merged = {**os.environ, "DATABASE_URL": settings.database_url or "", "ENVIRONMENT": "test",
              "JWT_SECRET": settings.jwt_secret, "BCRYPT_ROUNDS": "4", "REDIS_URL": "", **env}
    environment = {k: v for k, v in merged.items() if v is not None}
    if terminal is not None:
        return subprocess.run([sys.executable, "-m", "server.cli", *args], cwd=ROOT, env=environment, stdin=terminal,
                              capture_output=True, text=True, timeout=120, check=False)
    return subprocess.run([sys.executable, "-m", "server.cli", *args], cwd=ROOT, env=environment, input=stdin,
                          capture_output=True, text=True, timeout=120, check=False)


async def _login(client: httpx.AsyncClient, email: str, password: str) -> dict[str, Any]:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    user: dict[str, Any] = response.json()["user"]
    return user


async def test_create_superuser(settings: Settings, client: httpx.AsyncClient) -> None:
    done = sparring(settings, "create-superuser", "--email", "Boss@Example.com", "--password", "boss-password-1",
                    "--name", "The Boss")
    assert done.returncode == 0, done.stderr
    assert "created super admin boss@example.com" in done.stdout
    user = await _login(client, "boss@example.com", "boss-password-1")
    assert user["role"] == "super_admin" and user["name"] == "The Boss" and user["dealership_id"] is None

    again = sparring(settings, "create-superuser", "--email", "boss@example.com", "--password", "other-password")
    assert again.returncode == 1
    assert "already exists" in again.stderr and "Traceback" not in again.stderr


async def test_create_superuser_reads_the_password_from_stdin(settings: Settings, client: httpx.AsyncClient) -> None:
    done = sparring(settings, "create-superuser", "--email", "piped@example.com", "--password", "-",
                    stdin="a piped secret 1\n")
    assert done.returncode == 0, done.stderr
    assert "a piped secret" not in done.stdout + done.stderr
    await _login(client, "piped@example.com", "a piped secret 1")
    short = sparring(settings, "create-superuser", "--email", "short@example.com", "--password", "-", stdin="short\n")
    assert short.returncode == 1 and "at least 8" in short.stderr


async def test_create_superuser_without_a_name_takes_one_from_the_email(settings: Settings,
                                                                        client: httpx.AsyncClient) -> None:
    done = sparring(settings, "create-superuser", "--email", "jane.doe+ops@example.com",
                    "--password", "boss-password-1")
    assert done.returncode == 0, done.stderr
    assert "named 'Jane Doe'" in done.stdout
    user = await _login(client, "jane.doe+ops@example.com", "boss-password-1")
    assert user["name"] == "Jane Doe"   # the header reads "Jane Doe · Super admin", Staff lists her by name
    blank = sparring(settings, "create-superuser", "--email", "ops@example.com", "--password", "boss-password-1",
                     "--name", "  ")
    assert blank.returncode == 0, blank.stderr
    assert (await _login(client, "ops@example.com", "boss-password-1"))["name"] == "Ops"


async def test_create_superuser_at_a_terminal_asks_for_the_name(settings: Settings, client: httpx.AsyncClient) -> None:
    controller, terminal = pty.openpty()
    try:
        os.write(controller, b"Terry Tester\n")   # waits in the terminal's input until the prompt reads it
        done = sparring(settings, "create-superuser", "--email", "tt@example.com", "--password", "boss-password-1",
                        terminal=terminal)
    finally:
        os.close(terminal)
        os.close(controller)
    assert done.returncode == 0, done.stderr
    assert "Name [Tt]: " in done.stdout
    assert (await _login(client, "tt@example.com", "boss-password-1"))["name"] == "Terry Tester"


async def test_seed_demo_prints_working_credentials(settings: Settings, client: httpx.AsyncClient) -> None:
    done = sparring(settings, "seed-demo")
    assert done.returncode == 0, done.stderr
    accounts = re.findall(r"^\s+(\w+)\s+(\S+@\S+)\s+(\S+)$", done.stdout, re.MULTILINE)
    assert {role for role, _, _ in accounts} == {"dealership_admin", "user"}
    for role, email, password in accounts:
        user = await _login(client, email, password)
        assert user["role"] == role and user["dealership_id"]
    # Running it again keeps one dealership and hands out fresh passwords.
    rerun = sparring(settings, "seed-demo")
    again = re.findall(r"^\s+(\w+)\s+(\S+@\S+)\s+(\S+)$", rerun.stdout, re.MULTILINE)
    assert {p for _, _, p in again}.isdisjoint({p for _, _, p in accounts})
    await _login(client, again[0][1], again[0][2])


def test_migrate_and_doctor(settings: Settings) -> None:
    migrate = sparring(settings, "migrate")
    assert migrate.returncode == 0, migrate.stderr
    assert migrate.stdout.strip() == f"database at migration {head_revision(settings.database_url or '')}"
    doctor = sparring(settings, "doctor", VOICE_VAD="silero")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "[ok  ] database" in doctor.stdout and "pgvector" in doctor.stdout
    assert "[ok  ] migrations" in doctor.stdout
    assert "provider:llm" in doctor.stdout and "offline" in doctor.stdout
    assert re.search(r"\[ok  \] vad +silero \(threshold 0\.5\), silero_vad\.onnx loaded in \d+ ms", doctor.stdout)
    # No keys: both offline models are in use; each is loaded and timed, and the machine's
    # capacity for offline voice sessions is measured.
    assert re.search(r"\[ok  \] model:stt +faster-whisper tiny\.en \(in use\): loaded in \d+\.\d\d s", doctor.stdout)
    assert re.search(r"\[ok  \] model:tts +piper en_US-joe-medium \(in use\): loaded in \d+\.\d\d s from \S+"
                     r"; word timings from its phoneme durations", doctor.stdout)
    assert re.search(r"about \d+ concurrent offline voice sessions", doctor.stdout), doctor.stdout
    assert doctor.stdout.strip().endswith("all checks passed")


def test_doctor_reports_an_unreachable_database(settings: Settings) -> None:
    doctor = sparring(settings, "doctor", DATABASE_URL="postgresql://nobody@127.0.0.1:9/none")
    assert doctor.returncode == 1
    assert "[FAIL] database" in doctor.stdout and "Traceback" not in doctor.stdout + doctor.stderr
    assert re.search(r"\[info\] vad +webrtc \(aggressiveness 2\)", doctor.stdout)


def test_a_placeholder_secret_is_refused_outside_development(settings: Settings) -> None:
    refused = sparring(settings, "doctor", ENVIRONMENT="production", JWT_SECRET="change-me")
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: configuration:") and "JWT_SECRET" in refused.stderr
    assert "Traceback" not in refused.stderr


@pytest.mark.usefixtures("client")
async def test_default_bcrypt_cost_is_at_least_12(settings: Settings, state: AppState) -> None:
    done = sparring(settings, "create-superuser", "--email", "cost@example.com", "--password", "-",
                    stdin="default-cost-pw\n", BCRYPT_ROUNDS=None)
    assert done.returncode == 0, done.stderr
    async with state.sessionmaker() as session:
        user = (await session.execute(select(User).where(User.email == "cost@example.com"))).scalar_one()
    assert user.role is Role.super_admin
    assert int(user.password_hash.split("$")[2]) >= 12


# -- sparring talk: against a real server (offline providers), with real speech ------------------
@pytest.fixture
def spoken_wav(tmp_path: Path) -> Path:
    from server.voice.audio import to_wav
    from tests.voice_audio import utterance

    wav = tmp_path / "say.wav"
    wav.write_bytes(to_wav(utterance("How much is this car?"), 16000))
    return wav


def _one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


async def _talked_with(world: World, account: Account, stdout: str) -> dict[str, Any]:
    found = re.search(r"session ([0-9a-f-]{36})", stdout)
    assert found, stdout
    detail = await world.client.get(f"/api/v1/sessions/{found[1]}", headers=account.headers)
    assert detail.status_code == 200, detail.text
    session: dict[str, Any] = detail.json()
    return session


async def test_talk_takes_a_persona_by_name(settings: Settings, world: World, live_server: LiveServer,
                                            spoken_wav: Path, tmp_path: Path) -> None:
    account = await world.account(Role.user, await world.dealership())
    done = sparring(settings, "talk", "--wav", str(spoken_wav), "--out", str(tmp_path / "reply.wav"),
                    "--url", live_server.url, "--token", account.token, "--persona", "tony russo")
    assert done.returncode == 0, done.stderr
    assert "Role-play with Tony Russo (tony-competitor)" in done.stdout
    session = await _talked_with(world, account, done.stdout)
    assert session["persona_id"] == "tony-competitor" and session["mode"] == "roleplay"


async def test_talk_without_options_trains_with_adam(settings: Settings, world: World, live_server: LiveServer,
                                                     spoken_wav: Path, tmp_path: Path) -> None:
    account = await world.account(Role.user, await world.dealership())
    done = sparring(settings, "talk", "--wav", str(spoken_wav), "--out", str(tmp_path / "reply.wav"),
                    "--url", live_server.url, "--token", account.token)
    assert done.returncode == 0, done.stderr
    assert "Training with Adam (adam)" in done.stdout
    session = await _talked_with(world, account, done.stdout)
    assert session["persona_id"] == "adam" and session["mode"] == "training"


async def test_talk_lists_the_personas(settings: Settings, world: World, live_server: LiveServer) -> None:
    help_text = sparring(settings, "talk", "--help")
    assert help_text.returncode == 0 and "tony-competitor  Tony Russo (roleplay)" in help_text.stdout
    account = await world.account(Role.user, await world.dealership())
    listed = sparring(settings, "talk", "--list-personas", "--url", live_server.url, "--token", account.token)
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"^  tony-competitor +Tony Russo \(roleplay\): \S", listed.stdout, re.MULTILINE), listed.stdout
    assert re.search(r"^  adam +Adam \(training\)", listed.stdout, re.MULTILINE), listed.stdout


async def test_talk_turns_refusals_into_one_line(settings: Settings, world: World, live_server: LiveServer,
                                                 spoken_wav: Path, tmp_path: Path) -> None:
    account = await world.account(Role.user, await world.dealership())
    common = ("talk", "--wav", str(spoken_wav), "--out", str(tmp_path / "reply.wav"), "--url", live_server.url)
    unknown = _one_line_error(sparring(settings, *common, "--token", account.token, "--persona", "Tony Rossi"))
    assert "no persona 'Tony Rossi'" in unknown and "Tony Russo (tony-competitor)" in unknown
    wrong_mode = _one_line_error(sparring(settings, *common, "--token", account.token, "--persona", "Adam",
                                          "--mode", "roleplay"))
    assert "Adam is a training persona" in wrong_mode
    # Refused by the server over the voice socket (the token), and over REST (the password).
    assert "refused" in _one_line_error(sparring(settings, *common, "--token", "not-a-token"))
    bad_login = _one_line_error(sparring(settings, *common, "--email", account.email, "--password", "wrong-pass"))
    assert "sign-in failed" in bad_login
    unreachable = _one_line_error(sparring(settings, *common[:-1], "http://127.0.0.1:9", "--token", account.token))
    assert "127.0.0.1:9" in unreachable
