"""Browser end-to-end: an admin invites a salesperson, the link is read from the Outbox page,
the invitee sets a password and signs in, then resets a forgotten one (web/e2e/specs/account_links.mjs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.settings import Settings
from tests.conftest import World, another_instance
from tests.test_web_e2e import _browser_ready, accounts, run_spec

pytestmark = pytest.mark.e2e
__all__ = ["_browser_ready"]  # the module's skip when node, Chromium or web/dist are missing


async def test_invite_accept_and_password_reset_in_the_browser(world: World, settings: Settings, database_url: str,
                                                               tmp_path: Path) -> None:
    # A server of its own: the shared one's per-address reset limit (20 an hour from 127.0.0.1)
    # is spent by the API fuzz test, which calls every route.
    data, _ = await accounts(world)
    with another_instance(settings, database_url, tmp_path, OPENAI_API_KEY="", ELEVENLABS_API_KEY="",
                          PINECONE_API_KEY="", WEBHOOK_CONCURRENCY="0") as server:
        await run_spec("account_links", server, {"accounts": data})
