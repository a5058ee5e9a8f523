import json

import pytest

from server.voice import protocol as p


def test_definitions_are_plain_json_and_complete() -> None:
    defs = json.loads(json.dumps(p.definitions()))
    assert defs["version"] == p.PROTOCOL_VERSION
    assert defs["path"] == "/api/v1/voice/live"
    assert set(defs["client_events"].values()) == {"auth", "start", "text", "interrupt", "playback", "end"}
    assert set(defs["server_events"].values()) == {
        "ready", "vad", "transcript", "response.delta", "audio.start", "audio.end", "audio.words", "interrupted",
        "sources", "metrics", "error", "warning", "session.ended", "playback.pause", "playback.resume",
        "avatar.ready", "avatar.error", "avatar.speaking", "reconnect"}
    assert set(defs["warning_codes"].values()) == {"warming_up", "offline_busy"}
    assert defs["version"] == "1.2"
    assert set(defs["avatar_providers"].values()) == {"builtin", "liveavatar", "none"}
    assert set(defs["avatar_fallbacks"].values()) == {"builtin", "none"}
    assert "avatar_quota_exhausted" in defs["avatar_error_codes"].values()
    assert defs["avatar_speaking_states"] == {"started": "started", "ended": "ended"}
    assert p.avatar_speaking_event("m1", p.AvatarSpeakingState.started, 812.4) == {
        "type": "avatar.speaking", "message_id": "m1", "state": "started", "at_ms": 812}
    assert defs["reconnect_reasons"] == {"server_draining": "server_draining"}
    assert defs["close_codes"]["service_restart"] == 1012
    assert defs["close_codes"]["auth_failed"] == 4401
    assert defs["close_codes"]["too_big"] == 1009


def test_parse_accepts_the_documented_start() -> None:
    message = p.parse_client_message({
        "type": "start", "mode": "roleplay", "persona_id": "p1",
        "input_audio": {"encoding": "pcm_s16le", "sample_rate": 16000, "channels": 1},
        "output_audio": {"encoding": "pcm_s16le", "sample_rate": 24000}})
    assert isinstance(message, p.Start)
    assert message.output_audio.sample_rate == 24000
    assert message.avatar.provider == "none"  # 1.2: a 1.1 client's start is plain voice


@pytest.mark.parametrize("provider", ["builtin", "liveavatar", "none"])
def test_start_takes_an_avatar_provider(provider: str) -> None:
    message = p.parse_client_message({"type": "start", "mode": "training", "avatar": {"provider": provider}})
    assert isinstance(message, p.Start)
    assert message.avatar.provider == provider


def test_start_refuses_an_unknown_avatar_provider() -> None:
    with pytest.raises(p.ProtocolError) as info:
        p.parse_client_message({"type": "start", "mode": "training", "avatar": {"provider": "hologram"}})
    assert info.value.code is p.ErrorCode.malformed


@pytest.mark.parametrize(("data", "code"), [
    ([1, 2], p.ErrorCode.malformed),
    ({"no": "type"}, p.ErrorCode.malformed),
    ({"type": "dance"}, p.ErrorCode.unknown_type),
    ({"type": "text"}, p.ErrorCode.malformed),
    ({"type": "text", "text": ""}, p.ErrorCode.malformed),
    ({"type": "playback", "message_id": "m", "played_ms": -1}, p.ErrorCode.malformed),
])
def test_parse_rejects_with_a_reason(data: object, code: p.ErrorCode) -> None:
    with pytest.raises(p.ProtocolError) as info:
        p.parse_client_message(data)
    assert info.value.code is code
    assert info.value.message
