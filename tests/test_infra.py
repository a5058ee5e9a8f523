"""docker-compose.yml and infra/Dockerfile: valid, and wired the way the docs say."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

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
    assert set(services) >= {"postgres", "redis", "server", "worker", "nginx"}
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


def test_compose_runs_two_server_replicas_behind_nginx() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    server, nginx, worker = services["server"], services["nginx"], services["worker"]
    assert server["deploy"]["replicas"] == 2 and "ports" not in server  # only nginx is published
    assert server["environment"]["REDIS_URL"].startswith("redis://")  # limits and the voice cap shared
    assert server["environment"]["RAG_WORKERS"] == "0" and worker["command"][:2] == ["sparring", "worker"]
    grace = float(server["environment"]["SHUTDOWN_GRACE_S"])
    assert float(server["stop_grace_period"].rstrip("s")) >= 2 * grace  # the drain, then requests in flight
    assert "./infra/nginx/sparring.conf.template:/etc/nginx/templates/default.conf.template:ro" in nginx["volumes"]
    assert set(nginx["environment"]) == set(re.findall(r"\$\{(\w+)\}", (NGINX_TEMPLATE).read_text()))


# -- Kubernetes ----------------------------------------------------------------------------------
K8S = ROOT / "infra" / "k8s"
NGINX_TEMPLATE = ROOT / "infra" / "nginx" / "sparring.conf.template"
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")  # the oldest a managed provider still runs, and the newest bundled


def _manifests() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(K8S.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            found[f"{document['kind']}/{document['metadata']['name']}"] = document
    return found


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_the_kubernetes_manifests_validate_against_the_schemas(version: str) -> None:
    """Offline, strict (an unknown or misspelt field fails), with the schemas kubernetes-validate ships."""
    import kubernetes_validate

    paths = sorted(K8S.glob("*.yaml"))
    assert len(paths) >= 8
    for path in paths:
        for document in yaml.safe_load_all(path.read_text()):
            kubernetes_validate.validate(document, version, strict=True)  # raises on any error


def test_the_validator_rejects_a_broken_manifest() -> None:
    import kubernetes_validate

    deployment = _manifests()["Deployment/sparring-server"]
    broken = {**deployment, "spec": {**deployment["spec"], "replicas": "two"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)
    misspelt = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(misspelt, KUBERNETES_VERSIONS[-1], strict=True)


def test_the_kubernetes_manifests_are_wired_as_docs_deploy_says() -> None:
    found = _manifests()
    assert set(found) >= {"ConfigMap/sparring", "Secret/sparring", "Deployment/sparring-server",
                          "Deployment/sparring-worker", "Service/sparring-server", "Ingress/sparring",
                          "HorizontalPodAutoscaler/sparring-server", "PodDisruptionBudget/sparring-server"}
    config = found["ConfigMap/sparring"]["data"]
    server = found["Deployment/sparring-server"]["spec"]
    pod = server["template"]["spec"]
    container = pod["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/api/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/api/health"
    assert server["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert pod["terminationGracePeriodSeconds"] > 2 * float(config["SHUTDOWN_GRACE_S"])
    assert config["RAG_WORKERS"] == "0"
    worker = found["Deployment/sparring-worker"]["spec"]["template"]["spec"]["containers"][0]
    assert worker["args"][:2] == ["sparring", "worker"]
    annotations = found["Ingress/sparring"]["metadata"]["annotations"]
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600  # a whole call
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"  # streamed chat
    selector = server["selector"]["matchLabels"]
    assert found["Service/sparring-server"]["spec"]["selector"] == selector
    assert found["PodDisruptionBudget/sparring-server"]["spec"]["selector"]["matchLabels"] == selector
    assert found["HorizontalPodAutoscaler/sparring-server"]["spec"]["minReplicas"] >= 2
