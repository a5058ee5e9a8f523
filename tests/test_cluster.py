"""Many instances behind a load balancer, on loopback with real processes.

Two `sparring serve` processes (A, and B with two uvicorn workers) and one `sparring worker`, on
one PostgreSQL database of their own and the local Redis (REDIS_TEST_URL), behind nginx
configured from infra/nginx/sparring.conf.template (run as this user with its own prefix, pid and
logs in a temp dir). The outside world (OpenAI, ElevenLabs) is faked at the network boundary.
What one instance does, the other sees; limits hold across both; a voice session moves from an
instance that is killed or stopped to the other with its history.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
import websockets
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.engine import make_url

from server.db.engine import create_engine, create_sessionmaker
from server.db.migrate import upgrade_head_async
from server.db.models import Role
from server.settings import Settings
from server.voice.client import VoiceClient
from tests.balancer import HAVE_NGINX, start_nginx, stop_nginx
from tests.conftest import (
    ROOT,
    Account,
    World,
    free_port,
    inside_one_rate_window,
    start_live_server,
    stop_live_server,
)
from tests.fakes.elevenlabs_server import FakeElevenLabs
from tests.fakes.openai_embeddings import FakeEmbeddings
from tests.fakes.openai_voice import FakeOpenAI, OpenAIConfig
from tests.fakes.server import serve_in_thread
from tests.patience import PATIENCE_S, PatientVoiceClient, until

pytestmark = pytest.mark.e2e

REDIS_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/0")
GRACE_S = 20


@dataclass
class Process:
    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    port: int | None = None
    popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.popen = subprocess.Popen([sys.executable, "-m", "server.cli", *self.args], cwd=ROOT, env=self.env,
                                      stdout=self.log.open("ab"), stderr=subprocess.STDOUT)

    def logs(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]

    def wait_ready(self) -> None:
        deadline = time.monotonic() + PATIENCE_S
        while time.monotonic() < deadline:
            assert self.popen is not None and self.popen.poll() is None, f"{self.name} exited:\n{self.logs()}"
            try:
                if httpx.get(self.url + "/api/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{self.name} did not become ready:\n{self.logs()}")

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=GRACE_S + 10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


@dataclass
class Cluster:
    a: Process
    b: Process
    worker: Process
    balancer: str
    openai: FakeOpenAI
    world: World
    engine: Any
    directory: Path
    nginx: subprocess.Popen[bytes]

    def ensure_a(self) -> None:
        """A again, on its port, after a test stopped or killed it."""
        if self.a.popen is not None and self.a.popen.poll() is None:
            return
        self.a.start()
        self.a.wait_ready()


@pytest.fixture(scope="module")
async def cluster_database(database_url: str) -> AsyncIterator[str]:
    """A database of the cluster's own: the suite's in-process app (and its document workers)
    never look at it, so only `sparring worker` processes documents here."""
    name = f"cluster_{uuid.uuid4().hex[:10]}"
    admin = create_engine(database_url, pool_size=1)
    async with admin.connect() as conn:
        await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(text(f"CREATE DATABASE {name}"))
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    await upgrade_head_async(url)
    try:
        yield url
    finally:
        async with admin.connect() as conn:
            auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await auto.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        await admin.dispose()


@pytest.fixture(scope="module")
def fakes() -> Iterator[tuple[FakeOpenAI, str, str, str]]:
    openai, eleven, embeddings = FakeOpenAI(), FakeElevenLabs(), FakeEmbeddings(api_key="")
    with serve_in_thread(openai.app()) as openai_url, serve_in_thread(eleven.app()) as eleven_url, \
            serve_in_thread(embeddings.app()) as embeddings_url:
        yield openai, openai_url, eleven_url, embeddings_url


def _start(processes: tuple[Process, ...], directory: Path, balancer_port: int) -> subprocess.Popen[bytes]:
    """The instances and the worker, then nginx in front once both instances are ready."""
    for process in processes:
        process.start()
    for process in processes:
        if process.port is not None:
            process.wait_ready()
    return start_nginx(directory, balancer_port, [p.port for p in processes if p.port is not None])


def _stop(nginx: subprocess.Popen[bytes] | None, processes: tuple[Process, ...]) -> None:
    stop_nginx(nginx)
    for process in processes:
        process.stop()


@pytest.fixture(scope="module")
async def cluster(cluster_database: str, fakes: tuple[FakeOpenAI, str, str, str],
                  tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    redis = Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        await redis.ping()
        await redis.flushdb()  # this run's database number only (REDIS_TEST_URL)
    except Exception as exc:
        pytest.skip(f"Redis is not running on REDIS_TEST_URL ({exc})")
    finally:
        await redis.aclose()
    openai, openai_url, eleven_url, embeddings_url = fakes
    directory = tmp_path_factory.mktemp("cluster")
    metrics_dir = directory / "metrics"
    metrics_dir.mkdir()
    env = {**os.environ, "DATABASE_URL": cluster_database, "ENVIRONMENT": "test", "JWT_SECRET": "c" * 48,
           "BCRYPT_ROUNDS": "4", "REDIS_URL": REDIS_URL, "PINECONE_API_KEY": "",
           "OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": openai_url + "/v1",
           "EMBEDDING_BASE_URL": embeddings_url + "/v1",
           "ELEVENLABS_API_KEY": "el-test", "ELEVENLABS_BASE_URL": eleven_url,
           "RAG_WORKERS": "0", "RAG_POLL_SECONDS": "0.2", "RATE_LIMIT_VOICE": "1000/minute",
           "RATE_LIMIT_CHAT": "1000/minute", "VOICE_IDLE_TIMEOUT_S": "900", "VOICE_MAX_SESSIONS_PER_USER": "2",
           "SHUTDOWN_GRACE_S": str(GRACE_S), "LOG_LEVEL": "INFO"}
    a_port, b_port, balancer_port = free_port(), free_port(), free_port()
    a = Process("A", ["serve", "--port", str(a_port)], env, directory / "a.log", port=a_port)
    b = Process("B", ["serve", "--port", str(b_port), "--workers", "2"],
                {**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}, directory / "b.log", port=b_port)
    worker = Process("worker", ["worker", "--concurrency", "2"], {**env, "DATA_DIR": str(directory / "worker")},
                     directory / "worker.log")
    if not HAVE_NGINX:
        pytest.skip("nginx is not installed (apt: nginx)")
    processes = (a, b, worker)
    nginx: subprocess.Popen[bytes] | None = None
    engine = create_engine(cluster_database, pool_size=2)
    try:
        nginx = await asyncio.to_thread(_start, processes, directory, balancer_port)
        balancer = f"http://127.0.0.1:{balancer_port}"
        async with httpx.AsyncClient(base_url=balancer, timeout=PATIENCE_S) as client:
            state = SimpleNamespace(sessionmaker=create_sessionmaker(engine))
            yield Cluster(a=a, b=b, worker=worker, balancer=balancer, openai=openai,
                          world=World(client, cast(Any, state)), engine=engine, directory=directory, nginx=nginx)
    finally:
        await asyncio.to_thread(_stop, nginx, processes)
        await engine.dispose()


@pytest.fixture(autouse=True)
def _reset_fake(request: pytest.FixtureRequest) -> None:
    if "fakes" in request.fixturenames or "cluster" in request.fixturenames:
        request.getfixturevalue("fakes")[0].config = OpenAIConfig()


async def _user(cluster: Cluster, role: Role = Role.user) -> Account:
    dealer = await cluster.world.dealership()
    return await cluster.world.account(role, dealer)


# -- requests ------------------------------------------------------------------------------------
async def test_signed_in_on_one_instance_served_by_the_other(cluster: Cluster) -> None:
    await cluster.world.root()
    dealer = await cluster.world.dealership()
    root = await cluster.world.root()
    email = f"both-{uuid.uuid4().hex[:6]}@example.com"
    created = await cluster.world.client.post("/api/v1/users", headers=root.headers, json={
        "email": email, "password": "correct-horse-battery", "name": "Both", "role": "user",
        "dealership_id": str(dealer)})
    assert created.status_code == 201, created.text
    async with httpx.AsyncClient(base_url=cluster.a.url) as a, httpx.AsyncClient(base_url=cluster.b.url) as b:
        login = await a.post("/api/v1/auth/login", json={"email": email, "password": "correct-horse-battery"})
        assert login.status_code == 200, login.text
        tokens = login.json()
        me = await b.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert me.status_code == 200 and me.json()["email"] == email
        # Refresh on B rotates the family A issued; presenting the old token again, on A, is reuse.
        refreshed = await b.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 200, refreshed.text
        reused = await a.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert reused.status_code == 401


async def test_a_chat_streams_through_the_balancer(cluster: Cluster) -> None:
    user = await _user(cluster)
    cluster.openai.config.tokens_per_s = 40.0
    arrivals: list[float] = []
    body = ""
    async with cluster.world.client.stream(
            "POST", "/api/v1/chat", headers={**user.headers, "Accept": "text/event-stream"},
            json={"mode": "training", "message": "How do I handle a price objection?"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for chunk in response.aiter_text():
            arrivals.append(time.monotonic())
            body += chunk
    assert "event: done" in body or '"done"' in body, body[-500:]
    deltas = re.findall(r"event: delta", body)
    assert len(deltas) > 3
    # Streamed, not buffered by the balancer: the text arrived in several pieces over time.
    assert len(arrivals) > 3 and arrivals[-1] - arrivals[0] > 0.1


async def test_the_login_limit_is_shared_by_the_instances(cluster: Cluster) -> None:
    await inside_one_rate_window()
    email = f"nobody-{uuid.uuid4().hex[:6]}@example.com"
    wrong = {"email": email, "password": "not-the-password"}
    async with httpx.AsyncClient(base_url=cluster.a.url) as a, httpx.AsyncClient(base_url=cluster.b.url) as b:
        for attempt in range(10):  # the limit: 10 a minute per email and address, half on each
            response = await (a if attempt % 2 else b).post("/api/v1/auth/login", json=wrong)
            assert response.status_code == 401, (attempt, response.text)
        assert (await a.post("/api/v1/auth/login", json=wrong)).status_code == 429
        assert (await b.post("/api/v1/auth/login", json=wrong)).status_code == 429


# -- documents -----------------------------------------------------------------------------------
async def test_a_document_uploaded_on_one_instance_is_searchable_on_the_other(cluster: Cluster) -> None:
    admin = await _user(cluster, Role.dealership_admin)
    async with httpx.AsyncClient(base_url=cluster.a.url) as a, httpx.AsyncClient(base_url=cluster.b.url) as b:
        uploaded = await a.post("/api/v1/rag/upload", headers=admin.headers, files=[
            ("file", ("closing.txt", b"Always ask for the sale after the test drive, then stop talking.",
                      "application/octet-stream"))])
        assert uploaded.status_code == 202, uploaded.text
        document_id = uploaded.json()["documents"][0]["id"]

        async def status() -> dict[str, Any]:
            return dict((await b.get(f"/api/v1/rag/documents/{document_id}", headers=admin.headers)).json())

        document = await until(status, lambda d: d["status"] in ("ready", "failed"))
        assert document["status"] == "ready", (document, cluster.worker.logs())
        found = await b.post("/api/v1/rag/query", headers=admin.headers, json={"query": "ask for the sale"})
        assert found.status_code == 200, found.text
        assert found.json()["results"][0]["document_id"] == document_id


# -- voice ---------------------------------------------------------------------------------------
async def _voice(url: str, account: Account, session_id: str | None = None) -> tuple[VoiceClient, dict[str, Any]]:
    client = await PatientVoiceClient.connect(url, account.token)
    ready = await client.start("roleplay", session_id=session_id)
    return client, ready


async def _resume(url: str, account: Account, session_id: str) -> VoiceClient:
    """Resume through the balancer, moving on again if it lands on the instance that is draining."""
    for _ in range(6):
        client = await PatientVoiceClient.connect(url, account.token)
        await client.send({"type": "start", "mode": "roleplay", "session_id": session_id})
        answer = await client.wait_for_any(("ready", "reconnect", "error"))
        if answer["type"] == "ready":
            assert answer["session_id"] == session_id
            return client
        assert answer["type"] == "reconnect", answer
        await client.close()
    raise AssertionError("the session never landed on a live instance")


async def _turn(client: VoiceClient, words: str) -> dict[str, Any]:
    await client.send({"type": "text", "text": words})
    return await client.wait_for("metrics")


async def _history(cluster: Cluster, account: Account, session_id: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=cluster.b.url) as b:
        response = await b.get(f"/api/v1/sessions/{session_id}", headers=account.headers)
    assert response.status_code == 200, response.text
    return list(response.json()["messages"])


async def test_the_voice_cap_holds_across_instances(cluster: Cluster) -> None:
    user = await _user(cluster)
    on_a, _ = await _voice(cluster.a.url, user)
    on_b, _ = await _voice(cluster.b.url, user)
    third = await PatientVoiceClient.connect(cluster.a.url, user.token)
    refused = await third.wait_for("error")
    assert refused["code"] == "too_many_sessions"
    assert await third.closed() == 4429
    await on_b.close()

    async def admitted() -> bool:  # B releases the slot as its socket closes
        client = await PatientVoiceClient.connect(cluster.a.url, user.token)
        await client.send({"type": "start", "mode": "roleplay"})
        answer = await client.wait_for_any(("ready", "error"))
        await client.close()
        return answer["type"] == "ready"

    assert await until(admitted, lambda ok: ok)
    await on_a.close()


async def test_a_voice_session_resumes_on_the_other_instance_after_a_kill(cluster: Cluster) -> None:
    await asyncio.to_thread(cluster.ensure_a)
    user = await _user(cluster)
    client, ready = await _voice(cluster.a.url, user)
    session_id = ready["session_id"]
    await _turn(client, "Hello, I am looking at the blue sedan.")
    assert cluster.a.popen is not None
    cluster.a.popen.send_signal(signal.SIGKILL)  # no drain, no goodbye
    await asyncio.to_thread(cluster.a.popen.wait, 10)
    await client.closed()
    moved = await _resume(cluster.balancer, user, session_id)  # A is gone: nginx sends it to B
    await _turn(moved, "What about the price?")
    await moved.close()
    history = await _history(cluster, user, session_id)
    assert [m["role"] for m in history] == ["user", "assistant", "user", "assistant"], history
    assert history[0]["text"] == "Hello, I am looking at the blue sedan."
    assert history[2]["text"] == "What about the price?"


async def test_a_stopping_instance_finishes_the_turn_and_sends_its_voice_clients_on(cluster: Cluster) -> None:
    await asyncio.to_thread(cluster.ensure_a)
    user, latecomer = await _user(cluster), await _user(cluster)
    client, ready = await _voice(cluster.a.url, user)
    session_id = ready["session_id"]
    await _turn(client, "Hello, I am looking at the blue sedan.")
    undecided = await PatientVoiceClient.connect(cluster.a.url, latecomer.token)  # signed in, not started
    cluster.openai.config.tokens_per_s = 12.0  # a reply still being written and spoken at the SIGTERM
    await client.send({"type": "text", "text": "Is the price negotiable?"})
    await client.wait_for("audio.start")
    assert cluster.a.popen is not None
    cluster.a.popen.send_signal(signal.SIGTERM)

    async def readiness() -> int:
        async with httpx.AsyncClient(base_url=cluster.a.url) as a:
            return (await a.get("/api/ready")).status_code

    assert await until(readiness, lambda status: status == 503) == 503  # the balancer must look elsewhere
    # A socket that had not started a session is sent on at once; a new one is refused at the
    # upgrade with a 503 (which nginx retries on the other instance).
    assert await undecided.wait_for("reconnect") == {"type": "reconnect", "reason": "server_draining",
                                                     "session_id": None}
    assert await undecided.closed() == 1012
    with pytest.raises(websockets.InvalidStatus) as refused:
        await PatientVoiceClient.connect(cluster.a.url, latecomer.token)
    assert refused.value.response.status_code == 503

    finished = await client.wait_for("metrics")  # the turn in progress completes on A
    told = await client.wait_for("reconnect")
    assert told == {"type": "reconnect", "reason": "server_draining", "session_id": session_id}
    assert await client.closed() == 1012
    moved = await _resume(cluster.balancer, user, session_id)
    await _turn(moved, "Then let us talk about financing.")
    await moved.close()

    history = await _history(cluster, user, session_id)
    assert [m["role"] for m in history] == ["user", "assistant"] * 3, history
    answer = history[3]
    assert answer["id"] == finished["message_id"] and not answer["interrupted"]
    assert answer["text"] == OpenAIConfig().reply  # whole, once
    assert await asyncio.to_thread(cluster.a.popen.wait, GRACE_S + 15) is not None  # then A exits by itself
    assert "voice session moved" in cluster.a.logs()


async def test_a_reply_still_running_when_the_grace_ends_is_stored_as_interrupted(
        fakes: tuple[FakeOpenAI, str, str, str], database_url: str, settings: Settings, world: World,
        tmp_path: Path) -> None:
    """One instance with a 1 s grace and a reply that takes longer: it is cut as a barge-in would
    cut it, stored with what was heard, and the client is still sent on."""
    openai, openai_url, eleven_url, _ = fakes
    openai.config.tokens_per_s = 4.0
    server = await asyncio.to_thread(start_live_server, {
        "DATABASE_URL": database_url, "ENVIRONMENT": "test", "JWT_SECRET": settings.jwt_secret,
        "BCRYPT_ROUNDS": "4", "REDIS_URL": "", "PINECONE_API_KEY": "", "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": openai_url + "/v1", "ELEVENLABS_API_KEY": "el-test", "ELEVENLABS_BASE_URL": eleven_url,
        "RAG_WORKERS": "0", "VOICE_IDLE_TIMEOUT_S": "900", "SHUTDOWN_GRACE_S": "1"}, tmp_path / "server.log")
    try:
        account = await world.account(Role.user, await world.dealership())
        client, ready = await _voice(server.url, account)
        await client.send({"type": "text", "text": "Is the price negotiable?"})
        await client.wait_for("audio.start")
        server.process.send_signal(signal.SIGTERM)
        cut = await client.wait_for("interrupted")
        told = await client.wait_for("reconnect")
        assert told == {"type": "reconnect", "reason": "server_draining", "session_id": ready["session_id"]}
        assert await client.closed() == 1012
    finally:
        await asyncio.to_thread(stop_live_server, server)
    detail = await world.client.get(f"/api/v1/sessions/{ready['session_id']}", headers=account.headers)
    answer = detail.json()["messages"][1]
    assert answer["id"] == cut["message_id"] and answer["interrupted"]
    assert answer["text"] == cut["heard_text"] and len(answer["text"]) < len(OpenAIConfig().reply)


# -- metrics (last: the voice tests above ran turns on B) --------------------------------------
async def test_prometheus_metrics_add_up_over_the_workers(cluster: Cluster) -> None:
    """B runs two uvicorn workers: /metrics from either counts the requests both served."""
    def health_count(exposition: str) -> float:
        return sum(float(m) for m in re.findall(
            r'^http_requests_total\{method="GET",route="/api/health",status="200"\} (\S+)$', exposition, re.M))

    async with httpx.AsyncClient(base_url=cluster.b.url) as b:
        before = health_count((await b.get("/metrics")).text)
        for _ in range(30):  # a new connection each: the kernel spreads them over the workers
            async with httpx.AsyncClient(base_url=cluster.b.url) as fresh:
                assert (await fresh.get("/api/health")).status_code == 200
        after = [health_count((await b.get("/metrics")).text) for _ in range(4)]
    assert after == [before + 30] * 4, (before, after)
    async with httpx.AsyncClient(base_url=cluster.b.url) as b:  # where the voice sessions above moved to
        exposition = (await b.get("/metrics")).text
    for name in ("sparring_voice_sessions", "sparring_voice_stage_seconds_bucket"):
        assert name in exposition


# -- last: it stops whichever instance holds the talk -------------------------------------------
async def _voice_sessions(process: Process) -> float:
    async with httpx.AsyncClient(base_url=process.url) as client:
        exposition = (await client.get("/metrics")).text
    found = re.search(r"^sparring_voice_sessions(?:\{[^}]*\})? (\S+)$", exposition, re.M)
    return float(found.group(1)) if found else 0.0


async def test_sparring_talk_moves_with_its_session_when_its_instance_stops(cluster: Cluster,
                                                                           tmp_path: Path) -> None:
    from server.voice.audio import to_wav
    from tests.voice_audio import utterance

    await asyncio.to_thread(cluster.ensure_a)
    user = await _user(cluster)
    wav = tmp_path / "say.wav"
    # Silence first: the instance is told to stop while the talk has the session and has said nothing.
    wav.write_bytes(to_wav(utterance("How much is this car?", before_ms=2500), 16000))
    talk = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server.cli", "talk", "--wav", str(wav), "--out", str(tmp_path / "reply.wav"),
        "--url", cluster.balancer, "--token", user.token, "--persona", "tony-competitor",
        cwd=ROOT, env={**os.environ, "REDIS_URL": ""}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)

    async def holder() -> Process | None:
        for process in (cluster.a, cluster.b):
            if await _voice_sessions(process) >= 1:
                return process
        return None

    target = await until(holder, lambda p: p is not None, interval_s=0.02)
    assert target is not None and target.popen is not None
    target.popen.send_signal(signal.SIGTERM)
    stdout, stderr = await asyncio.wait_for(talk.communicate(), PATIENCE_S * 2)
    out = stdout.decode()
    assert talk.returncode == 0, (out, stderr.decode())
    assert "reconnect: server_draining" in out, out
    session_id = re.search(r"session (\S+) \(offline", out)
    assert session_id is not None, out
    history = await _history_anywhere(cluster, user, session_id.group(1))
    assert [m["role"] for m in history["messages"]] == ["user", "assistant"], history  # said once, answered once
    assert history["ended_at"] is not None
    assert await asyncio.to_thread(target.popen.wait, GRACE_S + 15) is not None  # last: not started again


async def _history_anywhere(cluster: Cluster, account: Account, session_id: str) -> dict[str, Any]:
    response = await cluster.world.client.get(f"/api/v1/sessions/{session_id}", headers=account.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())
