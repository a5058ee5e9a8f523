"""docker-compose.yml and infra/Dockerfile: valid, and wired the way the docs say."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from tests.conftest import ROOT


def _compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_compose_file_passes_docker_compose_config() -> None:
    command = _compose_command()
    if command is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed (apt: docker-compose)")
    done = subprocess.run([*command, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr


def test_compose_services() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert services["postgres"]["image"] == "pgvector/pgvector:pg16"
    assert set(services) >= {"postgres", "redis", "server"}
    for name in ("postgres", "redis", "server"):
        assert services[name]["healthcheck"]["test"], name
    server = services["server"]
    assert server["build"]["dockerfile"] == "infra/Dockerfile"
    assert server["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert server["environment"]["DATABASE_URL"].startswith("postgresql://")
    assert server["environment"]["REDIS_URL"].startswith("redis://")


def test_dockerfile() -> None:
    lines = [line.strip() for line in (ROOT / "infra" / "Dockerfile").read_text().splitlines()]
    assert "FROM python:3.11-slim" in lines
    assert "RUN pip install -r requirements.lock" in lines
    assert lines[-1] == 'CMD ["sparring", "serve", "--host", "0.0.0.0", "--port", "8000"]'
