"""`sparring doctor`: what is configured, what is reachable, what runs offline."""

from __future__ import annotations

from sqlalchemy import text

from server.settings import Settings


def _line(ok: bool | None, label: str, detail: str) -> None:
    mark = {True: "ok  ", False: "FAIL", None: "info"}[ok]
    print(f"[{mark}] {label:<14} {detail}")


def _check_vad(settings: Settings) -> bool:
    """Which frame classifier the voice path uses; Silero's model is loaded to prove it loads."""
    if settings.voice_vad == "webrtc":
        _line(None, "vad", f"webrtc (aggressiveness {settings.voice_vad_aggressiveness})")
        return True
    try:
        from server.voice.vad_silero import load_seconds, model_path

        seconds = load_seconds()
    except Exception as exc:
        _line(False, "vad", f"silero: the model did not load: {exc.__class__.__name__}: {exc}")
        return False
    _line(True, "vad", f"silero (threshold {settings.voice_vad_threshold}), {model_path().name} loaded in "
                       f"{seconds * 1000:.0f} ms, one session per process")
    return True


async def run_doctor(settings: Settings) -> int:
    from server.db.engine import create_engine, resolve_database_url
    from server.db.migrate import current_revision, head_revision

    failures = 0
    _line(True, "settings", f"environment={settings.environment}, data_dir={settings.data_dir}")
    try:
        url = resolve_database_url(settings)
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.connect() as conn:
                version = (await conn.execute(text("SHOW server_version"))).scalar_one()
                vector = (await conn.execute(text(
                    "SELECT default_version FROM pg_available_extensions WHERE name = 'vector'"))).scalar()
            current = await current_revision(engine)
        finally:
            await engine.dispose()
        where = "embedded (pgserver)" if settings.embedded_database else "DATABASE_URL"
        _line(True, "database", f"PostgreSQL {version} via {where}; pgvector {vector or 'MISSING'}")
        failures += vector is None
        head = head_revision(url)
        at_head = current == head
        _line(at_head, "migrations", f"current={current} head={head}" + ("" if at_head else
                                                                           " (run `sparring migrate`)"))
        failures += not at_head
    except Exception as exc:
        _line(False, "database", f"unreachable: {exc.__class__.__name__}: {exc}")
        failures += 1
    if settings.redis_url:
        from redis.asyncio import Redis

        client = Redis.from_url(settings.redis_url, socket_connect_timeout=2)
        try:
            await client.ping()
            _line(True, "redis", "reachable (shared rate limits and caches)")
        except Exception as exc:
            _line(False, "redis", f"unreachable: {exc}")
            failures += 1
        finally:
            await client.aclose()
    else:
        _line(None, "redis", "not configured: rate limits and caches are per process")
    for name, provider in settings.provider_status().items():
        _line(None, f"provider:{name}", provider)
    failures += not _check_vad(settings)
    failures += _offline_voice(settings)
    print("all checks passed" if not failures else f"{failures} check(s) failed")
    return 1 if failures else 0


def _offline_voice(settings: Settings) -> int:
    """Loads each offline model (timed) and measures what the voice pool holds. A model the
    configuration uses must load; one it does not use is reported for information."""
    from server.voice.offline import models
    from server.voice.offline.capacity import measure
    from server.voice.offline.pool import cpu_count

    used = {"stt": not settings.openai_api_key,
            "tts": not settings.elevenlabs_api_key and settings.offline_tts == "piper"}
    failures = 0
    loaded = True
    for part, name, model in (("stt", models.WHISPER, models.whisper), ("tts", models.PIPER, models.piper)):
        role = "in use" if used[part] else "installed, not in use"
        try:
            model_loaded = model.get()
        except Exception as exc:
            loaded = False
            detail = f"{name}: cannot load ({exc.__class__.__name__}: {exc})"
            _line(False if used[part] else None, f"model:{part}", detail)
            failures += used[part]
            continue
        detail = f"{name} ({role}): loaded in {model_loaded.load_s:.2f} s from {model_loaded.path}"
        if part == "tts":
            # Piper's words are timed from the patched model's phoneme durations (captions, heard text).
            detail += ("; word timings from its phoneme durations" if models.timed(model_loaded.model)
                       else "; NO word timings (the model could not be patched: see the log)")
        _line(True, f"model:{part}", detail)
    if not any(used.values()) or not loaded:
        return failures
    threads = settings.offline_voice_threads or cpu_count()
    held = measure(threads)
    _line(None, "offline voice", f"STT {held.stt_s:.2f} s for {held.speech_s:.1f} s of speech "
          f"(RTF {held.stt_rtf:.2f}), TTS {held.tts_s:.2f} s for {held.reply_s:.1f} s (RTF {held.tts_rtf:.2f}), "
          f"{threads} inference threads: "
          f"about {held.sessions} concurrent offline voice sessions hold real time on this machine now")
    return failures
