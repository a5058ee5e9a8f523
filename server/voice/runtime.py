"""What the voice path holds for the app's lifetime: providers, the brain, the per-user session slots.

Built by `voice_runtime(settings)` in the app's lifespan; provider clients are closed on exit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
import openai
from elevenlabs.client import AsyncElevenLabs
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from server.avatar.service import AvatarService
from server.recording.store import RecordingStore
from server.settings import Settings
from server.voice.brain import Brain
from server.voice.config import VoiceConfig
from server.voice.detector import preload
from server.voice.lifecycle import SessionKeeper
from server.voice.metrics import VoiceStats
from server.voice.offline import models
from server.voice.offline.piper import PiperSynthesizer
from server.voice.offline.pool import InferencePool
from server.voice.offline.voice import OfflineVoice
from server.voice.offline.whisper import WhisperTranscriber
from server.voice.slots import MemorySlots, SessionSlots, session_slots
from server.voice.stt import OpenAITranscriber, Transcriber
from server.voice.tts import ElevenLabsHttp, ElevenLabsSocket, EspeakSynthesizer, Synthesizer


@dataclass
class VoiceRuntime:
    config: VoiceConfig
    brain: Brain
    transcriber: Transcriber
    synthesizer: Synthesizer
    llm_offline: bool
    # The per-user cap on concurrent sessions: shared by every instance through Redis when
    # configured (server/voice/slots.py), this process's own count otherwise.
    slots: SessionSlots = field(default_factory=lambda: MemorySlots(2))
    recordings: RecordingStore | None = None  # None: audio is never recorded
    # Which engine hears and which speaks, for the `ready` event (a provider or an offline model).
    providers: dict[str, str] = field(default_factory=dict)
    offline_voice: OfflineVoice | None = None  # None: no offline model is used
    avatar: AvatarService | None = None  # None: an avatar request gets the built-in one, unchecked
    stats: VoiceStats | None = None  # sessions open and stage latencies on /metrics
    keeper: SessionKeeper = field(init=False)  # ends sessions whose socket dropped and nobody came back

    def __post_init__(self) -> None:
        self.keeper = SessionKeeper(self.brain, self.config.idle_timeout_s)


@asynccontextmanager
async def voice_runtime(settings: Settings, brain: Brain, recordings: RecordingStore | None = None,
                        avatar: AvatarService | None = None, redis: Redis | None = None,
                        registry: CollectorRegistry | None = None) -> AsyncIterator[VoiceRuntime]:
    config = VoiceConfig.from_settings(settings)
    preload(config.vad.engine)
    llm: openai.AsyncOpenAI | None = None
    stt_client: openai.AsyncOpenAI | None = None
    eleven_http: httpx.AsyncClient | None = None
    if settings.openai_api_key:
        llm = openai.AsyncOpenAI(api_key=settings.openai_api_key, base_url=settings.openai_base_url,
                                 timeout=settings.voice_llm_timeout_s, max_retries=1)
        stt_client = openai.AsyncOpenAI(api_key=settings.openai_api_key, base_url=settings.openai_base_url,
                                        timeout=settings.voice_stt_timeout_s, max_retries=0)
    use_whisper = stt_client is None
    use_piper = not settings.elevenlabs_api_key and settings.offline_tts == "piper"
    pool = InferencePool(settings.offline_voice_threads) if use_whisper or use_piper else None
    offline = OfflineVoice(pool, stt=use_whisper, tts=use_piper) if pool is not None else None
    transcriber: Transcriber
    if stt_client is not None:
        transcriber = OpenAITranscriber(stt_client, settings.stt_model)
    else:
        assert pool is not None
        transcriber = WhisperTranscriber(pool)
    synthesizer: Synthesizer
    if settings.elevenlabs_api_key and settings.tts_transport == "websocket":
        synthesizer = ElevenLabsSocket(settings.elevenlabs_base_url, settings.elevenlabs_api_key,
                                       voice_id=settings.elevenlabs_voice_id, model=settings.elevenlabs_model,
                                       timeout=settings.voice_tts_timeout_s)
    elif settings.elevenlabs_api_key:
        eleven_http = httpx.AsyncClient(timeout=httpx.Timeout(settings.voice_tts_timeout_s, connect=5.0))
        client = AsyncElevenLabs(api_key=settings.elevenlabs_api_key, base_url=settings.elevenlabs_base_url,
                                 httpx_client=eleven_http)
        synthesizer = ElevenLabsHttp(client, voice_id=settings.elevenlabs_voice_id,
                                     model=settings.elevenlabs_model, timeout=settings.voice_tts_timeout_s)
    elif use_piper:
        assert pool is not None
        synthesizer = PiperSynthesizer(pool)
    else:
        synthesizer = EspeakSynthesizer()
    providers = {"stt": settings.stt_model if stt_client is not None else models.WHISPER,
                 "tts": ("elevenlabs" if settings.elevenlabs_api_key
                         else models.PIPER if use_piper else models.ESPEAK)}
    try:
        yield VoiceRuntime(config=config, brain=brain,
                           transcriber=transcriber, synthesizer=synthesizer, llm_offline=llm is None,
                           recordings=recordings, providers=providers, offline_voice=offline, avatar=avatar,
                           slots=session_slots(redis, config.max_sessions_per_user, settings.voice_slot_ttl_s),
                           stats=VoiceStats(registry) if registry is not None else None)
    finally:
        if pool is not None:
            pool.close()
        for closable in (llm, stt_client):
            if closable is not None:
                await closable.close()
        if eleven_http is not None:
            await eleven_http.aclose()
