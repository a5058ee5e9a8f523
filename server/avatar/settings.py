"""A dealership's avatar settings: stored with the dealership (`Dealership.settings["avatar"]`),
edited through PATCH /dealerships/{id} like the other dealership settings.

Defaults (nothing stored): the avatar channel is on; the provider is LiveAvatar when the server
has it configured, else the built-in avatar (`provider: null` means exactly that, so a server that
gains or loses its LiveAvatar key changes the default without touching any dealership); no cap on
photoreal minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

Provider = Literal["liveavatar", "builtin"]
KEY = "avatar"
MAX_CAP_MINUTES = 1_000_000


class AvatarSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="the avatar (face to face) channel is offered")
    provider: Provider | None = Field(
        default=None, description="null: LiveAvatar when the server has it configured, else builtin")
    monthly_minutes_cap: int | None = Field(
        default=None, ge=0, le=MAX_CAP_MINUTES,
        description="photoreal (LiveAvatar) minutes per calendar month (UTC); null: no cap")


class AvatarSettingsPatch(BaseModel):
    """Fields sent replace the stored ones; `provider` and `monthly_minutes_cap` may be set to null
    (the server's default, no cap); `enabled` sent as null keeps its value."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    provider: Provider | None = None
    monthly_minutes_cap: int | None = Field(default=None, ge=0, le=MAX_CAP_MINUTES)


NULLABLE = {"provider", "monthly_minutes_cap"}


def stored(settings: dict[str, Any] | None) -> AvatarSettings:
    """The dealership's avatar settings (defaults for anything missing or unreadable: a setting
    written by an older version must not block practice)."""
    raw = (settings or {}).get(KEY)
    try:
        return AvatarSettings.model_validate(raw if isinstance(raw, dict) else {})
    except ValidationError:
        return AvatarSettings()


def patched(current: AvatarSettings, patch: AvatarSettingsPatch) -> AvatarSettings:
    changes = patch.model_dump(exclude_unset=True)
    changes = {k: v for k, v in changes.items() if v is not None or k in NULLABLE}
    return AvatarSettings.model_validate({**current.model_dump(), **changes})


@dataclass(frozen=True, slots=True)
class Effective:
    enabled: bool
    provider: Provider  # what "the dealership's provider" is on this server now
    monthly_minutes_cap: int | None


def effective(settings: AvatarSettings, *, liveavatar_configured: bool) -> Effective:
    provider: Provider = settings.provider or ("liveavatar" if liveavatar_configured else "builtin")
    if provider == "liveavatar" and not liveavatar_configured:
        provider = "builtin"  # chosen while configured, the key since removed: the face still shows
    return Effective(settings.enabled, provider, settings.monthly_minutes_cap)
