"""Settings, read once from the environment (and an optional `.env`) and validated at start.

Every name here is documented in `docs/configuration.md` and `.env.example`.
"""

from __future__ import annotations

import ipaddress
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from server.voice.bargein import DEFAULT_BACKCHANNELS

PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "secret", "dev-secret-change-me"})


class ConfigurationError(Exception):
    """Raised for settings that cannot work; the CLI prints it without a traceback."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("./var")
    database_url: str | None = None
    # Connections kept open per process, and how many more it may open under a burst. Overflow
    # connections are closed when handed back, so a steady load above the pool size would open
    # and close PostgreSQL connections all the time (a new backend each, ~10 ms): 50 streaming
    # chats hold up to ~20 at once (tests/bench/chat_load.py).
    database_pool_size: int = Field(default=20, ge=1, le=200)
    database_max_overflow: int = Field(default=20, ge=0, le=200)
    redis_url: str | None = None
    # How long a guided-builder session waits for its next answer before its state is dropped
    # (Redis key TTL, or the row's `expires_at` without Redis); every answer starts it again.
    builder_state_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60, le=90 * 24 * 3600)

    jwt_secret: str = "dev-secret-change-me"
    access_token_minutes: int = Field(default=30, ge=1, le=24 * 60)
    refresh_token_days: int = Field(default=7, ge=1, le=90)
    bcrypt_rounds: int = Field(default=12, ge=4, le=16)
    # How long a verified account snapshot is trusted before the database is asked again;
    # this bounds how late a deactivation takes effect on another instance.
    principal_cache_seconds: float = Field(default=30.0, ge=0, le=60)

    # Comma-separated in the environment (NoDecode: not parsed as JSON first).
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # The request line and headers together, and how many headers (431 beyond; `sparring serve`).
    max_header_bytes: int = Field(default=32 * 1024, ge=4096, le=1024 * 1024)
    max_headers: int = Field(default=100, ge=16, le=1000)
    max_upload_mb: int = Field(default=25, ge=1, le=1024)

    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed: comma-separated addresses
    # or networks (CIDR), "*" for any. Empty (the default): none; the connecting address is the
    # client, whatever headers it sends. The client address keys the login limits below.
    forwarded_allow_ips: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # "limit/period" per route group; period is second, minute or hour.
    rate_limit_login: str = "10/minute"  # per email and client address
    rate_limit_login_address: str = "20/minute"  # failed password checks per client address, any email
    # Password checks admitted at once (hashing or queued) per client address and per process;
    # beyond either, a login is refused at once with 429 before any hashing (server/auth/admission.py).
    # 0: half the hashing threads (one per CPU), at least 1, so one address never holds them all.
    login_max_per_address: int = Field(default=0, ge=0, le=1000)
    login_max_pending: int = Field(default=16, ge=1, le=10_000)
    rate_limit_chat: str = "30/minute"
    rate_limit_voice: str = "20/minute"

    # The built web app (`npm run build` in web/); unset means the repository's web/dist.
    web_dist_dir: Path | None = None

    log_level: str = "INFO"
    log_json: bool = True
    # Seconds between event-loop lag probes (exposed on /metrics); 0 leaves the probe off.
    # On SIGTERM: how long the instance may take to finish what it is doing (voice turns, then
    # requests in flight) before it exits (server/drain.py).
    shutdown_grace_s: float = Field(default=30.0, ge=0, le=3600)
    loop_lag_probe_seconds: float = Field(default=0.0, ge=0, le=10)

    openai_api_key: str | None = None
    openai_base_url: str = "https://api.openai.com/v1"
    elevenlabs_api_key: str | None = None
    elevenlabs_base_url: str = "https://api.elevenlabs.io"
    pinecone_api_key: str | None = None
    pinecone_host: str | None = None
    liveavatar_api_key: str | None = None
    liveavatar_base_url: str = "https://api.liveavatar.com"
    # The photoreal avatar (server/avatar/; docs/configuration.md, "Avatar"): used only with both
    # the key and an avatar id.
    liveavatar_avatar_id: str | None = Field(default=None, max_length=200)
    liveavatar_sandbox: bool = False  # LiveAvatar's free sandbox sessions (about a minute long)
    # Well inside the provider's ~5-minute idle limit; short in tests.
    liveavatar_keepalive_s: float = Field(default=60.0, gt=0, le=240)
    liveavatar_connect_timeout_s: float = Field(default=10.0, gt=0, le=120)  # start -> `connected`
    liveavatar_http_timeout_s: float = Field(default=10.0, gt=0, le=120)

    # Conversations (docs/configuration.md, "Conversations").
    llm_model: str = "gpt-4o"
    llm_temperature: float = Field(default=0.7, ge=0, le=2)
    llm_max_tokens: int = Field(default=400, ge=16, le=4096)
    llm_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    # Longest wait for the first token (retries included) and between two chunks of a stream.
    llm_first_token_timeout_seconds: float = Field(default=20.0, gt=0)
    llm_read_timeout_seconds: float = Field(default=30.0, gt=0)
    llm_retries: int = Field(default=2, ge=0, le=5)
    llm_history_tokens: int = Field(default=3000, ge=200)
    llm_price_input_per_mtok: float = Field(default=2.5, ge=0)
    llm_price_output_per_mtok: float = Field(default=10.0, ge=0)
    chat_passages: int = Field(default=4, ge=0, le=20)

    # Real-time voice (server/voice/). Times in ms unless the name says _s.
    stt_model: str = "gpt-4o-mini-transcribe"
    elevenlabs_model: str = "eleven_flash_v2_5"
    elevenlabs_voice_id: str = "21m00Tcm4TlvDq8ikWAM"
    tts_transport: Literal["http", "websocket"] = "http"
    # The VAD's frame classifier; tests/bench/vad_eval.py compared them (docs/benchmarks.md).
    # WebRTC by default: Silero makes far fewer false barge-ins (noise) but costs ~50x the CPU per
    # frame on the event loop, and 50 sessions on 2 cores no longer held real time with it.
    voice_vad: Literal["webrtc", "silero"] = "webrtc"
    # Without ELEVENLABS_API_KEY: Piper's neural voice, or eSpeak NG (light, robotic).
    offline_tts: Literal["piper", "espeak"] = "piper"
    # Threads for offline model inference (Whisper, Piper); 0 = one per CPU.
    offline_voice_threads: int = Field(default=0, ge=0, le=256)
    voice_vad_aggressiveness: int = Field(default=2, ge=0, le=3)
    voice_vad_threshold: float = Field(default=0.5, gt=0, lt=1)  # Silero's speech probability
    voice_speech_start_ms: int = Field(default=200, ge=20, le=2000)
    voice_end_of_turn_ms: int = Field(default=500, ge=100, le=5000)
    voice_segment_pause_ms: int = Field(default=200, ge=60, le=5000)
    voice_end_of_turn_min_ms: int = Field(default=250, ge=100, le=5000)
    voice_end_of_turn_max_ms: int = Field(default=1200, ge=100, le=10_000)
    voice_barge_in_ms: int = Field(default=300, ge=20, le=5000)
    voice_false_interruption_ms: int = Field(default=1500, ge=100, le=10_000)
    # Phrases that do not interrupt a reply, separated by commas.
    voice_backchannel_words: str = Field(default=",".join(DEFAULT_BACKCHANNELS), max_length=4000)
    voice_burst_ms: int = Field(default=2000, ge=100, le=60_000)
    voice_send_chunk_ms: int = Field(default=40, ge=10, le=40)
    voice_send_lead_ms: int = Field(default=60, ge=0, le=1000)
    voice_auth_timeout_s: float = Field(default=5.0, gt=0, le=60)
    voice_idle_timeout_s: float = Field(default=120.0, gt=0)
    voice_max_session_s: float = Field(default=1800.0, gt=0)
    voice_max_sessions_per_user: int = Field(default=2, ge=1, le=100)
    # With Redis, how long a session's slot outlives the instance holding it (refreshed every
    # third of this while the socket is open): a crashed instance frees its users within it.
    voice_slot_ttl_s: float = Field(default=30.0, ge=3, le=3600)
    voice_stt_timeout_s: float = Field(default=15.0, gt=0)
    voice_llm_timeout_s: float = Field(default=30.0, gt=0)
    voice_tts_timeout_s: float = Field(default=5.0, gt=0)
    # Off only for comparison in the benchmark: STT after the turn, TTS after the whole reply.
    voice_pipelining: bool = True
    # Audio recording (a dealership setting, off by default): a stored clip's longest stretch and
    # the most audio one side of one connection may record.
    voice_recording_clip_max_s: float = Field(default=60.0, gt=0, le=600)
    voice_recording_max_s: float = Field(default=1800.0, gt=0)

    # Documents (server.rag). The embedder is OpenAI's when OPENAI_API_KEY is set, else offline.
    vector_store: Literal["pgvector", "pinecone"] = "pgvector"
    embedding_model: str = "text-embedding-3-small"
    # Where embeddings come from when that is not the chat model's server (OpenRouter, say, serves
    # no embeddings; a local TEI or Ollama may): unset, OPENAI_BASE_URL.
    embedding_base_url: str | None = None
    embedding_batch_size: int = Field(default=256, ge=1, le=2048)
    # Documents read at once in the server process (0: none, leave it to `sparring worker`). With
    # two or more, one slot is kept for a dealership that has nothing being read.
    rag_workers: int = Field(default=2, ge=0, le=32)
    # Each file is read in a child process: wall clock per document and per PDF page, and the
    # child's memory (address space; 0: unlimited). Over a limit the document ends `failed`.
    rag_extract_seconds: float = Field(default=300.0, gt=0)
    rag_extract_page_seconds: float = Field(default=10.0, gt=0)
    rag_extract_memory_mb: int = Field(default=1024, ge=0)
    rag_lease_seconds: float = Field(default=60.0, ge=1.0)
    rag_max_attempts: int = Field(default=3, ge=1, le=20)
    rag_poll_seconds: float = Field(default=2.0, gt=0)
    rag_worker_heartbeat_seconds: float = Field(default=10.0, ge=0.5, le=300)  # worker presence (rag_worker)
    # Dealerships with more chunks than this get their own HNSW index; smaller ones an exact scan.
    rag_exact_scan_max: int = Field(default=2000, ge=0)
    # Set on every database connection, raised to the most vector candidates a query asks for.
    rag_hnsw_ef_search: int = Field(default=400, ge=10, le=1000)
    rag_cache_seconds: int = Field(default=300, ge=0)
    max_docx_uncompressed_mb: int = Field(default=200, ge=1)

    # The web app's address as users reach it: the links in emails (invites, password resets)
    # point here; set it in production.
    public_url: str = "http://127.0.0.1:8000"

    # Email (server/mail/). SMTP when SMTP_HOST is set, else Mailgun when MAILGUN_API_KEY and
    # MAILGUN_DOMAIN are, else none: emails are kept in the outbox (`sparring outbox`).
    mail_from: str = "Sparring <no-reply@localhost>"
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    smtp_timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    mailgun_api_key: str | None = None
    mailgun_domain: str | None = None
    mailgun_base_url: str = "https://api.mailgun.net"
    # The sender: how often it looks for due emails, how long a claim is held before another
    # instance may take the email over, the first retry's wait (doubling each time, capped at an
    # hour) and the attempts before an email is marked failed.
    mail_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    mail_lease_seconds: float = Field(default=120.0, ge=5, le=3600)
    mail_retry_base_seconds: float = Field(default=30.0, gt=0, le=3600)
    mail_max_attempts: int = Field(default=8, ge=1, le=50)
    # Single-use links: an invite's and a password reset's lifetime.
    invite_ttl_hours: float = Field(default=72.0, gt=0, le=24 * 30)
    password_reset_ttl_minutes: float = Field(default=30.0, gt=0, le=24 * 60)
    rate_limit_password_reset: str = "5/hour"  # per email address asked for
    rate_limit_password_reset_address: str = "20/hour"  # per client address, any email
    # Assignments (server/practice/): a reminder email goes this many hours before the due date
    # (once per person and assignment); the sweep that sends them and marks overdue work runs
    # this often (0: not at all on this instance).
    assignment_reminder_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    assignment_sweep_seconds: float = Field(default=300.0, ge=0, le=24 * 3600)

    # Webhooks (server/webhooks/, docs/webhooks.md). The first retry waits WEBHOOK_RETRY_BASE_S,
    # doubling each time, while the next attempt falls within WEBHOOK_RETRY_WINDOW_S of the event;
    # then it has failed (and the endpoint is switched off if nothing reached it since).
    webhook_retry_base_s: float = Field(default=30.0, gt=0, le=3600)
    webhook_retry_window_s: float = Field(default=24 * 3600.0, gt=0, le=7 * 24 * 3600)
    # Attempts in flight at once per process (each holds one connection; 0: this process sends
    # none, another instance does), how often the sender looks for due retries (new events wake
    # it at once), and how long a claim is held before another instance may take the delivery
    # over (longer than an attempt's 10 s).
    webhook_concurrency: int = Field(default=16, ge=0, le=256)
    webhook_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    webhook_lease_seconds: float = Field(default=60.0, ge=15, le=3600)
    # Loopback, private and link-local addresses are refused (at registration and before every
    # attempt) unless this is set: only for a receiver on your own network, never on a shared host.
    webhooks_allow_private_urls: bool = False

    @field_validator("rag_extract_memory_mb")
    @classmethod
    def _check_extract_memory(cls, value: int) -> int:
        # The reader process itself takes ~100 MB of address space before it reads anything.
        if 0 < value < 256:
            raise ValueError("must be 0 (no limit) or at least 256")
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("forwarded_allow_ips", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            value = [item.strip() for item in value.split(",") if item.strip()]
        if isinstance(value, list):
            for item in value:
                if item != "*":
                    try:
                        ipaddress.ip_network(str(item), strict=False)
                    except ValueError:
                        raise ValueError(f"FORWARDED_ALLOW_IPS: {item!r} is not an IP address or network") from None
        return value

    @field_validator("rate_limit_login", "rate_limit_login_address", "rate_limit_chat", "rate_limit_voice",
                     "rate_limit_password_reset", "rate_limit_password_reset_address")
    @classmethod
    def _check_rate(cls, value: str) -> str:
        parse_rate(value)
        return value

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("PUBLIC_URL must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _mailgun_needs_domain(self) -> Settings:
        if bool(self.mailgun_api_key) != bool(self.mailgun_domain):
            raise ValueError("Mailgun needs both MAILGUN_API_KEY and MAILGUN_DOMAIN")
        return self

    @model_validator(mode="after")
    def _production_links_need_public_url(self) -> Settings:
        # Emailed links built on the default would point every invitee at their own machine.
        if self.environment == "production" and self.mail_transport and "public_url" not in self.model_fields_set:
            raise ValueError("PUBLIC_URL is required in production when email is sent (SMTP or Mailgun): "
                             "the links in invites and password resets point at it")
        return self

    @property
    def mail_transport(self) -> str | None:
        """'smtp', 'mailgun', or None: emails are kept in the outbox."""
        if self.smtp_host:
            return "smtp"
        if self.mailgun_api_key and self.mailgun_domain:
            return "mailgun"
        return None

    @model_validator(mode="after")
    def _pinecone_needs_host(self) -> Settings:
        if self.vector_store == "pinecone" and not (self.pinecone_api_key and self.pinecone_host):
            raise ValueError("VECTOR_STORE=pinecone needs PINECONE_API_KEY and PINECONE_HOST (the index host)")
        return self

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        if self.environment != "development" and (
            self.jwt_secret.strip().lower() in PLACEHOLDER_SECRETS or len(self.jwt_secret) < 32
        ):
            raise ValueError(
                "JWT_SECRET is a placeholder or shorter than 32 characters; set a real secret "
                "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`) "
                "or run with ENVIRONMENT=development"
            )
        return self

    @cached_property
    def embedded_database(self) -> bool:
        return not self.database_url

    @property
    def liveavatar_configured(self) -> bool:
        return bool(self.liveavatar_api_key and self.liveavatar_avatar_id)

    def provider_status(self) -> dict[str, str]:
        """Which outside services are real and which run offline, for `doctor` and `ready`."""
        return {
            "llm": "openai" if self.openai_api_key else "offline",
            "stt": "openai" if self.openai_api_key else "offline",
            "embeddings": "openai" if self.openai_api_key else "offline",
            "tts": "elevenlabs" if self.elevenlabs_api_key else "offline",
            "vector_store": self.vector_store,
            "avatar": "liveavatar" if self.liveavatar_configured else "builtin",
            "mail": self.mail_transport or "kept",
        }


_PERIODS = {"second": 1.0, "minute": 60.0, "hour": 3600.0}


def parse_rate(value: str) -> tuple[int, float]:
    """'10/minute' -> (10, 60.0)."""
    try:
        count_text, period = value.split("/", 1)
        count = int(count_text)
        seconds = _PERIODS[period.strip().lower()]
    except (ValueError, KeyError):
        raise ValueError(f"rate {value!r} must look like '10/minute' (second, minute or hour)") from None
    if count < 1:
        raise ValueError(f"rate {value!r} must allow at least one request")
    return count, seconds


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from exc
