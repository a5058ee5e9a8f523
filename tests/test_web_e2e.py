"""Browser end-to-end tests: Debian's headless Chromium (driven by playwright-core from node)
against a real uvicorn server on a free port. Each test prepares accounts (and data) through the
API, then runs one spec from web/e2e/specs/. Screenshots land in test-artifacts/web/.

Specs whose backend (documents: issue 3, conversations: issue 4, voice: issue 5) is not in this
build are skipped with that reason; they run as soon as those routes exist.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import uuid
import wave
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from server.auth.tokens import issue_access_token
from server.db.models import Role
from server.settings import Settings
from server.web import REPO_DIST
from tests.conftest import ROOT, TEST_PASSWORD, Account, LiveServer, World, another_instance
from tests.patience import until
from tests.test_training_sessions import ASKS, DRILL

pytestmark = pytest.mark.e2e

WEB = ROOT / "web"
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
ARTIFACTS = ROOT / "test-artifacts" / "web"
BACKENDS = {3: "/api/v1/rag/upload", 4: "/api/v1/chat", 5: "/api/v1/voice/live", 18: "/api/v1/builder/sessions"}


@pytest.fixture(scope="module", autouse=True)
def _browser_ready() -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    if not (WEB / "node_modules" / "playwright-core").is_dir():
        pytest.skip("web/node_modules is missing: run scripts/setup")
    if not CHROMIUM.exists():
        pytest.skip(f"Debian chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    if not (REPO_DIST / "index.html").is_file():
        pytest.skip("web/dist is not built: run scripts/setup")


def needs(app: Starlette, *issues: int) -> None:
    paths = {getattr(route, "path", None) for route in app.routes}
    missing = [n for n in issues if BACKENDS[n] not in paths]
    if missing:
        pytest.skip(" and ".join(f"needs issue {n} backend" for n in missing))


async def run_spec(spec: str, server: LiveServer, data: dict[str, Any], fake_audio: Path | None = None) -> None:
    env = {**os.environ, "E2E_BASE_URL": server.url, "E2E_DATA": json.dumps(data), "E2E_ARTIFACTS": str(ARTIFACTS)}
    if fake_audio is not None:
        env["E2E_FAKE_AUDIO"] = str(fake_audio)
    process = await asyncio.create_subprocess_exec(
        "node", "e2e/run.mjs", spec, cwd=WEB, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        # Only a hung spec meets this: each of its waits has its own deadline (lib.mjs PATIENCE_MS).
        output, _ = await asyncio.wait_for(process.communicate(), timeout=600)
    except TimeoutError:
        process.kill()
        await process.wait()
        pytest.fail(f"spec {spec} timed out\n{server.logs()[-4000:]}")
    text = output.decode(errors="replace")
    print(text)
    if process.returncode != 0:
        pytest.fail(f"spec {spec} failed:\n{text}\n--- server log (tail) ---\n{server.logs()[-4000:]}")


def creds(account: Account) -> dict[str, str]:
    return {"email": account.email, "password": TEST_PASSWORD}


async def accounts(world: World) -> tuple[dict[str, dict[str, str]], dict[str, Account]]:
    root = await world.root()
    dealership = await world.dealership()
    admin = await world.account(Role.dealership_admin, dealership)
    user = await world.account(Role.user, dealership)
    made = {"super": root, "admin": admin, "user": user}
    return {name: creds(account) for name, account in made.items()}, made


async def test_login_token_refresh_and_logout(world: World, live_server: LiveServer, settings: Settings) -> None:
    data, made = await accounts(world)
    root = made["super"]
    forged, _ = issue_access_token(secret="not-the-server-secret-" + uuid.uuid4().hex, user_id=root.id,
                                   role="super_admin", dealership_id=None, token_version=0, ttl_seconds=600)
    expired, _ = issue_access_token(secret=settings.jwt_secret, user_id=root.id, role="super_admin",
                                    dealership_id=None, token_version=0, ttl_seconds=-120)
    await run_spec("auth", live_server, {"accounts": data, "tokens": {"forged": forged, "expired": expired}})


async def test_a_salesperson_cannot_open_admin_pages(world: World, live_server: LiveServer) -> None:
    data, _ = await accounts(world)
    await run_spec("rbac", live_server, {"accounts": data})


async def test_admin_pages_and_screenshots(world: World, live_server: LiveServer) -> None:
    data, _ = await accounts(world)
    await run_spec("admin_pages", live_server, {"accounts": data})


async def test_webhooks_page_shows_the_secret_once_and_the_delivery_log(world: World, live_server: LiveServer) -> None:
    data, _ = await accounts(world)
    await run_spec("webhooks", live_server, {"accounts": data})


async def test_practise_starts_the_audio_worklets_under_the_csp(world: World, live_server: LiveServer,
                                                                app: Starlette) -> None:
    data, _ = await accounts(world)
    chat = BACKENDS[4] in {getattr(route, "path", None) for route in app.routes}
    await run_spec("practise_audio", live_server, {"accounts": data, "backends": {"chat": chat}})


async def test_documents_upload_ready_delete(world: World, live_server: LiveServer, app: Starlette) -> None:
    needs(app, 3)
    data, _ = await accounts(world)
    await run_spec("documents", live_server, {"accounts": data})


async def upload_guide(server: LiveServer, admin: Account) -> None:
    """Puts one training document in the dealership and waits until it is ready."""
    text = ("Handling 'the payment is too high': acknowledge it, ask what monthly figure they had in mind, "
            "then show value before price and offer a longer term or a larger down payment.\n")
    async with httpx.AsyncClient(base_url=server.url, headers=admin.headers, timeout=30) as client:
        response = await client.post("/api/v1/rag/upload",
                                     files=[("file", ("payment-objections.txt", text.encode(), "text/plain"))])
        assert response.status_code == 202, response.text
        document_id = response.json()["documents"][0]["id"]
        status = await until(lambda: document_status(client, document_id), lambda s: s in ("ready", "failed"))
        assert status == "ready"


async def document_status(client: httpx.AsyncClient, document_id: str) -> str:
    return str((await client.get(f"/api/v1/rag/documents/{document_id}")).json()["status"])


async def test_text_chat_streams_an_answer_with_its_source(world: World, live_server: LiveServer,
                                                            app: Starlette) -> None:
    needs(app, 3, 4)
    data, made = await accounts(world)
    await upload_guide(live_server, made["admin"])
    await run_spec("chat", live_server, {"accounts": data})


async def test_scorecard_after_ending_a_session(world: World, live_server: LiveServer, app: Starlette) -> None:
    needs(app, 4)
    data, _ = await accounts(world)
    await run_spec("scorecard", live_server, {"accounts": data})


async def test_dispute_resolved_in_the_review_queue_and_heatmap(world: World, live_server: LiveServer,
                                                                 app: Starlette) -> None:
    from tests.test_insight import GOOD, PRICE
    from tests.test_training_sessions import end, practise

    needs(app, 4)
    data, made = await accounts(world)
    session_id = await practise(world.client, made["user"], PRICE, GOOD)
    card = await end(world.client, made["user"], session_id)
    score = card["overall"]
    # A second session, disputed already: the manager rescores it criterion by criterion.
    second = await practise(world.client, made["user"], PRICE, GOOD)
    second_score = (await end(world.client, made["user"], second))["overall"]
    disputed = await world.client.post(f"/api/v1/sessions/{second}/dispute", headers=made["user"].headers,
                                       json={"reason": "Every step was there."})
    assert disputed.status_code == 201, disputed.text
    await run_spec("review_queue", live_server, {"accounts": data, "sessionId": session_id,
                                                 "userId": str(made["user"].id), "score": score,
                                                 "secondId": second, "secondScore": second_score})


async def test_dashboard_and_answer_reports_name_who_and_what(world: World, live_server: LiveServer,
                                                              app: Starlette) -> None:
    """The dealership dashboard's recent sessions (salesperson, status, mode in words) and the
    answer reports table (reporter, session link, status)."""
    needs(app, 4)
    data, made = await accounts(world)
    admin, user = made["admin"], made["user"]
    async with httpx.AsyncClient(base_url=live_server.url, timeout=60) as client:
        renamed = await client.patch(f"/api/v1/users/{user.id}", headers=admin.headers, json={"name": "Sally Seller"})
        assert renamed.status_code == 200, renamed.text
        finished = (await client.post("/api/v1/chat", headers=user.headers, json={
            "message": "How do I handle a price objection?", "mode": "training"})).json()
        ended = await client.post(f"/api/v1/sessions/{finished['session_id']}/end", headers=user.headers)
        assert ended.status_code == 200, ended.text
        active = (await client.post("/api/v1/chat", headers=user.headers, json={
            "message": "Hi, what brings you in today?", "mode": "roleplay", "persona_id": "tony-competitor"})).json()
        report = await client.post("/api/v1/reports", headers=user.headers, json={
            "session_id": finished["session_id"], "message_id": finished["message_id"],
            "reason": "Adam quoted the wrong warranty."})
        assert report.status_code == 201, report.text
    await run_spec("admin_lists", live_server, {"accounts": data, "finished": finished["session_id"],
                                                "active": active["session_id"]})


async def test_personas_copy_edit_disable_enable(world: World, live_server: LiveServer, app: Starlette) -> None:
    needs(app, 4)
    data, _ = await accounts(world)
    await run_spec("personas", live_server, {"accounts": data})


async def test_scenario_built_with_the_builder_practised_and_scored(world: World, live_server: LiveServer,
                                                                   app: Starlette) -> None:
    """Issue 18 end to end in the browser, offline: an admin builds a scenario by chatting with the
    builder and saves the draft; a salesperson practises it by text and gets the version 2
    scorecard (criteria, facts uncovered, pass/fail); an evidence quote highlights its message."""
    needs(app, 4, 18)
    data, _ = await accounts(world)
    await run_spec("scenarios", live_server, {"accounts": data})


async def test_scenario_and_rubric_editors(world: World, live_server: LiveServer, app: Starlette) -> None:
    """Issue 18: a copied rubric with a criterion of its own; a copied built-in scenario on that
    rubric with its own hidden fact, deactivated (gone for salespeople) and activated again."""
    needs(app, 4)
    if "/api/v1/scenarios" not in {getattr(route, "path", None) for route in app.routes}:
        pytest.skip("needs issue 18 backend")
    data, _ = await accounts(world)
    await run_spec("scenario_editor", live_server, {"accounts": data})


def spoken_wav(path: Path, text: str = "The customer says the monthly payment is too high. What should I say?") -> Path:
    """Spoken English from espeak-ng: what the specs' scripted microphone says (web/e2e/lib.mjs)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("needs espeak-ng to synthesise the fake microphone's speech (apt-get install espeak-ng)")
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(path), text], check=True)
    return path


def speech_wav(path: Path, *, repeat_during_reply: bool) -> Path:
    """For Chromium's own fake microphone (run_spec's fake_audio), which loops the file: the speech
    with silence after it (and, for barge-in, speech again while the reply is playing). Its
    fixed schedule suits an idle machine only; specs that wait for the page use spoken_wav."""
    spoken = spoken_wav(path.with_suffix(".speech.wav"))
    with wave.open(str(spoken)) as source:
        params = source.getparams()
        speech = source.readframes(source.getnframes())
    frame_bytes = params.sampwidth * params.nchannels

    def silence(seconds: float) -> bytes:
        return b"\x00" * int(params.framerate * seconds) * frame_bytes

    # Barge-in: speak again ~1.5 s after the first question, while the answer is being spoken.
    # Otherwise the next loop must not speak over the answer: 20 s leave a loaded machine time to
    # synthesise (Piper runs ~0.1-0.3x real time per core, slower when the cores are shared) and
    # play it.
    body = speech + silence(1.5) + speech + silence(6) if repeat_during_reply else speech + silence(20)
    with wave.open(str(path), "wb") as out:
        out.setparams(params)
        out.writeframes(body)
    return path


async def test_voice_turn_with_a_fake_microphone(world: World, live_server: LiveServer, app: Starlette,
                                                 tmp_path: Path) -> None:
    needs(app, 5)
    data, _ = await accounts(world)
    await run_spec("voice", live_server, {"accounts": data, "speech": str(spoken_wav(tmp_path / "turn.wav"))})


async def test_captions_highlight_each_word_as_it_is_spoken(world: World, app: Starlette, settings: Settings,
                                                          database_url: str, tmp_path: Path) -> None:
    needs(app, 5)
    data, _ = await accounts(world)
    # Word timings come from the synthesizer: here Piper, the default offline voice, from its own
    # phoneme durations.
    with another_instance(settings, database_url, tmp_path, OFFLINE_TTS="piper", OPENAI_API_KEY="",
                          ELEVENLABS_API_KEY="", PINECONE_API_KEY="") as server:
        await run_spec("captions", server, {"accounts": data},
                       fake_audio=speech_wav(tmp_path / "captions.wav", repeat_during_reply=False))


async def test_barge_in_stops_playback_and_marks_the_reply_interrupted(world: World, live_server: LiveServer,
                                                                       app: Starlette, tmp_path: Path) -> None:
    needs(app, 5)
    data, _ = await accounts(world)
    await run_spec("barge_in", live_server, {"accounts": data, "speech": str(spoken_wav(tmp_path / "barge.wav"))})


async def test_backchannel_is_a_note_on_the_customers_message(world: World, live_server: LiveServer, app: Starlette,
                                                             tmp_path: Path) -> None:
    """Issue 16: "yeah" said over the reply pauses it and it plays on; the transcript shows the
    backchannel as a note on the customer's message, not as a turn."""
    needs(app, 5)
    data, _ = await accounts(world)
    await run_spec("backchannel", live_server, {"accounts": data, "speech": str(spoken_wav(tmp_path / "turn.wav")),
                                                "backchannel": str(spoken_wav(tmp_path / "yeah.wav", "Yeah."))})


async def test_face_to_face_with_the_built_in_avatar(world: World, live_server: LiveServer, app: Starlette,
                                                     tmp_path: Path) -> None:
    """Issue 17: listening, thinking, speaking in order; the mouth moves with the reply and rests
    after the barge-in; the persona's look (picked on the persona page) is the face. The offline
    voice (Piper) sends `audio.words`, which the lips follow (the fallback timings from the text
    and audio length, for a voice without word timings, are covered by web/src/avatar/driver.test.ts)."""
    needs(app, 4, 5)
    data, _ = await accounts(world)
    await run_spec("face_to_face", live_server, {"accounts": data, "speech": str(spoken_wav(tmp_path / "face.wav")),
                                                 "words": True})


@pytest.mark.parametrize("case", ["start_failed", "room_failed"])
async def test_face_to_face_falls_back_to_the_built_in_avatar(world: World, app: Starlette, settings: Settings,
                                                              database_url: str, tmp_path: Path, case: str) -> None:
    """Issue 17: LiveAvatar configured (the fake), but it fails: to start (the server falls back),
    or the browser cannot join its video room (the page falls back and resumes the session). A
    notice shows, the built-in avatar appears, and the next turn's reply is heard in the page."""
    needs(app, 4, 5)
    from tests.fakes.liveavatar_server import API_KEY, AVATAR_ID, FakeLiveAvatar
    from tests.fakes.server import serve_in_thread

    data, _ = await accounts(world)
    avatar = FakeLiveAvatar()
    if case == "start_failed":
        avatar.config.start_fail_status = 503
    with serve_in_thread(avatar.app()) as avatar_url, another_instance(
            settings, database_url, tmp_path, OPENAI_API_KEY="", ELEVENLABS_API_KEY="", PINECONE_API_KEY="",
            LIVEAVATAR_API_KEY=API_KEY, LIVEAVATAR_AVATAR_ID=AVATAR_ID, LIVEAVATAR_BASE_URL=avatar_url) as server:
        await run_spec("face_fallback", server, {"accounts": data, "case": case,
                                                 "speech": str(spoken_wav(tmp_path / "fallback.wav"))})
        # The provider's session was asked for (and, when it had started, stopped again).
        assert avatar.token_requests, "the server asked LiveAvatar for a session"

        async def unstopped() -> list[str]:
            return [s.session_id for s in avatar.sessions.values() if s.started and s.stopped_at is None]

        assert await until(unstopped, lambda left: not left) == [], "every LiveAvatar session started was stopped"


def silent_wav(path: Path, seconds: float = 10) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(b"\x00\x00" * int(16000 * seconds))
    return path


async def test_voice_warning_clears_and_an_empty_session_ends_cleanly(world: World, live_server: LiveServer,
                                                                      app: Starlette, tmp_path: Path) -> None:
    """Issue 14: the "too fast" warning clears once audio is accepted again (item 1); ending a
    session before any turn shows a plain message and "Practise again" (item 3)."""
    needs(app, 5)
    data, _ = await accounts(world)
    await run_spec("voice_lifecycle", live_server, {"accounts": data}, fake_audio=silent_wav(tmp_path / "silence.wav"))


async def test_session_review_plays_the_recording(world: World, live_server: LiveServer, app: Starlette) -> None:
    """A voice session in a dealership that records audio (offline providers: the TTS is eSpeak);
    its review page shows a player holding the recording."""
    needs(app, 5)
    from server.voice.audio import silence
    from tests.patience import PatientVoiceClient as VoiceClient

    data, made = await accounts(world)
    admin, user = made["admin"], made["user"]
    response = await world.client.patch(f"/api/v1/dealerships/{user.dealership_id}", headers=admin.headers,
                                        json={"settings": {"record_audio": True}})
    assert response.status_code == 200, response.text
    client = await VoiceClient.connect(live_server.url, user.token)
    recorded = (await client.start("training"))["session_id"]
    await client.stream(silence(300, 16000))  # the microphone's side
    await client.send({"type": "text", "text": "How do I answer a customer who says the price is too high?"})
    await client.wait_for("metrics")
    await client.send({"type": "end"})
    await client.wait_for("session.ended")
    async with httpx.AsyncClient(base_url=live_server.url, headers=user.headers, timeout=30) as http:

        async def recordings() -> dict[str, Any]:
            reply = await http.get(f"/api/v1/sessions/{recorded}/recordings")
            return reply.json() if reply.status_code == 200 else {}  # type: ignore[no-any-return]

        # The clips are written in the background after the turn.
        listing = await until(recordings, lambda r: {i["side"] for i in r.get("items", [])} == {"user", "assistant"})
        assert listing.get("total_ms", 0) > 0, listing
        chat = await http.post("/api/v1/chat", json={"mode": "training", "message": "Hello"})
        assert chat.status_code == 200, chat.text
    await run_spec("recording", live_server, {"accounts": data, "recorded": recorded,
                                              "unrecorded": chat.json()["session_id"],
                                              "total_ms": listing["total_ms"]})


async def test_review_shows_voice_timings_a_response_time_for_trainees(world: World, live_server: LiveServer,
                                                                        app: Starlette) -> None:
    """A spoken turn, then `end` at once (as `sparring talk` does): the review keeps the voice
    stages for the admin's waterfall, and the trainee sees a plain response time."""
    needs(app, 5)
    from server.voice.client import VoiceClient
    from tests.voice_audio import utterance

    data, made = await accounts(world)
    client = await VoiceClient.connect(live_server.url, made["user"].token)
    session_id = (await client.start("training"))["session_id"]
    # The microphone stays open until the reply: Whisper on a busy machine can hold the end of
    # the turn up to VOICE_END_OF_TURN_MAX_MS of silence.
    metrics = await client.say(utterance("How do I answer a customer who says the price is too high?"),
                               ("metrics",), wait_s=120)
    await client.send({"type": "end"})
    await client.wait_for("session.ended")
    await run_spec("review_timings", live_server, {"accounts": data, "voice_session": session_id,
                                                   "first_audio_ms": metrics["first_audio_ms"]})


async def test_a_manager_assigns_a_trainee_passes_and_the_board_moves(world: World, live_server: LiveServer,
                                                                    app: Starlette) -> None:
    needs(app, 4)

    data, made = await accounts(world)
    admin = made["admin"]
    renamed = await world.client.patch(f"/api/v1/users/{made['user'].id}", headers=admin.headers,
                                       json={"name": "Tina Trainee"})
    assert renamed.status_code == 200, renamed.text
    program = await world.client.post("/api/v1/programs", headers=admin.headers,
                                      json={"name": "Floor ready", "scenario_ids": [DRILL]})
    assert program.status_code == 201, program.text
    await run_spec("assignments", live_server, {"accounts": data, "scenario": DRILL, "trainee_name": "Tina Trainee",
                                                "lines": ASKS})
