"""A dealership's avatar settings (on/off, provider, monthly photoreal minute cap): defaults,
validation and who may change them, through the real app."""

from __future__ import annotations

import httpx
import pytest

from server.avatar.settings import AvatarSettings, effective, stored
from server.db.models import Role
from tests.conftest import World

DEFAULTS = {"enabled": True, "provider": None, "monthly_minutes_cap": None}


@pytest.mark.parametrize(("configured", "provider"), [(True, "liveavatar"), (False, "builtin")])
def test_the_default_provider_follows_the_server(configured: bool, provider: str) -> None:
    chosen = effective(AvatarSettings(), liveavatar_configured=configured)
    assert chosen.enabled and chosen.provider == provider and chosen.monthly_minutes_cap is None


def test_liveavatar_chosen_on_a_server_without_it_shows_the_builtin_face() -> None:
    assert effective(AvatarSettings(provider="liveavatar"), liveavatar_configured=False).provider == "builtin"
    assert effective(AvatarSettings(provider="builtin"), liveavatar_configured=True).provider == "builtin"


def test_unreadable_stored_settings_read_as_the_defaults() -> None:
    assert stored(None) == AvatarSettings()
    assert stored({"avatar": {"enabled": "sometimes"}}) == AvatarSettings()
    assert stored({"avatar": {"enabled": False}}).enabled is False


async def test_avatar_settings_defaults_edits_and_validation(client: httpx.AsyncClient, world: World) -> None:
    dealer = await world.dealership()
    admin = await world.account(Role.dealership_admin, dealer)
    url = f"/api/v1/dealerships/{dealer}"

    async def patch(avatar: object) -> httpx.Response:
        return await client.patch(url, headers=admin.headers, json={"settings": {"avatar": avatar}})

    assert (await client.get(url, headers=admin.headers)).json()["settings"]["avatar"] == DEFAULTS
    changed = await patch({"enabled": False, "monthly_minutes_cap": 300})
    assert changed.status_code == 200, changed.text
    assert changed.json()["settings"]["avatar"] == {"enabled": False, "provider": None, "monthly_minutes_cap": 300}
    # Fields not sent keep their value; null clears the cap but leaves `enabled` as it is.
    kept = await patch({"provider": "builtin", "enabled": None})
    assert kept.json()["settings"]["avatar"] == {"enabled": False, "provider": "builtin", "monthly_minutes_cap": 300}
    cleared = await patch({"monthly_minutes_cap": None, "provider": None})
    assert cleared.json()["settings"]["avatar"] == {"enabled": False, "provider": None, "monthly_minutes_cap": None}
    # Other settings are untouched by an avatar patch, and the other way round.
    other = await client.patch(url, headers=admin.headers, json={"settings": {"record_audio": True}})
    assert other.json()["settings"]["avatar"]["enabled"] is False and other.json()["settings"]["record_audio"]
    for bad in ({"monthly_minutes_cap": -1}, {"monthly_minutes_cap": 10**9}, {"provider": "hologram"},
                {"enabled": "yes please"}, {"colour": "blue"}):
        response = await patch(bad)
        assert response.status_code == 422, (bad, response.text)
    # This server has no LiveAvatar key: choosing it is refused, with the field named.
    refused = await patch({"provider": "liveavatar"})
    assert refused.status_code == 422
    assert refused.json()["error"]["details"][0]["field"] == "settings.avatar.provider"


async def test_only_the_dealerships_admins_change_its_avatar_settings(client: httpx.AsyncClient,
                                                                      world: World) -> None:
    dealer, other_dealer = await world.dealership(), await world.dealership()
    body = {"settings": {"avatar": {"monthly_minutes_cap": 10}}}
    user = await world.account(Role.user, dealer)
    assert (await client.patch(f"/api/v1/dealerships/{dealer}", headers=user.headers, json=body)).status_code == 403
    outsider = await world.account(Role.dealership_admin, other_dealer)
    assert (await client.patch(f"/api/v1/dealerships/{dealer}", headers=outsider.headers,
                               json=body)).status_code == 404
    root = await world.root()
    done = await client.patch(f"/api/v1/dealerships/{dealer}", headers=root.headers, json=body)
    assert done.status_code == 200 and done.json()["settings"]["avatar"]["monthly_minutes_cap"] == 10
    admin = await world.account(Role.dealership_admin, dealer)
    seen = (await client.get(f"/api/v1/dealerships/{dealer}", headers=admin.headers)).json()
    assert seen["settings"]["avatar"]["monthly_minutes_cap"] == 10
