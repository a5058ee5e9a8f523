"""One voice conversation over one WebSocket: receive -> frames -> VAD/endpointing -> STT ->
reply pipeline (engine -> sentences -> TTS -> paced send), plus barge-in, limits and timers.

Everything that can go wrong with a message or a provider becomes an `error` event and the
session carries on; only auth failures, oversize frames and the session's end close the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from server import jsonbody
from server.auth.principal import Authenticator
from server.errors import RateLimited, SparringError
from server.ratelimit import RateLimits
from server.recording.store import Owner
from server.tasks import TaskSupervisor
from server.tenancy import Principal
from server.voice import protocol as p
from server.voice.audio import Framer, RateGuard, duration_ms
from server.voice.bargein import Paused, Verdict, decide
from server.voice.brain import BrainError, OpenedSession, OpenRequest
from server.voice.endpointing import EndOfTurn
from server.voice.guard import AccessRevoked, TurnGuard
from server.voice.metrics import AudioClock, TurnClock
from server.voice.pacer import PacedSender
from server.voice.recorder import Recorder
from server.voice.reply import ReplyPipeline, StageFailure
from server.voice.runtime import VoiceRuntime
from server.voice.stt import SttError, TurnTranscriber
from server.voice.vad import Endpointer, Segment, SpeechStarted, TurnEnded

log = logging.getLogger(__name__)


_PROBE_EVERY_MS = 300  # while paused, transcribe the speech again after this much more of it


class _Closed(Exception):
    """The client went away, or we closed the socket: the session is over."""


@dataclass(slots=True)
class _Started:
    opened: OpenedSession
    start: p.Start
    framer: Framer
    guard: RateGuard
    endpointer: Endpointer
    audio_clock: AudioClock


class VoiceSession:
    def __init__(self, websocket: WebSocket, runtime: VoiceRuntime, *, authenticator: Authenticator,
                 limits: RateLimits, tasks: TaskSupervisor) -> None:
        self.ws = websocket
        self.runtime = runtime
        self.config = runtime.config
        self._guard = TurnGuard(authenticator, limits)
        self._limits = limits
        self._tasks = tasks
        self._send_lock = asyncio.Lock()
        self._principal: Principal | None = None
        self._started: _Started | None = None
        self._stt: TurnTranscriber | None = None
        self._turn: asyncio.Task[None] | None = None
        self._reply: ReplyPipeline | None = None
        self._playback: tuple[str, int, float] | None = None
        self._last_audio = self._began = time.monotonic()
        self._last_rate_error = 0.0
        self._recorder: Recorder | None = None  # only when the dealership records audio
        self._ended = False  # the session ended with this socket (`end`, idle, max duration)
        self._deadline = math.inf  # monotonic time the started scenario's time limit passes
        # Barge-in: the paused reply, the speech heard over it, and the backchannels per message.
        self._paused: Paused | None = None
        self._probe_audio = bytearray()
        self._backchannels: dict[str, list[dict[str, Any]]] = {}
        vad = self.config.vad
        self._end_of_turn = EndOfTurn(min_ms=vad.end_of_turn_min_ms, default_ms=vad.end_of_turn_ms,
                                      max_ms=vad.end_of_turn_max_ms)

    # -- lifecycle ---------------------------------------------------------------------------
    async def run(self) -> None:
        await self.ws.accept()
        principal = await self._authenticate()
        if principal is None:
            return
        try:
            await self._limits.check("voice", str(principal.user_id))
        except RateLimited as exc:
            await self._emit(p.error_event(p.ErrorCode.rate_limited, exc.message, retryable=True))
            await self._close(p.CloseCode.too_many_sessions, "rate limited")
            return
        if not self.runtime.acquire(principal.user_id):
            await self._emit(p.error_event(p.ErrorCode.too_many_sessions,
                                           "Too many voice sessions open for this account."))
            await self._close(p.CloseCode.too_many_sessions, "too many sessions")
            return
        self._principal = principal
        try:
            await self._loop()
        except _Closed:
            if not self._ended:
                # A client leaving, even mid-reply, is normal: one line, no traceback.
                log.info("voice client left", extra={"session_id": self._session_id()})
        finally:
            self.runtime.release(principal.user_id)
            with contextlib.suppress(_Closed):  # the turn is cut short; the socket may be gone
                await self._cancel_turn()
            if self._recorder is not None:
                self._recorder.close()
            if self._started is not None:
                session_id = self._started.opened.session_id
                await self.runtime.brain.close(session_id)
                self.runtime.keeper.detach(session_id, self._tasks.spawn, ended=self._ended)

    def _session_id(self) -> str | None:
        return self._started.opened.session_id if self._started else None

    async def _authenticate(self) -> Principal | None:
        try:
            async with asyncio.timeout(self.config.auth_timeout_s):
                message = await self.ws.receive()
        except TimeoutError:
            await self._close(p.CloseCode.auth_failed, "no auth message in time")
            return None
        if message["type"] == "websocket.disconnect":
            return None
        try:
            parsed = p.parse_client_message(jsonbody.loads(message.get("text") or b"null"))
            if not isinstance(parsed, p.Auth):
                raise p.ProtocolError(p.ErrorCode.auth_failed, "The first message must be auth.")
            return await self._guard.authenticate(parsed.token)
        except (p.ProtocolError, orjson.JSONDecodeError, jsonbody.TooDeep, SparringError) as exc:
            reason = exc.message if isinstance(exc, p.ProtocolError | SparringError) else "not JSON"
            await self._emit(p.error_event(p.ErrorCode.auth_failed, reason))
            await self._close(p.CloseCode.auth_failed, "authentication failed")
            return None

    async def _loop(self) -> None:
        while True:
            now = time.monotonic()
            idle_left = self._last_audio + self.config.idle_timeout_s - now
            total_left = self._began + self.config.max_session_s - now
            scenario_left = self._deadline - now  # a scenario's own time limit (else infinite)
            try:
                async with asyncio.timeout(max(0.0, min(idle_left, total_left, scenario_left))):
                    message = await self.ws.receive()
            except TimeoutError:
                reason = p.EndReason.idle if idle_left <= min(total_left, scenario_left) else \
                    p.EndReason.time_limit if scenario_left < total_left else p.EndReason.max_duration
                return await self._end(reason)
            if message["type"] == "websocket.disconnect":
                raise _Closed
            data: bytes | str | None = message.get("bytes") if message.get("bytes") is not None else message.get("text")
            if data is None:
                continue
            if len(data) > p.MAX_MESSAGE_BYTES:
                await self._close(p.CloseCode.too_big, "message over 64 KB")
                raise _Closed
            if isinstance(data, bytes):
                await self._on_audio(data)
            else:
                await self._on_text(data)

    async def _end(self, reason: p.EndReason) -> None:
        """The session ends for good (not just this socket): it is scored, then the client told."""
        with contextlib.suppress(_Closed):  # ending goes on even if the client has just left
            await self._cancel_turn()
        session_id = self._session_id()
        if session_id is not None and self._principal is not None:
            try:
                await self.runtime.brain.end(self._principal, session_id)
                self._ended = True
            except Exception:
                # Not ended: the keeper expires it once the socket is gone.
                log.exception("voice session could not be ended", extra={"session_id": session_id})
        await self._emit(p.event(p.ServerEvent.session_ended, reason=reason.value, session_id=session_id))
        await self._close(p.CloseCode.normal, reason.value)

    async def _open_recorder(self, opened: OpenedSession, rate_in: int, rate_out: int) -> Recorder | None:
        """The dealership's recording setting, read once here: the frame path only checks for None."""
        store, principal = self.runtime.recordings, self._principal
        dealership = opened.dealership_id or (principal.dealership_id if principal else None)
        if store is None or principal is None or dealership is None:
            return None
        try:
            owner = Owner(uuid.UUID(str(dealership)), uuid.UUID(opened.session_id), principal.user_id)
            return await store.recorder(owner, input_rate=rate_in, output_rate=rate_out)
        except Exception:
            # Recording is for review only: the conversation goes on without it.
            log.exception("voice recording unavailable for this session")
            return None

    # -- client messages ---------------------------------------------------------------------
    async def _on_text(self, raw: str) -> None:
        try:
            message = p.parse_client_message(jsonbody.loads(raw))
        except jsonbody.TooDeep as exc:
            return await self._emit(p.error_event(p.ErrorCode.malformed, f"The message is {exc}."))
        except orjson.JSONDecodeError:
            return await self._emit(p.error_event(p.ErrorCode.malformed, "The message is not valid JSON."))
        except p.ProtocolError as exc:
            return await self._emit(p.error_event(exc.code, exc.message))
        if isinstance(message, p.Start):
            return await self._on_start(message)
        if isinstance(message, p.End):
            await self._end(p.EndReason.client_end)
            raise _Closed
        if isinstance(message, p.Auth):
            return await self._emit(p.error_event(p.ErrorCode.already_started, "Already authenticated."))
        if self._started is None:
            return await self._emit(p.error_event(p.ErrorCode.not_started, "Send start first."))
        if isinstance(message, p.Text):
            if not await self._admit_turn():
                return
            await self._interrupt()
            await self._cancel_turn()
            self._last_audio = time.monotonic()
            self._begin_turn(TurnClock(speech_end=time.monotonic(), typed=True), typed=message.text)
        elif isinstance(message, p.Interrupt):
            await self._interrupt()
        elif isinstance(message, p.Playback):
            self._playback = (message.message_id, message.played_ms, time.monotonic())

    async def _on_start(self, start: p.Start) -> None:
        if self._started is not None:
            return await self._emit(p.error_event(p.ErrorCode.already_started, "This session has started."))
        rate_in, rate_out = start.input_audio.sample_rate, start.output_audio.sample_rate
        if rate_in not in p.INPUT_SAMPLE_RATES or rate_out not in p.OUTPUT_SAMPLE_RATES:
            return await self._emit(p.error_event(
                p.ErrorCode.unsupported_audio,
                f"input sample_rate must be one of {p.INPUT_SAMPLE_RATES}, output one of {p.OUTPUT_SAMPLE_RATES}"))
        assert self._principal is not None
        try:
            opened = await self.runtime.brain.open(self._principal, OpenRequest(
                mode=start.mode, persona_id=start.persona_id, session_id=start.session_id,
                scenario_id=start.scenario_id, assignment_id=start.assignment_id))
        except BrainError as exc:
            code = p.ErrorCode(exc.code) if exc.code in p.ErrorCode.__members__.values() else p.ErrorCode.malformed
            return await self._emit(p.error_event(code, exc.message, retryable=exc.retryable))
        self._started = _Started(opened=opened, start=start, framer=Framer(rate_in),
                                 guard=RateGuard(self.config.burst_ms),
                                 endpointer=Endpointer(self.config.vad, rate_in), audio_clock=AudioClock())
        self.runtime.keeper.attach(opened.session_id)
        self._recorder = await self._open_recorder(opened, rate_in, rate_out)
        self._last_audio = time.monotonic()
        offline = {"stt": self.runtime.transcriber.offline, "llm": opened.offline,
                   "tts": self.runtime.synthesizer.offline}
        await self._emit(p.event(p.ServerEvent.ready, session_id=opened.session_id, offline=offline,
                                 providers=self.runtime.providers, protocol_version=p.PROTOCOL_VERSION,
                                 persona_id=opened.persona_id, persona_name=opened.persona_name,
                                 scenario_id=opened.scenario_id, time_left_s=opened.time_left_s))
        if opened.time_left_s is not None:
            self._deadline = time.monotonic() + opened.time_left_s
        offline_voice = self.runtime.offline_voice
        if offline_voice is not None and not offline_voice.warm():
            await self._emit(p.warning_event(
                p.WarningCode.warming_up,
                "The offline voice models are loading; the first reply may take a few seconds longer."))

    # -- audio -------------------------------------------------------------------------------
    async def _on_audio(self, data: bytes) -> None:
        started = self._started
        if started is None:
            return await self._emit(p.error_event(p.ErrorCode.not_started, "Send start before audio."))
        rate = started.start.input_audio.sample_rate
        received_ms = duration_ms(data, rate)
        if not started.guard.admit(received_ms):
            now = time.monotonic()
            if now - self._last_rate_error > 1.0:
                self._last_rate_error = now
                await self._emit(p.error_event(p.ErrorCode.audio_too_fast,
                                               "Audio is arriving faster than real time; it was dropped."))
            return
        self._last_audio = time.monotonic()
        try:
            frames = started.framer.push(data)
        except p.ProtocolError as exc:
            return await self._emit(p.error_event(exc.code, exc.message))
        started.audio_clock.received(received_ms)
        if self._recorder is not None:
            self._recorder.user_audio(frames)
        for frame in frames:
            for vad_event in started.endpointer.push(frame):
                await self._on_vad(vad_event, rate)
            if self._paused is not None:
                await self._listen_over_pause(frame)
            elif (self._reply is not None and started.endpointer.speaking
                    and started.endpointer.speech_ms >= self.config.barge_in_ms):
                await self._pause()

    async def _on_vad(self, vad_event: SpeechStarted | Segment | TurnEnded, rate: int) -> None:
        if isinstance(vad_event, SpeechStarted):
            await self._emit(p.event(p.ServerEvent.vad, speaking=True))
            if self._stt is None:
                self._stt = TurnTranscriber(self.runtime.transcriber, rate, self._tasks.spawn,
                                            pipelining=self.config.pipelining)
            elif self._turn is not None and self._reply is None:
                # The user went on talking while the last turn was still being transcribed:
                # the turns merge into one, with the same transcriber.
                self._turn.cancel()
                self._turn = None
        elif isinstance(vad_event, Segment) and self._stt is not None:
            self._add_segment(self._stt, vad_event.pcm)
        elif isinstance(vad_event, TurnEnded):
            await self._emit(p.event(p.ServerEvent.vad, speaking=False))
            if self._paused is not None and not self._paused.settling and self._stt is not None:
                # The speech over a paused reply ended: its words decide resume or interrupt.
                self._paused.settling = True
                stt, self._stt = self._stt, None
                assert self._started is not None
                speech_end = self._started.audio_clock.at(vad_event.end_ms)
                clock = TurnClock(speech_end=speech_end, turn_detected=max(speech_end, time.monotonic()))
                self._tasks.spawn("voice-settle", self._settle(self._paused, stt, vad_event.pcm, clock))
                return
            if self._reply is not None:
                # Shorter than the barge-in threshold while the assistant talks: a backchannel
                # ("uh-huh") or a cough; it neither interrupts nor becomes a turn.
                if self._stt is not None:
                    self._stt.cancel()
                self._stt = None
                return
            assert self._started is not None
            # When the user stopped, by the audio's own clock: a server that fell behind reading
            # the socket reports the wait the user had, not the time since it caught up.
            speech_end = self._started.audio_clock.at(vad_event.end_ms)
            clock = TurnClock(speech_end=speech_end, turn_detected=max(speech_end, time.monotonic()))
            if not await self._admit_turn():
                if self._stt is not None:
                    self._stt.cancel()
                self._stt = None
                return
            self._begin_turn(clock, tail=vad_event.pcm)

    def _add_segment(self, stt: TurnTranscriber, pcm: bytes) -> None:
        """Transcribe a segment now; its words set how long a silence ends the turn (until they
        come back, the longest wait: the turn cannot be answered before them anyway)."""
        assert self._started is not None
        endpointer = self._started.endpointer
        if self.config.pipelining:  # otherwise no words come back before the end of the turn
            endpointer.set_end_of_turn(self._end_of_turn.max_ms, segment=endpointer.segments_cut)

        def heard(text: str | None) -> None:
            if text is not None and stt is self._stt:
                endpointer.set_end_of_turn(self._end_of_turn.silence_ms(text), segment=endpointer.segments_cut)

        stt.add(pcm, then=heard)

    # -- barge-in ----------------------------------------------------------------------------
    async def _pause(self) -> None:
        """Speech over the reply: stop its audio and listen (see bargein.py)."""
        reply = self._reply
        assert reply is not None and self._started is not None
        at_ms = self._played_ms(reply)
        reply.sender.pause()
        paused = self._paused = Paused(message_id=str(reply.message_id), at_ms=at_ms)
        self._probe_audio = bytearray(self._started.endpointer.segment_pcm)
        await self._emit(p.event(p.ServerEvent.playback_pause, message_id=paused.message_id, at_ms=round(at_ms)))
        self._probe(paused)

    async def _listen_over_pause(self, frame: bytes) -> None:
        paused = self._paused
        assert paused is not None and self._started is not None
        if paused.settling or not self._started.endpointer.speaking:
            return
        self._probe_audio += frame
        verdict = decide(paused.words, speech_over=False, speaking_ms=paused.speaking_ms(),
                         timeout_ms=self.config.false_interruption_ms, backchannels=self.config.backchannels)
        if verdict is Verdict.interrupt:
            return await self._interrupt()
        rate = self._started.start.input_audio.sample_rate
        if duration_ms(len(self._probe_audio), rate) - paused.probed_ms >= _PROBE_EVERY_MS:
            self._probe(paused)

    def _probe(self, paused: Paused) -> None:
        """Transcribe the speech so far (one request at a time): real words interrupt at once,
        without waiting for the user to stop."""
        if paused.probing or not self._probe_audio or self._started is None:
            return
        pcm = bytes(self._probe_audio)
        rate = self._started.start.input_audio.sample_rate
        paused.probing, paused.probed_ms = True, int(duration_ms(pcm, rate))
        paused.probes += 1
        self._tasks.spawn("voice-probe", self._probed(paused, pcm, rate))

    async def _probed(self, paused: Paused, pcm: bytes, rate: int) -> None:
        try:
            words: str | None = await self.runtime.transcriber.transcribe(pcm, rate)
        except SttError:
            words = None  # the final transcript decides
        paused.probing = False
        if self._paused is not paused or paused.settling:
            return
        paused.words = words
        verdict = decide(words, speech_over=False, speaking_ms=paused.speaking_ms(),
                         timeout_ms=self.config.false_interruption_ms, backchannels=self.config.backchannels)
        if verdict is Verdict.interrupt:
            with contextlib.suppress(_Closed):
                await self._interrupt()

    async def _settle(self, paused: Paused, stt: TurnTranscriber, tail: bytes, clock: TurnClock) -> None:
        try:
            words = await stt.finish(tail)
        except SttError:
            stt.cancel()
            words = None
        clock.mark("transcript_ready")
        if self._paused is not paused:
            return  # interrupted meanwhile (typed text, `interrupt`, the reply failed)
        verdict = decide(words, speech_over=True, speaking_ms=paused.speaking_ms(),
                         timeout_ms=self.config.false_interruption_ms, backchannels=self.config.backchannels)
        with contextlib.suppress(_Closed):
            if verdict is Verdict.resume:
                await self._resume(paused, words or "")
            else:
                await self._interrupt()
                assert words is not None  # only real words interrupt a finished speech
                self._turn = self._tasks.spawn("voice-turn", self._guarded_turn(clock, None, b"", None, words))

    async def _resume(self, paused: Paused, words: str) -> None:
        reply = self._reply
        self._paused = None
        if reply is None or str(reply.message_id) != paused.message_id:
            return
        self._backchannels.setdefault(paused.message_id, []).append({"text": words, "at_ms": round(paused.at_ms)})
        await self._emit(p.event(p.ServerEvent.playback_resume, message_id=paused.message_id, text=words))
        reply.sender.resume()

    # -- turns -------------------------------------------------------------------------------
    async def _admit_turn(self) -> bool:
        """Before a turn goes to the model: the account may still use it (else the session ends)
        and the user's chat limit, shared with REST, allows it (else an error; the session goes on)."""
        try:
            await self._guard.admit_turn()
        except AccessRevoked as revoked:
            await self._end(revoked.reason)
            raise _Closed from None
        except RateLimited as exc:
            await self._emit(p.error_event(p.ErrorCode.rate_limited, exc.message, retryable=True))
            return False
        return True

    def _begin_turn(self, clock: TurnClock, *, typed: str | None = None, tail: bytes = b"") -> None:
        stt = None if typed is not None else self._stt
        if typed is not None and self._stt is not None:
            self._stt.cancel()
            self._stt = None
        self._turn = self._tasks.spawn("voice-turn", self._guarded_turn(clock, stt, tail, typed))

    async def _guarded_turn(self, clock: TurnClock, stt: TurnTranscriber | None, tail: bytes,
                            typed: str | None, heard: str | None = None) -> None:
        try:
            await self._run_turn(clock, stt, tail, typed, heard)
        except* _Closed:
            pass  # the socket went away mid-turn; the session loop cleans up
        finally:
            if self._recorder is not None:
                self._recorder.turn_done()

    async def _run_turn(self, clock: TurnClock, stt: TurnTranscriber | None, tail: bytes, typed: str | None,
                        heard: str | None = None) -> None:
        """`heard`: the words of a turn already transcribed (speech that interrupted a paused reply)."""
        started = self._started
        assert started is not None
        offline_voice = self.runtime.offline_voice
        if offline_voice is not None and offline_voice.busy(stt.in_flight if stt is not None else 0):
            # Other sessions hold every inference thread: this turn waits in the pool's queue,
            # and the user is told why the answer is late.
            await self._emit(p.warning_event(
                p.WarningCode.offline_busy,
                "The offline voice is busy with other sessions; this answer will take longer."))
        if typed is not None:
            text = typed
        elif heard is not None:
            text = heard
        else:
            assert stt is not None
            try:
                text = await stt.finish(tail)
            except SttError as exc:
                stt.cancel()
                self._stt = None
                return await self._emit(p.error_event(p.ErrorCode.stt_failed, str(exc), retryable=exc.retryable))
            self._stt = None
            clock.mark("transcript_ready")
            if not text:
                return
        await self._emit(p.event(p.ServerEvent.transcript, text=text, final=True))
        rate = started.start.output_audio.sample_rate
        send = self._send_audio if self._recorder is None else self._recorder.tap(self._send_audio)
        sender = PacedSender(send, rate, chunk_ms=self.config.send_chunk_ms,
                             lead_ms=self.config.send_lead_ms)
        reply = ReplyPipeline(brain=self.runtime.brain, session_id=started.opened.session_id,
                              synthesizer=self.runtime.synthesizer, emit=self._emit, sender=sender,
                              sample_rate=rate, clock=clock, llm_timeout_s=self.config.llm_timeout_s,
                              pipelining=self.config.pipelining)
        if self._recorder is not None:
            self._recorder.reply_started(reply.message_id)
        self._reply = reply
        try:
            await reply.run(text)
        except StageFailure as failure:
            self._reply = None
            self._paused = None
            await self._emit(p.error_event(failure.code, failure.message, retryable=failure.retryable))
            if reply.audio_started:
                await self._emit(p.event(p.ServerEvent.audio_end, message_id=str(reply.message_id)))
            if reply.text:
                await self._record(reply, self._played_ms(reply), interrupted=True)
            return
        self._reply = None  # no await since run() returned: a barge-in now finds nothing to stop
        await self.runtime.brain.record_assistant(started.opened.session_id, reply.message_id, reply.text,
                                                  interrupted=False)
        metrics = self._store_metrics(reply)
        await self._emit(p.event(p.ServerEvent.metrics, message_id=str(reply.message_id), **metrics,
                                 underruns=sender.underruns))

    def _store_metrics(self, reply: ReplyPipeline) -> dict[str, Any]:
        """Stores the turn's timings with the answer, in a task of its own: a client that ends
        the session the moment it sees them (or a barge-in) cancels the turn, not this write."""
        assert self._started is not None
        metrics = reply.clock.as_dict()
        backchannels = self._backchannels.pop(str(reply.message_id), None)
        if backchannels:
            metrics["backchannels"] = backchannels
        self._tasks.spawn("voice-metrics", self.runtime.brain.record_metrics(
            self._started.opened.session_id, reply.message_id, metrics))
        return metrics

    async def _interrupt(self) -> None:
        reply = self._reply
        if reply is None or self._turn is None:
            return
        self._reply = None
        self._paused = None
        self._turn.cancel()
        await asyncio.wait([self._turn])
        self._turn = None
        played = self._played_ms(reply)
        heard = reply.heard_text(played)
        try:
            await self._emit(p.event(p.ServerEvent.interrupted, message_id=str(reply.message_id), heard_text=heard))
        finally:  # kept even when the client has gone: history holds only what was heard
            await self._record(reply, played, interrupted=True)

    async def _record(self, reply: ReplyPipeline, played_ms: float, *, interrupted: bool) -> None:
        assert self._started is not None
        await self.runtime.brain.record_assistant(self._started.opened.session_id, reply.message_id,
                                                  reply.heard_text(played_ms), interrupted=interrupted)
        self._store_metrics(reply)

    def _played_ms(self, reply: ReplyPipeline) -> float:
        """The client's reported position, moved on by the time since it reported, never past what
        was sent; without a report, what real-time playback of the sent audio has reached."""
        if self._playback is not None and self._playback[0] == str(reply.message_id):
            _, played, at = self._playback
            return min(reply.sender.sent_ms, played + reply.sender.playing_ms_since(at))
        return reply.sender.played_estimate_ms()

    async def _cancel_turn(self) -> None:
        if self._reply is not None:
            await self._interrupt()
        if self._turn is not None:
            self._turn.cancel()
            await asyncio.wait([self._turn])
            self._turn = None
        if self._stt is not None:
            self._stt.cancel()
            self._stt = None

    # -- sending -----------------------------------------------------------------------------
    async def _emit(self, message: dict[str, Any]) -> None:
        async with self._send_lock:
            if self.ws.application_state != WebSocketState.CONNECTED:
                raise _Closed
            try:
                await self.ws.send_text(orjson.dumps(message).decode())
            except (RuntimeError, OSError, WebSocketDisconnect) as exc:  # the client has gone
                raise _Closed from exc

    async def _send_audio(self, chunk: bytes) -> None:
        async with self._send_lock:
            if self.ws.application_state != WebSocketState.CONNECTED:
                raise _Closed
            try:
                await self.ws.send_bytes(chunk)
            except (RuntimeError, OSError, WebSocketDisconnect) as exc:  # the client has gone
                raise _Closed from exc

    async def _close(self, code: p.CloseCode, reason: str) -> None:
        if self.ws.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(RuntimeError, OSError):
                await self.ws.close(code=int(code), reason=reason)

