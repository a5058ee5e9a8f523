"""Settings: validated once, placeholder secrets refused outside development, every setting
documented in .env.example and docs/configuration.md."""

from __future__ import annotations

import re

import pytest

from server.auth.passwords import hash_password, verify_password
from server.settings import ConfigurationError, Settings, load_settings
from tests.conftest import ROOT


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(ROOT / "tests")   # no .env here


@pytest.mark.parametrize("secret", ["change-me", "CHANGEME", "secret", "dev-secret-change-me", "", "short-but-real"])
@pytest.mark.parametrize("environment", ["production", "test"])
def test_placeholder_or_short_secret_is_refused(secret: str, environment: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", environment)
    monkeypatch.setenv("JWT_SECRET", secret)
    with pytest.raises(ConfigurationError, match="JWT_SECRET"):
        load_settings()


def test_development_accepts_the_placeholder_and_production_a_real_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().environment == "development"   # the README command's default
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("JWT_SECRET", "k" * 48)
    assert load_settings().jwt_secret == "k" * 48


def test_defaults_match_the_contract() -> None:
    settings = load_settings()
    assert settings.bcrypt_rounds >= 12
    assert settings.access_token_minutes == 30 and settings.refresh_token_days == 7
    assert settings.principal_cache_seconds <= 60
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.rate_limit_login == "10/minute" and settings.rate_limit_chat == "30/minute"
    assert settings.rate_limit_voice == "20/minute"
    assert settings.database_url is None and settings.redis_url is None and str(settings.data_dir) == "var"


async def test_a_hash_made_with_default_settings_costs_at_least_12() -> None:
    password_hash = await hash_password("a-password", load_settings().bcrypt_rounds)
    assert int(password_hash.split("$")[2]) >= 12
    assert await verify_password("a-password", password_hash)
    assert not await verify_password("another", password_hash)


@pytest.mark.parametrize(("name", "value"), [
    ("RATE_LIMIT_LOGIN", "ten per minute"), ("RATE_LIMIT_CHAT", "0/minute"), ("PRINCIPAL_CACHE_SECONDS", "61"),
    ("BCRYPT_ROUNDS", "3"), ("ENVIRONMENT", "staging"), ("ACCESS_TOKEN_MINUTES", "zero"),
    ("VOICE_VAD", "rnnoise"), ("VOICE_VAD_THRESHOLD", "1.5"),
])
def test_invalid_values_are_refused_at_start(name: str, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError):
        load_settings()


def test_lists_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example.com, https://b.example.com")
    assert load_settings().cors_origins == ["https://a.example.com", "https://b.example.com"]


def test_every_setting_is_documented() -> None:
    names = {name.upper() for name in Settings.model_fields}
    example = {line.split("=", 1)[0].lstrip("# ").strip()
               for line in (ROOT / ".env.example").read_text().splitlines() if re.match(r"^#? ?[A-Z_]+=", line)}
    assert names == example, f"missing: {names - example}, unknown: {example - names}"
    configuration = (ROOT / "docs" / "configuration.md").read_text()
    assert not [name for name in names if f"`{name}`" not in configuration]


def test_production_email_needs_a_public_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("JWT_SECRET", "x" * 40)
    monkeypatch.setenv("SMTP_HOST", "smtp.example.com")
    with pytest.raises(ConfigurationError, match="PUBLIC_URL"):
        load_settings()
    monkeypatch.setenv("PUBLIC_URL", "https://sparring.example.com/")
    assert load_settings().public_url == "https://sparring.example.com"


def test_mailgun_needs_key_and_domain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILGUN_API_KEY", "key-1")
    with pytest.raises(ConfigurationError, match="MAILGUN_DOMAIN"):
        load_settings()
    monkeypatch.setenv("MAILGUN_DOMAIN", "mg.example.com")
    assert load_settings().mail_transport == "mailgun"
