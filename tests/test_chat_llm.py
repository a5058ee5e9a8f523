"""The engine against a fake OpenAI-compatible server, through the real `openai` SDK: streaming,
usage, retries before the first token, provider faults, barge-in, and the model's scorecard."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from starlette.applications import Starlette

from server.app import create_app
from server.conversation.events import Delta, Started
from server.conversation.llm import LLMError, OpenAIChat, _chunks
from server.conversation.models import Channel, ConversationMessage, ConversationSession, Mode, SessionStatus
from server.db.models import Dealership, Role
from server.settings import Settings
from server.state import AppState
from server.tenancy import Principal
from tests.conftest import Account, World, another_instance, free_port, make_settings
from tests.conversation_support import parse_sse
from tests.fakes.openai_chat import FakeOpenAI, Fault, echo_reply
from tests.fakes.server import serve_in_thread

ANSWER = "Acknowledge the payment concern, then rebuild value with the warranty and offer a longer term."


@pytest.fixture(scope="module")
def fake_server() -> Iterator[tuple[FakeOpenAI, str]]:
    fake = FakeOpenAI()
    with serve_in_thread(fake.app) as url:
        yield fake, url


@pytest.fixture(scope="module")
async def llm_app(fake_server: tuple[FakeOpenAI, str], database_url: str, settings: Settings,
                  app: Starlette) -> AsyncIterator[Starlette]:
    llm_settings = make_settings(database_url, jwt_secret=settings.jwt_secret, openai_api_key="test-key",
                                 openai_base_url=fake_server[1] + "/v1", llm_first_token_timeout_seconds=1.5,
                                 llm_retries=2, rate_limit_chat="1000/minute")
    application = create_app(llm_settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def fake(fake_server: tuple[FakeOpenAI, str]) -> FakeOpenAI:
    fake = fake_server[0]
    fake.faults.clear()
    fake.requests.clear()
    fake.ttft, fake.tokens_per_second, fake.json_reply, fake.gzip = 0.0, 0.0, None, False
    fake.reply = lambda messages: ANSWER
    return fake


@pytest.fixture
async def llm(llm_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=llm_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def user_of(world: World) -> Account:
    return await world.account(Role.user, await world.dealership())


async def transcript(client: httpx.AsyncClient, account: Account, session_id: str) -> list[dict[str, Any]]:
    detail = (await client.get(f"/api/v1/sessions/{session_id}", headers=account.headers)).json()
    return list(detail["messages"])


async def test_answers_stream_through_the_real_sdk(llm: httpx.AsyncClient, fake: FakeOpenAI, world: World) -> None:
    user = await user_of(world)
    response = await llm.post("/api/v1/chat", headers={**user.headers, "Accept": "text/event-stream"},
                              json={"mode": "training", "message": "The customer says the payment is too high."})
    events = parse_sse(response.text)
    assert [n for n, _ in events][-2:] == ["sources", "done"]
    deltas = [d["text"] for n, d in events if n == "delta"]
    assert "".join(deltas) == ANSWER and len(deltas) == len(ANSWER.split(" "))
    done = events[-1][1]
    assert done["offline"] is False and done["model"] == "gpt-4o"
    assert done["usage"]["completion_tokens"] == len(deltas) and done["usage"]["prompt_tokens"] > 0
    assert done["usage"]["estimated"] is False and done["usage"]["cost_usd"] > 0
    request = fake.requests[-1]
    assert request["stream"] is True and request["stream_options"] == {"include_usage": True}
    assert request["messages"][0]["role"] == "system" and "Adam" in request["messages"][0]["content"]
    assert request["messages"][-1] == {"role": "user", "content": "The customer says the payment is too high."}
    second = await llm.post("/api/v1/chat", headers=user.headers, json={
        "mode": "training", "message": "And then?", "session_id": done["session_id"]})
    assert second.status_code == 200
    assert [m["role"] for m in fake.requests[-1]["messages"]] == ["system", "user", "assistant", "user"]
    stored = await transcript(llm, user, done["session_id"])
    assert stored[1]["prompt_tokens"] == done["usage"]["prompt_tokens"] and stored[1]["timings"]["ttft_ms"] > 0


async def test_the_model_is_asked_while_the_users_turn_commits(llm_app: Starlette, llm: httpx.AsyncClient,
                                                              fake: FakeOpenAI, world: World) -> None:
    """The turn's commit overlaps the model's time to first token, yet nothing reaches the
    client before the turn is saved."""
    user = await user_of(world)
    state: AppState = llm_app.state.sparring
    async with state.sessionmaker() as db, db.begin():
        # A new session's INSERT key-share locks its dealership's row: holding that row for
        # update keeps the user's turn from committing until this block ends.
        await db.execute(select(Dealership.id).where(Dealership.id == user.dealership_id).with_for_update())
        chat = asyncio.create_task(llm.post(
            "/api/v1/chat", headers={**user.headers, "Accept": "text/event-stream"},
            json={"mode": "training", "message": "How do I handle a customer who wants to think about it?"}))
        for _ in range(1000):  # the fake serves from another thread: poll its request log
            if fake.requests:
                break
            await asyncio.sleep(0.01)
        assert len(fake.requests) == 1, "the model was not asked while the turn was waiting to commit"
        await asyncio.sleep(0.2)  # the model answers at once: the reply must still wait for the turn
        assert not chat.done()
        async with state.sessionmaker() as other:
            saved = await other.scalar(select(func.count()).select_from(ConversationMessage)
                                       .where(ConversationMessage.user_id == user.id))
        assert saved == 0
    events = parse_sse((await chat).text)
    assert [n for n, _ in events][-2:] == ["sources", "done"]
    session_id = events[-1][1]["session_id"]
    assert [m["role"] for m in await transcript(llm, user, session_id)] == ["user", "assistant"]
    assert len(fake.requests) == 1


async def test_a_gzip_compressed_event_stream_is_read(llm: httpx.AsyncClient, fake: FakeOpenAI,
                                                      world: World) -> None:
    """Some proxies compress event streams: the body is decoded before it is parsed."""
    fake.gzip = True
    user = await user_of(world)
    response = await llm.post("/api/v1/chat", headers={**user.headers, "Accept": "text/event-stream"},
                              json={"mode": "training", "message": "How should I present GAP insurance?"})
    events = parse_sse(response.text)
    assert [n for n, _ in events][-2:] == ["sources", "done"]
    assert "".join(d["text"] for n, d in events if n == "delta") == ANSWER


async def test_a_turn_that_cannot_be_stored_gives_the_model_request_up_at_once(
        fake: FakeOpenAI, fake_server: tuple[FakeOpenAI, str], world: World, settings: Settings,
        database_url: str, tmp_path: Path, app: Starlette) -> None:
    """The turn is written while the model is asked; if that write fails (here the session
    ends between the read of its history and the write), the answer is not waited for."""
    user = await user_of(world)
    with another_instance(settings, database_url, tmp_path, OPENAI_API_KEY="test-key",
                          OPENAI_BASE_URL=fake_server[1] + "/v1", LLM_FIRST_TOKEN_TIMEOUT_SECONDS="120") as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:
            first = await client.post("/api/v1/chat", headers=user.headers,
                                      json={"mode": "training", "message": "How should I present GAP insurance?"})
            session_id = uuid.UUID(first.json()["session_id"])
            fake.ttft = 60.0  # a first token the test would time out waiting for
            state: AppState = app.state.sparring
            async with state.sessionmaker() as db, db.begin():
                # Holding the session's row keeps the turn's write (an UPDATE of that row) waiting.
                await db.execute(select(ConversationSession.id).where(ConversationSession.id == session_id)
                                 .with_for_update())
                asked = len(fake.requests)
                chat = asyncio.create_task(client.post("/api/v1/chat", headers=user.headers, json={
                    "mode": "training", "message": "And the service contract?", "session_id": str(session_id)}))
                for _ in range(1000):  # the fake serves from another thread: poll its request log
                    if len(fake.requests) > asked:
                        break
                    await asyncio.sleep(0.01)
                assert len(fake.requests) == asked + 1, "the model was not asked"
                await db.execute(update(ConversationSession).where(ConversationSession.id == session_id)
                                 .values(status=SessionStatus.ended))
            response = await asyncio.wait_for(chat, 15)
            assert response.status_code == 409 and response.json()["error"]["code"] == "session_ended"
            users = [m for m in await transcript(client, user, str(session_id)) if m["role"] == "user"]
            assert [m["text"] for m in users] == ["How should I present GAP insurance?"]


async def test_tokens_holding_unicode_line_separators_arrive_whole(llm: httpx.AsyncClient, fake: FakeOpenAI,
                                                                   world: World) -> None:
    """JSON may carry U+2028/U+0085 raw; only CR and LF end an event-stream line."""
    user = await user_of(world)
    answer = "Café\u2028financing: the\u0085rate is 4.9\u2029% — fixed."
    fake.reply = lambda messages: answer
    response = await llm.post("/api/v1/chat", headers=user.headers, json={"mode": "training", "message": "Rates?"})
    assert response.status_code == 200
    assert response.json()["response"].strip() == answer


async def test_a_429_before_the_first_token_is_retried(llm: httpx.AsyncClient, fake: FakeOpenAI,
                                                       world: World) -> None:
    user = await user_of(world)
    fake.fail_next(Fault("status", status=429, retry_after=0.05))
    response = await llm.post("/api/v1/chat", headers=user.headers, json={"mode": "training", "message": "Hi"})
    assert response.status_code == 200 and response.json()["response"] == ANSWER
    assert len(fake.requests) == 2


async def test_provider_down_keeps_the_message_and_a_retry_continues(llm: httpx.AsyncClient, fake: FakeOpenAI,
                                                                     world: World) -> None:
    user = await user_of(world)
    fake.fail_next(*[Fault("status", status=500)] * 3)
    body = {"mode": "training", "message": "How do I present GAP coverage?"}
    failed = await llm.post("/api/v1/chat", headers=user.headers, json=body)
    assert failed.status_code == 503
    error = failed.json()["error"]
    assert error["code"] == "provider_unavailable" and error["details"]["retryable"] is True
    assert len(fake.requests) == 3
    session_id = error["details"]["session_id"]
    assert [m["role"] for m in await transcript(llm, user, session_id)] == ["user"]
    retried = await llm.post("/api/v1/chat", headers=user.headers, json={**body, "session_id": session_id})
    assert retried.status_code == 200 and retried.json()["user_message_id"] == error["details"]["user_message_id"]
    assert [m["role"] for m in await transcript(llm, user, session_id)] == ["user", "assistant"]


async def test_a_model_server_that_refuses_connections_is_unavailable_not_slow(database_url: str) -> None:
    # Nothing listens on the port: the connection is refused at once. (The SDK's aiohttp transport
    # reports that as a connect timeout; users and alerts must see "cannot be reached".)
    settings = make_settings(database_url, openai_api_key="test-key", llm_retries=0,
                             openai_base_url=f"http://127.0.0.1:{free_port()}/v1")
    chat = OpenAIChat(settings)
    try:
        with pytest.raises(LLMError) as failure:
            async for _ in chat.stream([{"role": "user", "content": "Hello"}]):
                pass
    finally:
        await chat.close()
    assert (failure.value.code, failure.value.retryable) == ("provider_unavailable", True)


async def test_a_stream_cut_midway_ends_with_an_error_event(llm: httpx.AsyncClient, fake: FakeOpenAI,
                                                            world: World) -> None:
    user = await user_of(world)
    fake.fail_next(Fault("cut", after_tokens=3))
    response = await llm.post("/api/v1/chat", headers={**user.headers, "Accept": "text/event-stream"},
                              json={"mode": "training", "message": "Hi"})
    events = parse_sse(response.text)
    assert [n for n, _ in events] == ["delta", "delta", "delta", "error"]
    error = events[-1][1]
    assert error["code"] == "stream_interrupted" and error["retryable"] is True
    assert [m["role"] for m in await transcript(llm, user, error["session_id"])] == ["user"]


async def test_a_stream_that_stops_without_finishing_is_an_error(llm: httpx.AsyncClient, fake: FakeOpenAI,
                                                                 world: World) -> None:
    user = await user_of(world)
    fake.fail_next(Fault("truncate", after_tokens=2))
    response = await llm.post("/api/v1/chat", headers=user.headers, json={"mode": "training", "message": "Hi"})
    assert response.status_code == 503 and response.json()["error"]["code"] == "stream_interrupted"


async def test_a_slow_first_token_times_out(llm: httpx.AsyncClient, fake: FakeOpenAI, world: World) -> None:
    user = await user_of(world)
    fake.ttft = 3.0
    response = await llm.post("/api/v1/chat", headers=user.headers, json={"mode": "training", "message": "Hi"})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "provider_timeout"
    assert response.json()["error"]["details"]["retryable"] is True


async def test_barge_in_keeps_only_what_was_heard(llm_app: Starlette, llm: httpx.AsyncClient, fake: FakeOpenAI,
                                                  world: World) -> None:
    user = await user_of(world)
    state: AppState = llm_app.state.sparring
    engine = state.conversations
    assert engine is not None
    fake.tokens_per_second = 50
    principal = Principal(user.id, Role.user, user.dealership_id, user.email, "user")
    conv = await engine.open(principal, mode=Mode.roleplay, persona_id="maria-payment", channel=Channel.voice)
    heard: list[str] = []
    message_id: uuid.UUID | None = None
    async with aclosing(engine.reply(conv, "Hi, welcome!", metrics={"speech_ms": 1200})) as events:
        async for event in events:
            if isinstance(event, Started):
                message_id = event.message_id
            elif isinstance(event, Delta):
                heard.append(event.text)
                if len(heard) == 3:
                    break  # the user barged in
    assert message_id is not None
    assert await engine.record_interrupted(message_id, "".join(heard))
    messages = await transcript(llm, user, str(conv.session_id))
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[0]["metrics"] == {"speech_ms": 1200}
    answer = messages[1]
    assert answer["interrupted"] is True and answer["text"] == "".join(heard)
    assert ANSWER.startswith(answer["metrics"]["generated_text"]) and answer["text"] != ANSWER
    fake.tokens_per_second = 0
    async with aclosing(engine.reply(conv, "Sorry, go on.")) as events:
        assert [type(e).__name__ for e in [e async for e in events]][-2:] == ["Sources", "Done"]
    assert fake.requests[-1]["messages"][-2] == {"role": "assistant", "content": "".join(heard)}


async def test_a_client_leaving_mid_answer_stops_the_model_and_keeps_what_was_said(
        fake: FakeOpenAI, fake_server: tuple[FakeOpenAI, str], world: World, settings: Settings,
        database_url: str, tmp_path: Path) -> None:
    """Over a real uvicorn server: the stream runs in the request's own task, and the client's
    departure must still reach the engine at once (the model's stream closed, the partial
    answer stored as interrupted)."""
    user = await user_of(world)
    fake.tokens_per_second = 20  # the whole answer would take ~0.8 s
    with another_instance(settings, database_url, tmp_path, OPENAI_API_KEY="test-key",
                          OPENAI_BASE_URL=fake_server[1] + "/v1") as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            received = ""
            async with client.stream("POST", "/api/v1/chat", headers={**user.headers, "Accept": "text/event-stream"},
                                     json={"mode": "training", "message": "The payment is too high."}) as response:
                async for piece in response.aiter_text():
                    received += piece
                    if received.count("event: delta") >= 2:
                        break  # the client leaves: the connection closes
            sent = "".join(d["text"] for name, d in parse_sse(received.rsplit("\n\n", 1)[0] + "\n\n")
                           if name == "delta")
            deadline = asyncio.get_running_loop().time() + 10
            answer = None
            while answer is None and asyncio.get_running_loop().time() < deadline:
                sessions = (await client.get("/api/v1/sessions", headers=user.headers)).json()["items"]
                if sessions:
                    session_id = sessions[0]["id"]
                    messages = await transcript(client, user, session_id)
                    answer = next((m for m in messages if m["role"] == "assistant"), None)
                await asyncio.sleep(0.1)
            assert answer is not None, "the partial answer was not stored"
            assert answer["interrupted"] is True
            assert answer["text"].startswith(sent) and ANSWER.startswith(answer["text"])
            # The model's stream stopped early: nothing near the whole answer was generated.
            assert len(answer["text"]) < len(ANSWER) / 2, answer["text"]


async def test_two_quick_turns_on_a_new_session_are_both_stored_in_order(llm_app: Starlette, llm: httpx.AsyncClient,
                                                                         fake: FakeOpenAI, world: World) -> None:
    """A second turn that starts while the first is still being stored (a double submit, a
    barge-in on the first reply) waits for it instead of racing the session's creation."""
    user = await user_of(world)
    engine = llm_app.state.sparring.conversations
    assert engine is not None
    principal = Principal(user.id, Role.user, user.dealership_id, user.email, "user")
    conv = await engine.open(principal, mode=Mode.training, channel=Channel.voice)

    async def turn(text: str) -> list[str]:
        async with aclosing(engine.reply(conv, text)) as events:
            return [type(e).__name__ async for e in events]

    first, second = await asyncio.gather(turn("How do I present GAP?"), turn("And the service contract?"))
    assert first[-1] == "Done" and second[-1] == "Done"
    messages = await transcript(llm, user, str(conv.session_id))
    users = [m["text"] for m in messages if m["role"] == "user"]
    assert users == ["How do I present GAP?", "And the service contract?"]
    assert len(messages) == 4


async def test_a_customer_breaking_character_is_flagged(llm: httpx.AsyncClient, fake: FakeOpenAI,
                                                        world: World) -> None:
    user = await user_of(world)
    fake.reply = lambda messages: "As an AI language model, I don't actually buy cars."
    data = (await llm.post("/api/v1/chat", headers=user.headers, json={
        "mode": "roleplay", "persona_id": "linda-fi", "message": "Hello!"})).json()
    detail = (await llm.get(f"/api/v1/sessions/{data['session_id']}", headers=user.headers)).json()
    assert detail["flagged"] is True and [f["kind"] for f in detail["flags"]] == ["broke_character"]
    assert "customer" in fake.requests[-1]["messages"][0]["content"]


async def test_the_model_scores_the_session_and_its_evidence_is_checked(llm: httpx.AsyncClient, fake: FakeOpenAI,
                                                                         world: World) -> None:
    user = await user_of(world)
    fake.reply = echo_reply
    lines = ["Hi, I'm Jo, welcome in!", "I understand; the warranty covers every repair for five years."]
    session_id = None
    for line in lines:
        response = await llm.post("/api/v1/chat", headers=user.headers, json={
            "mode": "roleplay", "persona_id": "linda-fi", "message": line, "session_id": session_id})
        session_id = response.json()["session_id"]

    def scorecard(name: str, schema: dict[str, Any], messages: list[dict[str, Any]]) -> dict[str, Any]:
        assert name == "scorecard" and "Salesperson: Hi, I'm Jo, welcome in!" in messages[0]["content"]
        assert schema["additionalProperties"] is False
        return {
            "turns": [{"index": 0, "techniques": ["greeting_rapport"], "objection": None},
                      {"index": 1, "techniques": [], "objection": "fi_products"}],
            "scores": [{"dimension": "rapport", "score": 4, "evidence": "Hi, I'm Jo, welcome in!"},
                       {"dimension": "closing", "score": 2, "evidence": "Sign here and you get a free car."}],
            "objections_raised": ["fi_products"], "objections_resolved": [],
            "summary": "Warm opening; ask for the sale.",
        }

    fake.json_reply = scorecard
    card = (await llm.post(f"/api/v1/sessions/{session_id}/end", headers=user.headers)).json()
    assert card["generated_by"] == "llm" and card["summary"] == "Warm opening; ask for the sale."
    scores = {s["dimension"]: s for s in card["scores"]}
    assert len(scores) == 5
    assert scores["rapport"]["score"] == 4 and scores["rapport"]["evidence"] == "Hi, I'm Jo, welcome in!"
    assert scores["closing"]["score"] == 2 and scores["closing"]["evidence"] == ""  # invented quote dropped
    assert card["objections"] == {"raised": ["fi_products"], "resolved": [], "unresolved": ["fi_products"]}
    messages = await transcript(llm, user, str(session_id))
    assert messages[0]["tags"] == {"techniques": ["greeting_rapport"], "by": "llm"}
    assert messages[1]["tags"]["objection"] == "fi_products"


async def _parsed(pieces: list[bytes]) -> list[dict[str, Any]]:
    async def body() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece

    return [chunk async for chunk in _chunks(body())]


async def test_the_event_stream_parses_alike_however_it_is_cut() -> None:
    """Whole events in a piece each (the usual case), cut anywhere (a CR at a piece's end
    included), with CRLF line ends and comments, or with data over two lines: the same chunks,
    and nothing after [DONE]."""
    events = [b'{"choices":[{"delta":{"content":"a\xe2\x80\xa8b"}}]}', b'{"choices":[{"delta":{"content":"c"}}]}']
    expected = [{"choices": [{"delta": {"content": "a\u2028b"}}]}, {"choices": [{"delta": {"content": "c"}}]}]
    whole = [b"data: " + event + b"\n\n" for event in events] + [b"data: [DONE]\n\n", b'data: {"late":1}\n\n']
    crlf = b"".join(b": keep-alive\r\ndata: " + event + b"\r\n\r\n" for event in events) + b"data: [DONE]\r\n\r\n"
    assert await _parsed(whole) == expected
    assert await _parsed([bytes([byte]) for byte in b"".join(whole)]) == expected
    assert await _parsed([crlf[i:i + 7] for i in range(0, len(crlf), 7)]) == expected
    split_data = b'data: {"choices":[{"delta":\ndata: {"content":"c"}}]}\n\n'
    assert await _parsed([split_data]) == expected[1:]
    assert await _parsed([b"data: " + events[1]]) == expected[1:]  # no blank line at the very end
