"""The conversation engine: the one brain every channel (text chat, voice, avatar) talks to.

    conv = await engine.open(principal, mode=..., persona_id=..., session_id=None, channel=...)
    async for event in engine.reply(conv, text):   # Started, Delta*, Sources, Done; or Failed
        ...
    await engine.record_interrupted(message_id, heard_text)   # after a barge-in
    scorecard = await engine.end(principal, session_id)

A session may practise a scenario (`scenario_id`): it keeps a frozen copy, and `server.training`
plays and judges it (the customer's instructions, the per-turn character check and fact tags,
the time limit, scorecard v2); the engine only routes to it.

The model is asked as soon as the history (read first, beside retrieval) and the passages are
known; the user's turn is written while the model thinks. Nothing is yielded until it is
stored, so a provider failure still loses nothing and a retry of the same text continues from
it; a failed write gives the request up at once. The answer is committed before `Done` is yielded. If the
consumer stops listening mid-answer (cancellation, barge-in), what was generated so far is
saved, marked interrupted, by a supervised task.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from server import outage
from server.conversation import moderation, offline, personas, prompts, tagging
from server.conversation.events import Delta, Done, EngineEvent, Failed, Sources, Started
from server.conversation.grounding import Passage, Retriever, retrieve
from server.conversation.llm import LLM, ChatTurn, LLMError
from server.conversation.models import (
    Channel,
    ConversationMessage,
    ConversationSession,
    MessageRole,
    Mode,
    SessionStatus,
)
from server.conversation.personas import PersonaView
from server.conversation.usage import Usage, estimate_tokens
from server.db.engine import DriverStatement, driver, plain_uuid
from server.errors import Conflict, NotFound, ValidationFailed
from server.insight import summary as insight_summary
from server.practice import assignments, progress
from server.review import queue as review_queue
from server.settings import Settings
from server.tasks import Interruption, TaskSupervisor
from server.tenancy import Principal, Scope
from server.training import catalog, character, instructions, scorecard, turns
from server.training.spec import FrozenScenario
from server.ttlcache import MISSING, TtlCache
from server.webhooks import events as webhook_events
from server.webhooks.models import EventType

log = logging.getLogger(__name__)
HISTORY_ROWS = 60
MAX_UNSAVED = 10_000
History = list[tuple[str, str, dict[str, Any]]]  # (role, text, tags), oldest first
# Where the time before the model request went, stored with each answer's metrics.
# (The rest of it is derivable: ttft_ms - model_ttft_ms.)
_STAGES = ("open_ms", "retrieval_ms")


@dataclass(frozen=True, slots=True)
class Conversation:
    session_id: uuid.UUID
    dealership_id: uuid.UUID
    user_id: uuid.UUID
    mode: Mode
    channel: Channel
    persona: PersonaView
    created: bool
    scenario: FrozenScenario | None = None  # the frozen copy the session keeps, when it practises one
    started_at: datetime | None = None  # a stored session's start (None: starting now)
    assignment_id: uuid.UUID | None = None  # the assignment it counts towards (`server.practice`)


@dataclass(frozen=True, slots=True)
class _UserTurn:
    message_id: uuid.UUID
    history: History


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)


class ConversationEngine:
    def __init__(self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], tasks: TaskSupervisor,
                 *, llm: LLM | None, retriever: Retriever | None) -> None:
        self.settings = settings
        self.llm = llm
        self.retriever = retriever
        self._sessionmaker = sessionmaker
        self._engine: AsyncEngine = sessionmaker.kw["bind"]
        self._tasks = tasks
        self._saving: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._recording: dict[uuid.UUID, asyncio.Task[Any]] = {}  # by session: its latest user turn
        # Sessions opened but not stored yet (a session is stored with its first turn): their columns.
        self._unsaved: dict[uuid.UUID, dict[str, Any]] = {}
        # Read by every new session, changed by an admin now and then: kept like account state
        # (another instance sees a change within the TTL; this one at once, `dealership_changed`).
        self._disabled: TtlCache[uuid.UUID, frozenset[str]] = TtlCache(settings.principal_cache_seconds)

    @property
    def offline(self) -> bool:
        return self.llm is None

    @property
    def model(self) -> str:
        return offline.MODEL_NAME if self.llm is None else self.llm.model

    async def open(self, principal: Principal, *, mode: Mode, persona_id: str | None = None,
                   session_id: uuid.UUID | None = None, channel: Channel = Channel.text,
                   dealership_id: uuid.UUID | None = None, scenario_id: str | None = None,
                   assignment_id: uuid.UUID | None = None) -> Conversation:
        """Continue the caller's own active session, or start one (404/409/422 as `SparringError`s).

        A new session is stored with its first turn, so opening one costs no database write; for
        a plain user with a built-in persona it usually costs no read either (is it disabled?
        comes from a short-lived cache). With `assignment_id`, the session counts towards that
        assignment when it ends: the caller must be its assignee and the scenario one of its own."""
        if session_id is None and scenario_id is None and assignment_id is None and not principal.is_super_admin \
                and principal.dealership_id is not None:
            persona = personas.builtin(persona_id, mode)
            if persona is not None:
                personas.check_enabled(persona, await self._disabled_builtins(principal.dealership_id))
                return self._start(principal, principal.dealership_id, persona, mode, channel)
        async with self._sessionmaker() as db, db.begin():
            scope = Scope(principal, db)
            if session_id is not None:
                row = await scope.get(ConversationSession, session_id)
                if row.user_id != principal.user_id:
                    raise NotFound("ConversationSession not found.")
                if row.status is SessionStatus.ended:
                    raise Conflict("This session has ended; start a new one.", code="session_ended")
                if row.mode is not mode or (persona_id is not None and persona_id != row.persona_id) \
                        or (scenario_id is not None and scenario_id != row.scenario_id) \
                        or (assignment_id is not None and assignment_id != row.assignment_id):
                    raise ValidationFailed("The session was started with another mode, persona or scenario.",
                                           details=[{"field": "session_id", "message":
                                                     f"session is {row.mode.value} with {row.persona_id}"}])
                return Conversation(row.id, row.dealership_id, row.user_id, row.mode, row.channel,
                                    PersonaView.model_validate(row.persona), created=False,
                                    scenario=FrozenScenario.model_validate(row.scenario) if row.scenario else None,
                                    started_at=row.started_at, assignment_id=row.assignment_id)
            dealership = await scope.dealership(dealership_id)
            scenario = None
            if assignment_id is not None:
                scenario_id = await assignments.scenario_for_start(db, principal, assignment_id, scenario_id)
            if scenario_id is not None:
                scenario = await catalog.freeze(principal, db, scenario_id, dealership.id)
                if scenario.spec.mode != mode.value:
                    raise ValidationFailed(f"The scenario is a {scenario.spec.mode} scenario.", details=[
                        {"field": "mode", "message": f"scenario {scenario_id} is {scenario.spec.mode}"}])
                persona_id = persona_id or scenario.spec.persona_id
            persona = await personas.resolve(principal, db, persona_id, mode, dealership.id)
        return self._start(principal, dealership.id, persona, mode, channel, scenario, assignment_id)

    def dealership_changed(self, dealership_id: uuid.UUID) -> None:
        """Its settings (disabled personas) changed: call once the change is committed."""
        self._disabled.invalidate(dealership_id)

    async def _disabled_builtins(self, dealership_id: uuid.UUID) -> frozenset[str]:
        disabled = self._disabled.get(dealership_id)
        if disabled is MISSING:
            epoch = self._disabled.epoch
            async with self._sessionmaker() as db:
                disabled = await personas.disabled_for(db, dealership_id)
            self._disabled.put(dealership_id, disabled, epoch=epoch)
        return disabled

    def _start(self, principal: Principal, dealership_id: uuid.UUID, persona: PersonaView, mode: Mode,
               channel: Channel, scenario: FrozenScenario | None = None,
               assignment_id: uuid.UUID | None = None) -> Conversation:
        session_id = uuid.uuid4()
        while len(self._unsaved) >= MAX_UNSAVED:  # sessions opened and never used
            self._unsaved.pop(next(iter(self._unsaved)))
        self._unsaved[session_id] = {
            "dealership_id": dealership_id, "user_id": principal.user_id, "mode": mode,
            "channel": channel, "persona_id": persona.id, "persona": persona.model_dump(mode="json"),
            "scenario_id": scenario.id if scenario else None,
            "scenario": scenario.model_dump(mode="json") if scenario else None, "assignment_id": assignment_id}
        return Conversation(session_id, dealership_id, principal.user_id, mode, channel, persona, created=True,
                            scenario=scenario, assignment_id=assignment_id)

    async def reply(self, conv: Conversation, text: str, *, metrics: dict[str, Any] | None = None,
                    started: float | None = None, answer_id: uuid.UUID | None = None,
                    ) -> AsyncGenerator[EngineEvent, None]:
        """Answer one user turn. `metrics` (e.g. the voice channel's speech timings) is stored with
        the user's message; `started` (a perf_counter value) is when the turn began for the user;
        `answer_id` lets a channel that names the answer up front (voice) choose its id.

        The model is asked as soon as the history and passages are known, and the user's turn
        is written once the request has left: the write overlaps the model's time to first token
        instead of standing on the way to it. Nothing is yielded before that write succeeds; if
        it fails, the request is given up at once."""
        started = started if started is not None else time.perf_counter()
        entered = time.perf_counter()
        loop = asyncio.get_running_loop()
        history_ready: asyncio.Future[History] = loop.create_future()
        # Set once the model request is out (or will never be): the turn's write waits for it, so
        # the write overlaps the model's time to first token instead of the way to it.
        request_out: asyncio.Future[None] = loop.create_future()
        # Turns of one session are recorded in order: a quick second turn (a barge-in on the
        # first, a double submit) waits for the first one's transaction instead of racing it.
        previous = self._recording.get(conv.session_id)
        recording = self._tasks.spawn(
            f"conversation.record-turn:{conv.session_id}",
            self._record_user_turn(conv, text, metrics or {}, history_ready, request_out, previous))
        version: str | None = None
        stream: AsyncIterator[str | Usage] | None = None
        tags: dict[str, Any] = {}
        kept: dict[str, Any] = {}  # what the scenario's character check noted (a retry and why)
        usage: Usage | None = None
        sources: list[dict[str, Any]] = []  # what the model was given; what the offline answer quoted
        unprepared: Exception | None = None  # the request could not be built
        try:
            self._recording[conv.session_id] = recording
            recording.add_done_callback(lambda task: self._forget_recording(conv.session_id, task))
            answer_id = answer_id or uuid.uuid4()
            passages = await self._passages(conv, text)
            retrieved = time.perf_counter()
            if not history_ready.done():  # (`wait` on a done future still costs a turn of the loop)
                await asyncio.wait([history_ready, recording], return_when=asyncio.FIRST_COMPLETED)
            history = history_ready.result() if history_ready.done() else None
            if history is not None:
                try:
                    if self.llm is None:
                        body, tags, usage, sources = self._offline_answer(conv, history, text, passages)
                        stream = _replay(offline.chunks(body))
                    else:
                        sources = [p.source() for p in passages]
                        system = prompts.system_prompt(conv.persona, passages,
                                                       spoken=conv.channel is Channel.voice)
                        if conv.scenario is not None:
                            system = instructions.with_scenario(system, conv.scenario)
                        version = system.version
                        chat: list[ChatTurn] = [{"role": role, "content": body} for role, body, _ in history]
                        asked_for = prompts.messages(system, chat, text, self.settings.llm_history_tokens)
                        stream = self.llm.stream(asked_for)
                        if conv.scenario is not None and conv.mode is Mode.roleplay:
                            stream = character.guarded(stream, functools.partial(_again, self.llm, asked_for), kept)
                except Exception as exc:
                    unprepared = exc
        finally:
            request_out.set_result(None)  # (it goes out with the stream's first step, just below)
        asked = time.perf_counter()
        item: str | Usage | None = None
        refused: Exception | None = None  # the model failed before its first token
        first_at: float | None = None  # when the model's first item came in
        try:
            if stream is not None and unprepared is None and not _write_failed(recording):
                item, refused = await _first_item(stream, recording)
                first_at = time.perf_counter()
            # Shielded: a listener that leaves now still gets its turn saved (the supervisor logs failures).
            turn = await asyncio.shield(recording)
        except BaseException as exc:
            await _abandon(stream)
            if not isinstance(exc, Exception):
                raise
            yield _fault(exc, conv.session_id, None, logged=True)  # (the supervisor logs the turn's write)
            return
        if isinstance(turn, Conflict):
            await _abandon(stream)
            yield Failed(turn.code, turn.message, retryable=False, session_id=conv.session_id, status=409)
            return
        if unprepared is not None or stream is None:
            await _abandon(stream)
            log.error("could not prepare the model request", exc_info=unprepared,
                      extra={"session_id": str(conv.session_id)})
            yield Failed("internal_error", "Something went wrong on our side; try again.", retryable=True,
                         session_id=conv.session_id, user_message_id=turn.message_id)
            return
        if refused is not None:
            await _abandon(stream)
            yield self._failed(refused, conv, turn.message_id)
            return
        stages = {"open_ms": round((entered - started) * 1000, 2),
                  "retrieval_ms": round((retrieved - entered) * 1000, 2)}
        parts: list[str] = []
        ttft: float | None = None
        model_ttft: float | None = None  # the model's own share of ttft; the rest is ours
        finished = failed = False
        try:
            yield Started(conv.session_id, answer_id, turn.message_id)
            while item is not None:
                if isinstance(item, Usage):
                    usage = item
                else:
                    if ttft is None:
                        ttft = _ms(started)
                        model_ttft = round(((first_at or time.perf_counter()) - asked) * 1000, 2)
                    parts.append(item)
                    yield Delta(item)
                first_at = None
                item = await anext(stream, None)  # (no coroutine of our own per token)
            finished = True
        except Exception as exc:
            failed = True
            yield self._failed(exc, conv, turn.message_id)
            return
        finally:
            if not finished and not failed and parts:
                # The listener went away mid-answer (barge-in, closed stream): keep what was generated.
                # Spawned before anything is awaited here, so a second cancellation cannot lose it.
                partial = "".join(parts)
                self._spawn_save(conv, answer_id, partial, [], tags, usage or Usage(),
                                 {"ttft_ms": ttft, **stages}, version, [], interrupted=True)
            await _abandon(stream)
        answer = "".join(parts)
        if self.llm is not None and conv.mode is Mode.roleplay:
            tags = {**tagging.customer_tags(answer), **kept}
            if conv.scenario is not None and history is not None:
                tags = turns.online_tags(conv.scenario, history, text, answer, tags)
        if usage is None:
            usage = Usage(0, estimate_tokens(answer), estimated=True)
        usage = usage.priced(self.settings.llm_price_input_per_mtok, self.settings.llm_price_output_per_mtok) \
            if self.llm is not None else usage
        flags = moderation.check_answer(conv.mode, answer, answer_id)
        timings = {"ttft_ms": ttft, "total_ms": _ms(started), "model_ttft_ms": model_ttft, **stages}
        try:
            await asyncio.shield(
                self._spawn_save(conv, answer_id, answer, sources, tags, usage, timings, version, flags))
        except Exception as exc:
            if outage.lost_dependency(exc):
                yield _fault(exc, conv.session_id, turn.message_id)
                return
            log.exception("could not save an answer", extra={"session_id": str(conv.session_id)})
            yield Failed("internal_error", "The answer could not be saved; try again.", retryable=True,
                         session_id=conv.session_id, user_message_id=turn.message_id)
            return
        yield Sources(sources)
        yield Done(conv.session_id, answer_id, turn.message_id, answer, usage, timings, self.offline, self.model,
                   flags)

    def _failed(self, exc: Exception, conv: Conversation, user_message_id: uuid.UUID) -> Failed:
        """The client's view of a model (or engine) failure during an answer."""
        if isinstance(exc, LLMError):
            return Failed(exc.code, exc.message, exc.retryable, conv.session_id, user_message_id)
        return _fault(exc, conv.session_id, user_message_id)

    def _forget_recording(self, session_id: uuid.UUID, task: asyncio.Task[Any]) -> None:
        if self._recording.get(session_id) is task:
            del self._recording[session_id]

    async def record_interrupted(self, message_id: uuid.UUID, heard_text: str) -> bool:
        """After a barge-in: keep only what the user heard in the transcript (and in the history the
        model sees next); the full generation stays in the message's metrics. False if unknown."""
        def trim(row: ConversationMessage) -> None:
            row.metrics = {**row.metrics, "generated_text": row.metrics.get("generated_text", row.text)}
            row.text = heard_text
            row.interrupted = True

        return await self._update_answer(message_id, trim)

    async def record_metrics(self, message_id: uuid.UUID, metrics: dict[str, Any]) -> bool:
        """Merge a channel's per-turn measurements (voice: endpoint, STT, TTS, first audio) into an
        answer's metrics, next to the engine's own timings. False if the answer is unknown."""
        def merge(row: ConversationMessage) -> None:
            row.metrics = {**row.metrics, **metrics}

        return await self._update_answer(message_id, merge)

    async def _update_answer(self, message_id: uuid.UUID, change: Callable[[ConversationMessage], None]) -> bool:
        """Apply `change` to a stored answer, after any save of it still in flight."""
        pending = self._saving.get(message_id)
        if pending is not None:
            await asyncio.wait([pending])
        async with self._sessionmaker() as db, db.begin():
            row = await db.get(ConversationMessage, message_id, with_for_update=True)
            if row is None or row.role is not MessageRole.assistant:
                return False
            change(row)
        return True

    async def end(self, principal: Principal, session_id: uuid.UUID) -> dict[str, Any]:
        """End a session and return its scorecard (409 if it has already ended). A session with no
        turns ends with no scorecard stored; the answer says there was nothing to score."""
        await self._settle(session_id)
        async with self._sessionmaker() as db, db.begin():
            row = await Scope(principal, db).get(ConversationSession, session_id)
            if row.status is SessionStatus.ended:
                raise Conflict("This session has already ended.", code="session_ended")
            messages = await _messages(db, session_id)
        card = await self._finish(row, messages, quiet_since=None)
        assert card is not None
        return card

    async def expire(self, session_id: uuid.UUID, *, idle_s: float) -> float | None:
        """End a session nobody has used for `idle_s` (a voice socket dropped and no client came
        back), scorecard and all. Turns and resumes (`touch`) count as use. Answers None when
        there is nothing more to do (ended now, or already), or how many seconds to wait before
        asking again (it was used since)."""
        await self._settle(session_id)
        async with self._sessionmaker() as db, db.begin():
            row = await db.get(ConversationSession, session_id)
            if row is None or row.status is SessionStatus.ended:
                return None
            left = idle_s - (datetime.now(UTC) - row.last_activity_at).total_seconds()
            if left > 0:
                return left
            messages = await _messages(db, session_id)
        card = await self._finish(row, messages, quiet_since=row.last_activity_at)
        return None if card is not None else idle_s

    async def touch(self, session_id: uuid.UUID) -> None:
        """Mark a session in use now (a voice client resumed it), so a pending `expire` leaves it."""
        async with driver(self._engine) as conn:
            await _TOUCH.execute(conn, {"session_id": session_id})

    async def persist(self, conv: Conversation) -> None:
        """Store a session opened but not stored yet. Voice gives the client the session's id at
        once, before any turn, so it must exist: to be resumed, or ended, with no turn taken."""
        new = self._unsaved.pop(conv.session_id, None)
        if new is None:
            return
        async with self._sessionmaker() as db, db.begin():
            db.add(ConversationSession(id=conv.session_id, status=SessionStatus.active, **new))

    async def _settle(self, session_id: uuid.UUID) -> None:
        """Let a user turn still being written land before the session is read for its scorecard."""
        recording = self._recording.get(session_id)
        if recording is not None:
            await asyncio.wait([recording])

    async def _finish(self, row: ConversationSession, messages: list[ConversationMessage], *,
                      quiet_since: datetime | None) -> dict[str, Any] | None:
        """Score and close `row`. With `quiet_since` (expiry): None if it was used since then or has
        ended meanwhile; without it, 409 if it has ended meanwhile."""
        if messages:
            card, retags = await scorecard.build(self.llm, row, messages)
        else:
            card, retags = scorecard.nothing_to_score(row), {}
        async with self._sessionmaker() as db, db.begin():
            locked = await _lock(db, row.id)
            if quiet_since is not None and locked.last_activity_at > quiet_since:
                return None
            if quiet_since is not None and locked.status is SessionStatus.ended:
                return None
            if locked.status is SessionStatus.ended:
                raise Conflict("This session has already ended.", code="session_ended")
            locked.status = SessionStatus.ended
            locked.ended_at = datetime.now(UTC)
            locked.scorecard = card if messages else None
            if locked.scorecard is not None:  # the team's summary row and the review queue, with the scorecard
                await insight_summary.record(db, locked, locked.scorecard)
                await review_queue.on_session_end(db, locked, locked.scorecard)
            if locked.assignment_id is not None:
                await progress.record_session(db, locked.assignment_id, locked.user_id, locked.scenario_id,
                                              locked.scorecard, locked.ended_at)
            for message in await _messages(db, row.id):
                if message.id in retags:
                    message.tags = retags[message.id]
            # In the same transaction: the events exist exactly when the session has ended.
            await webhook_events.emit(db, dealership_id=locked.dealership_id, type=EventType.session_completed,
                                      data=scorecard.session_event(locked, card if messages else None))
            if messages:
                await webhook_events.emit(db, dealership_id=locked.dealership_id, type=EventType.scorecard_ready,
                                          data=scorecard.scorecard_event(locked, card))
        return card

    async def _record_user_turn(self, conv: Conversation, text: str, metrics: dict[str, Any],
                                history_ready: asyncio.Future[History], request_out: asyncio.Future[None],
                                after: asyncio.Task[Any] | None) -> _UserTurn | Conflict:
        """Store the user's turn (once `after`, the session's previous turn, is stored);
        `history_ready` gets the history the model should see as soon as it is read, and the
        turn is written once `request_out` says the model request has left.

        So the way to the model request holds no write: a new session's turn costs one
        statement afterwards (the session and its first message), an ongoing one's a read before
        (its state and history) and one statement afterwards. No ORM unit of work, no
        BEGIN/COMMIT round trips."""
        new = self._unsaved.get(conv.session_id)
        if new is not None and after is None:
            history_ready.set_result([])
        if after is not None:
            await asyncio.wait([after])
            new = self._unsaved.get(conv.session_id)
        if new is not None:
            if not history_ready.done():
                history_ready.set_result([])
            await _after_request(request_out)
            message_id, message = self._user_message(conv, text, metrics)
            async with driver(self._engine) as conn:
                await _NEW_SESSION_TURN.execute(conn, {**new, **message})
            self._unsaved.pop(conv.session_id, None)
            return _UserTurn(message_id, [])
        async with driver(self._engine) as conn:
            rows = await _STATE_AND_HISTORY.fetch(conn, {"session_id": conv.session_id, "rows": HISTORY_ROWS})
        if not rows or rows[0]["status"] != SessionStatus.active:
            return Conflict("This session has ended; start a new one.", code="session_ended")
        if conv.scenario is not None and (over := turns.time_up(conv.scenario, rows[0]["started_at"])):
            return over
        history: History = [(row["role"], row["text"], row["tags"]) for row in rows if row["id"] is not None]
        last = rows[-1]
        if last["id"] is not None and last["role"] == MessageRole.user and last["text"] == text:
            # A retry after a failed answer: continue from the message already saved.
            history_ready.set_result(history[:-1])
            return _UserTurn(plain_uuid(last["id"]), history[:-1])
        history_ready.set_result(history)
        await _after_request(request_out)
        message_id, message = self._user_message(conv, text, metrics)
        async with driver(self._engine) as conn:
            stored = await _APPEND_USER_TURN.execute(conn, message)
        if stored != 1:  # ended (or deleted) since its state was read
            return Conflict("This session has ended; start a new one.", code="session_ended")
        return _UserTurn(message_id, history)

    @staticmethod
    def _user_message(conv: Conversation, text: str, metrics: dict[str, Any]) -> tuple[uuid.UUID, dict[str, Any]]:
        message_id = uuid.uuid4()
        flags = moderation.check_user_turn(text, message_id)
        return message_id, {
            "id": message_id, "session_id": conv.session_id, "dealership_id": conv.dealership_id,
            "user_id": conv.user_id, "role": MessageRole.user, "text": text, "metrics": metrics,
            "tags": tagging.user_tags(text) if conv.mode is Mode.roleplay else {},
            "flags": flags, "flagged": bool(flags)}

    async def _passages(self, conv: Conversation, text: str) -> list[Passage]:
        if conv.mode is not Mode.training:
            return []
        try:
            return await retrieve(self.retriever, conv.dealership_id, text, self.settings.chat_passages)
        except Exception as exc:
            # Coaching without documents beats no coaching: answer ungrounded and say so in the log.
            outage.log_failure(log, "retrieval failed", exc, dealership_id=str(conv.dealership_id))
            return []

    def _offline_answer(self, conv: Conversation, history: History, text: str,
                        passages: list[Passage]) -> tuple[str, dict[str, Any], Usage, list[dict[str, Any]]]:
        tags: dict[str, Any] = {}
        sources: list[dict[str, Any]] = []
        if conv.mode is Mode.training:
            answer = offline.training_answer(text, passages, spoken=conv.channel is Channel.voice)
            body, sources = answer.text, answer.sources()
        else:
            body, tags = offline.customer_reply(conv.persona, history, text) if conv.scenario is None \
                else turns.offline_reply(conv.scenario, conv.persona, history, text)
        prompt_tokens = sum(estimate_tokens(t) for _, t, _ in history) + sum(estimate_tokens(p.text) for p in passages)
        return body, tags, Usage(prompt_tokens + estimate_tokens(text), estimate_tokens(body), estimated=True), sources

    def _spawn_save(self, conv: Conversation, message_id: uuid.UUID, text: str, sources: list[dict[str, Any]],
                    tags: dict[str, Any], usage: Usage, timings: dict[str, float | None], version: str | None,
                    flags: list[dict[str, Any]], *, interrupted: bool = False) -> asyncio.Task[None]:
        message = dict(
            id=message_id, session_id=conv.session_id, dealership_id=conv.dealership_id, user_id=conv.user_id,
            role=MessageRole.assistant, text=text, sources=sources, tags=tags, model=self.model,
            offline=self.offline, prompt_version=version, prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens, cost_usd=usage.cost_usd, ttft_ms=timings.get("ttft_ms"),
            total_ms=timings.get("total_ms"), interrupted=interrupted,
            metrics={"usage_estimated": usage.estimated, "model_ttft_ms": timings.get("model_ttft_ms"),
                     **{key: timings[key] for key in _STAGES if timings.get(key) is not None},
                     **({"generated_text": text} if interrupted else {})},
        )
        task = self._tasks.spawn(f"conversation.save-answer:{message_id}", self._save(message, flags))
        self._saving[message_id] = task
        task.add_done_callback(lambda _: self._saving.pop(message_id, None))
        return task

    async def _save(self, message: dict[str, Any], flags: list[dict[str, Any]]) -> None:
        """Store an answer in one statement (`_append`)."""
        async with driver(self._engine) as conn:
            stored = await _SAVE_ANSWER.execute(conn, {**message, "flags": flags, "flagged": bool(flags)})
            if stored != 1:
                raise LookupError(f"session {message['session_id']} is gone; answer {message['id']} not stored")


def _typed(table: Any, names: tuple[str, ...]) -> list[Any]:
    return [bindparam(name, type_=table.c[name].type) for name in names]


_SESSIONS, _MESSAGES = ConversationSession.__table__, ConversationMessage.__table__
_FLAGS = bindparam("flags", type_=_SESSIONS.c.flags.type)


def _append(columns: tuple[str, ...], *, only_active: bool) -> DriverStatement:
    """One statement storing a message of an existing session: the session's count goes up (that
    row's lock orders concurrent appends) and the message takes the new count as its number.
    Alone, it needs no transaction of its own: no BEGIN or COMMIT round trips."""
    active = " AND status = 'active'" if only_active else ""
    return DriverStatement(text(f"""
WITH counted AS (
    UPDATE conversation_session
    SET message_count = message_count + 1, last_activity_at = now(),
        flags = flags || :flags, flagged = flagged OR :flagged
    WHERE id = :session_id{active}
    RETURNING message_count
)
INSERT INTO conversation_message ({", ".join(columns)}, seq)
SELECT {", ".join(":" + name for name in columns)}, counted.message_count FROM counted
""").bindparams(*_typed(_MESSAGES, columns), _FLAGS))  # noqa: S608 (names are constants; values bound)


_ANSWER_COLUMNS = ("id", "session_id", "dealership_id", "user_id", "role", "text", "sources", "tags", "model",
                   "offline", "prompt_version", "prompt_tokens", "completion_tokens", "cost_usd", "ttft_ms",
                   "total_ms", "interrupted", "metrics")
_SAVE_ANSWER = _append(_ANSWER_COLUMNS, only_active=False)
_USER_COLUMNS = ("id", "session_id", "dealership_id", "user_id", "role", "text", "metrics", "tags")
_APPEND_USER_TURN = _append(_USER_COLUMNS, only_active=True)

# A session is stored with its first turn: both rows in one statement (the message's foreign key
# is checked at the statement's end, when the session row exists).
_NEW_SESSION_COLUMNS = ("dealership_id", "user_id", "mode", "channel", "persona_id", "persona", "scenario_id",
                        "scenario", "assignment_id")
_NEW_SESSION_TURN = DriverStatement(text(f"""
WITH created AS (
    INSERT INTO conversation_session (id, {", ".join(_NEW_SESSION_COLUMNS)}, status, message_count, flags, flagged)
    VALUES (:session_id, {", ".join(":" + name for name in _NEW_SESSION_COLUMNS)}, 'active', 1, :flags, :flagged)
    RETURNING id
)
INSERT INTO conversation_message ({", ".join(_USER_COLUMNS)}, seq)
SELECT {", ".join(":" + name for name in _USER_COLUMNS)}, 1 FROM created
""").bindparams(  # noqa: S608 (names are constants; values bound)
    *_typed(_MESSAGES, _USER_COLUMNS), *_typed(_SESSIONS, _NEW_SESSION_COLUMNS), _FLAGS))

_TOUCH = DriverStatement(text("UPDATE conversation_session SET last_activity_at = now() WHERE id = :session_id"))

# An ongoing session's state and its last `rows` messages, oldest first (one row, id NULL, if it
# has none yet).
_STATE_AND_HISTORY = DriverStatement(text("""
SELECT s.status, s.started_at, m.id, m.role, m.text, m.tags
FROM conversation_session s
LEFT JOIN LATERAL (
    SELECT id, seq, role, text, tags FROM conversation_message
    WHERE session_id = s.id ORDER BY seq DESC LIMIT :rows
) m ON true
WHERE s.id = :session_id
ORDER BY m.seq
"""))


async def _abandon(stream: AsyncIterator[str | Usage] | None) -> None:
    """Stop a model request that is no longer wanted, whatever state it is in."""
    if isinstance(stream, AsyncGenerator):
        await stream.aclose()


def _write_failed(recording: asyncio.Task[Any]) -> bool:
    """The user's turn could not be stored (or the session has ended meanwhile)."""
    if not recording.done():
        return False
    return recording.cancelled() or recording.exception() is not None or isinstance(recording.result(), Conflict)


async def _first_item(stream: AsyncIterator[str | Usage],
                      recording: asyncio.Task[Any]) -> tuple[str | Usage | None, Exception | None]:
    """The model's first item (awaiting it sends the request) or its failure, while the user's
    turn is written. If the write fails first, the request is given up at once (None, None):
    the caller reports the write's failure. The wait is interrupted in place (`Interruption`),
    so the request goes out inline, without a task (and a turn of the event loop) of its own."""
    stop = Interruption()

    def interrupt(task: asyncio.Task[Any]) -> None:
        if _write_failed(task):
            stop.now()

    recording.add_done_callback(interrupt)
    try:
        with stop:
            item = await anext(stream, None)
    except Exception as exc:
        return None, exc
    finally:
        recording.remove_done_callback(interrupt)
    return (None, None) if stop.happened else (item, None)


async def _after_request(request_out: asyncio.Future[None]) -> None:
    await request_out
    # One more turn of the event loop: aiohttp on Python 3.11 writes a request's body in a task
    # of its own, started by the request's first step, and the request should leave first.
    await asyncio.sleep(0)


def _again(llm: LLM, asked_for: list[ChatTurn], correction: str) -> AsyncIterator[str | Usage]:
    """The same request once more, with a correction after it (a scenario customer's retry)."""
    return llm.stream([*asked_for, {"role": "system", "content": correction}])


async def _replay(pieces: list[str]) -> AsyncIterator[str | Usage]:
    for piece in pieces:
        yield piece


async def _lock(db: AsyncSession, session_id: uuid.UUID) -> ConversationSession:
    query = select(ConversationSession).where(ConversationSession.id == session_id).with_for_update()
    return (await db.execute(query)).scalar_one()


async def _messages(db: AsyncSession, session_id: uuid.UUID) -> list[ConversationMessage]:
    query = select(ConversationMessage).where(ConversationMessage.session_id == session_id) \
        .order_by(ConversationMessage.seq)
    return list((await db.execute(query)).scalars().all())


def _fault(exc: Exception, session_id: uuid.UUID, user_message_id: uuid.UUID | None, *,
           logged: bool = False) -> Failed:
    """An unexpected failure during a reply: a lost dependency (the database) is
    `service_unavailable`, as on every REST route; anything else is ours, logged with its traceback."""
    if not logged:
        outage.log_failure(log, "conversation reply failed", exc, session_id=str(session_id))
    if outage.lost_dependency(exc):
        return Failed("service_unavailable", outage.MESSAGE, retryable=True, session_id=session_id,
                      user_message_id=user_message_id)
    return Failed("internal_error", "Something went wrong on our side; try again.", retryable=True,
                  session_id=session_id, user_message_id=user_message_id)
