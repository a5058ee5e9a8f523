"""The voice path's knobs, read once from Settings into one immutable object."""

from __future__ import annotations

from dataclasses import dataclass, field

from server.settings import Settings
from server.voice.bargein import DEFAULT_BACKCHANNELS, Backchannels
from server.voice.vad import VadConfig


@dataclass(frozen=True, slots=True)
class VoiceConfig:
    vad: VadConfig = field(default_factory=VadConfig)
    barge_in_ms: int = 300
    false_interruption_ms: int = 1500
    backchannels: Backchannels = field(default_factory=lambda: Backchannels(DEFAULT_BACKCHANNELS))
    burst_ms: int = 2000
    send_chunk_ms: int = 40
    send_lead_ms: int = 60
    auth_timeout_s: float = 5.0
    idle_timeout_s: float = 120.0
    max_session_s: float = 1800.0
    max_sessions_per_user: int = 2
    llm_timeout_s: float = 30.0
    pipelining: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> VoiceConfig:
        return cls(
            vad=VadConfig(engine=settings.voice_vad, aggressiveness=settings.voice_vad_aggressiveness,
                          silero_threshold=settings.voice_vad_threshold,
                          speech_start_ms=settings.voice_speech_start_ms,
                          end_of_turn_ms=settings.voice_end_of_turn_ms,
                          end_of_turn_min_ms=settings.voice_end_of_turn_min_ms,
                          end_of_turn_max_ms=settings.voice_end_of_turn_max_ms,
                          segment_pause_ms=settings.voice_segment_pause_ms),
            barge_in_ms=settings.voice_barge_in_ms, false_interruption_ms=settings.voice_false_interruption_ms,
            backchannels=Backchannels.parse(settings.voice_backchannel_words), burst_ms=settings.voice_burst_ms,
            send_chunk_ms=settings.voice_send_chunk_ms, send_lead_ms=settings.voice_send_lead_ms,
            auth_timeout_s=settings.voice_auth_timeout_s, idle_timeout_s=settings.voice_idle_timeout_s,
            max_session_s=settings.voice_max_session_s,
            max_sessions_per_user=settings.voice_max_sessions_per_user,
            llm_timeout_s=settings.voice_llm_timeout_s, pipelining=settings.voice_pipelining,
        )
