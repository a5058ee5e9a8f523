"""The voice WebSocket protocol, defined once: event names, close codes, version, message shapes.

The web client mirrors `definitions()` (a test compares its copy with this); the prose version is
`docs/voice-protocol.md`. Bump PROTOCOL_VERSION on any incompatible change.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

# 1.1 added audio.words, warning, playback.pause/resume; 1.2 adds the avatar (`start.avatar`,
# avatar.ready, avatar.error, avatar.speaking: a 1.1 client sends no avatar and gets none of them) and reconnect (an
# older client sees the 1012 close, a drop to it, and resumes after its backoff).
PROTOCOL_VERSION = "1.2"
PATH = "/api/v1/voice/live"
MAX_MESSAGE_BYTES = 64 * 1024
FRAME_MS = 20
INPUT_SAMPLE_RATES = (16000,)
OUTPUT_SAMPLE_RATES = (16000, 24000)


class ClientEvent(enum.StrEnum):
    auth = "auth"
    start = "start"
    text = "text"
    interrupt = "interrupt"
    playback = "playback"
    end = "end"


class ServerEvent(enum.StrEnum):
    ready = "ready"
    vad = "vad"
    transcript = "transcript"
    response_delta = "response.delta"
    audio_start = "audio.start"
    audio_end = "audio.end"
    audio_words = "audio.words"  # 1.1: word timings of reply audio
    interrupted = "interrupted"
    playback_pause = "playback.pause"  # {message_id, at_ms}: stop playing at once, keep the buffer
    playback_resume = "playback.resume"  # {message_id}: play on from where it paused
    sources = "sources"
    metrics = "metrics"
    error = "error"
    warning = "warning"  # the session goes on, slower: models warming up, offline pool busy
    session_ended = "session.ended"
    avatar_ready = "avatar.ready"  # 1.2: {provider, livekit_url?, livekit_token?}
    avatar_error = "avatar.error"  # 1.2: {code, message, fallback}: the session goes on
    # 1.2, LiveAvatar only: {message_id, state, at_ms}: the avatar started or stopped speaking a
    # reply. Its voice comes over the video, so this is the browser's only clock for the captions.
    avatar_speaking = "avatar.speaking"
    # 1.2: {reason, session_id}: this instance is stopping; open a new socket (the balancer sends it
    # to another instance) and `start` again with this session_id. The socket closes with 1012.
    reconnect = "reconnect"


class CloseCode(enum.IntEnum):
    normal = 1000
    going_away = 1001
    service_restart = 1012  # after `reconnect`: resume the session on a new socket at once
    policy_violation = 1008
    too_big = 1009
    internal_error = 1011
    bad_start = 4400
    auth_failed = 4401  # no valid auth message within the timeout, or a bad token
    forbidden = 4403
    too_many_sessions = 4429  # per-user cap on concurrent sessions, or the start rate limit


class ErrorCode(enum.StrEnum):
    malformed = "malformed"  # not JSON, or fields of the wrong shape
    unknown_type = "unknown_type"
    not_started = "not_started"  # audio or text before `start`
    already_started = "already_started"
    bad_audio = "bad_audio"  # binary frame that is not whole PCM16 samples
    audio_too_fast = "audio_too_fast"  # faster than real time beyond the burst allowance
    unsupported_audio = "unsupported_audio"
    stt_failed = "stt_failed"
    llm_failed = "llm_failed"
    tts_failed = "tts_failed"
    session_not_found = "session_not_found"
    persona_not_found = "persona_not_found"
    scenario_not_found = "scenario_not_found"  # not one of the caller's dealership's active scenarios
    assignment_not_found = "assignment_not_found"  # not an assignment of the caller's (or withdrawn)
    rate_limited = "rate_limited"
    too_many_sessions = "too_many_sessions"
    auth_failed = "auth_failed"
    internal = "internal_error"


class WarningCode(enum.StrEnum):
    warming_up = "warming_up"  # the offline models are loading: the first reply comes late
    offline_busy = "offline_busy"  # every offline inference thread is taken: this turn queues


class AvatarProvider(enum.StrEnum):
    """Who draws the face (`start.avatar.provider`); `none` is plain voice."""

    builtin = "builtin"  # drawn by the web app from audio.words: no network, no cost
    liveavatar = "liveavatar"  # HeyGen LiveAvatar (LITE mode): photoreal video over LiveKit
    none = "none"


class AvatarFallback(enum.StrEnum):
    """What the session goes on with after an `avatar.error`."""

    builtin = "builtin"
    none = "none"  # plain voice: no avatar at all


class AvatarErrorCode(enum.StrEnum):
    avatar_disabled = "avatar_disabled"  # the dealership switched the avatar channel off (fallback none)
    avatar_unavailable = "avatar_unavailable"  # the provider is not configured or not allowed here
    avatar_quota_exhausted = "avatar_quota_exhausted"  # the dealership's monthly minute cap is reached
    avatar_start_failed = "avatar_start_failed"  # the provider refused or failed to start a session
    avatar_dropped = "avatar_dropped"  # the provider's connection dropped mid-session


class AvatarSpeakingState(enum.StrEnum):
    """`avatar.speaking.state`: when the provider's avatar starts and stops saying a reply."""

    started = "started"  # at_ms: where in the reply it starts (after a backchannel: the pause point)
    ended = "ended"  # at_ms: where it stopped: the end of the reply's audio (an interruption sends none)


class EndReason(enum.StrEnum):
    client_end = "client_end"
    idle = "idle"
    max_duration = "max_duration"
    time_limit = "time_limit"  # the scenario's time limit passed (`scenario.time_limit_s`)
    server_shutdown = "server_shutdown"
    # The account behind the socket lost access (checked before every turn):
    suspended = "suspended"  # its dealership was suspended
    account_inactive = "account_inactive"  # deactivated or deleted
    token_revoked = "token_revoked"  # signed out, password or role changed


class ReconnectReason(enum.StrEnum):
    server_draining = "server_draining"  # the instance is shutting down (a deploy, a scale-in)


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore")


class AudioIn(_Message):
    encoding: Literal["pcm_s16le"] = "pcm_s16le"
    sample_rate: int = 16000
    channels: Literal[1] = 1


class AudioOut(_Message):
    encoding: Literal["pcm_s16le"] = "pcm_s16le"
    sample_rate: int = 16000


class Auth(_Message):
    type: Literal["auth"]
    token: str = Field(min_length=1, max_length=4096)


class AvatarRequest(_Message):
    provider: Literal["builtin", "liveavatar", "none"] = "none"


class Start(_Message):
    type: Literal["start"]
    mode: Literal["training", "roleplay"]
    persona_id: str | None = Field(default=None, max_length=100)
    scenario_id: str | None = Field(default=None, max_length=100)
    assignment_id: str | None = Field(default=None, max_length=100)  # counts towards one of the caller's assignments
    session_id: str | None = Field(default=None, max_length=100)
    input_audio: AudioIn = Field(default_factory=AudioIn)
    output_audio: AudioOut = Field(default_factory=AudioOut)
    avatar: AvatarRequest = Field(default_factory=AvatarRequest)  # 1.2


class Text(_Message):
    type: Literal["text"]
    text: str = Field(min_length=1, max_length=4000)


class Interrupt(_Message):
    type: Literal["interrupt"]


class Playback(_Message):
    type: Literal["playback"]
    message_id: str = Field(max_length=100)
    played_ms: int = Field(ge=0)


class End(_Message):
    type: Literal["end"]


ClientMessage = Annotated[Auth | Start | Text | Interrupt | Playback | End, Field(discriminator="type")]
_client_message: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)


class ProtocolError(Exception):
    def __init__(self, code: ErrorCode, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


def parse_client_message(data: Any) -> Auth | Start | Text | Interrupt | Playback | End:
    """Decoded JSON -> a typed message; ProtocolError says why not (the session carries on)."""
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ProtocolError(ErrorCode.malformed, 'Every message is a JSON object with a string "type".')
    if data["type"] not in ClientEvent.__members__.values():
        raise ProtocolError(ErrorCode.unknown_type, f"Unknown message type {data['type'][:40]!r}.")
    try:
        return _client_message.validate_python(data)
    except ValidationError as exc:
        fields = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or 'message'}: {e['msg']}"
                           for e in exc.errors()[:5])
        raise ProtocolError(ErrorCode.malformed, f"Bad {data['type']} message: {fields}") from None


def event(kind: ServerEvent, **fields: Any) -> dict[str, Any]:
    return {"type": kind.value, **fields}


def error_event(code: ErrorCode, message: str, *, retryable: bool = False) -> dict[str, Any]:
    return event(ServerEvent.error, code=code.value, message=message, retryable=retryable)


def warning_event(code: WarningCode, message: str) -> dict[str, Any]:
    return event(ServerEvent.warning, code=code.value, message=message)


def avatar_error_event(code: AvatarErrorCode, message: str, *, fallback: AvatarFallback) -> dict[str, Any]:
    return event(ServerEvent.avatar_error, code=code.value, message=message, fallback=fallback.value)


def avatar_speaking_event(message_id: str, state: AvatarSpeakingState, at_ms: float) -> dict[str, Any]:
    return event(ServerEvent.avatar_speaking, message_id=message_id, state=state.value, at_ms=round(at_ms))


def definitions() -> dict[str, Any]:
    """Everything a client must agree on, as plain JSON (mirrored by the web client)."""
    return {
        "version": PROTOCOL_VERSION,
        "path": PATH,
        "max_message_bytes": MAX_MESSAGE_BYTES,
        "frame_ms": FRAME_MS,
        "input_sample_rates": list(INPUT_SAMPLE_RATES),
        "output_sample_rates": list(OUTPUT_SAMPLE_RATES),
        "client_events": {e.name: e.value for e in ClientEvent},
        "server_events": {e.name: e.value for e in ServerEvent},
        "close_codes": {c.name: c.value for c in CloseCode},
        "error_codes": {c.name: c.value for c in ErrorCode},
        "end_reasons": {r.name: r.value for r in EndReason},
        "warning_codes": {c.name: c.value for c in WarningCode},
        "avatar_providers": {a.name: a.value for a in AvatarProvider},
        "avatar_fallbacks": {a.name: a.value for a in AvatarFallback},
        "avatar_error_codes": {c.name: c.value for c in AvatarErrorCode},
        "avatar_speaking_states": {s.name: s.value for s in AvatarSpeakingState},
        "reconnect_reasons": {r.name: r.value for r in ReconnectReason},
    }
