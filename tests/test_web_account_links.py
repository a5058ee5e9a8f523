"""Browser end-to-end: an admin invites a salesperson, the link is read from the Outbox page,
the invitee sets a password and signs in, then resets a forgotten one (web/e2e/specs/account_links.mjs)."""

from __future__ import annotations

import pytest

from tests.conftest import LiveServer, World
from tests.test_web_e2e import _browser_ready, accounts, run_spec

pytestmark = pytest.mark.e2e
__all__ = ["_browser_ready"]  # the module's skip when node, Chromium or web/dist are missing


async def test_invite_accept_and_password_reset_in_the_browser(world: World, live_server: LiveServer) -> None:
    data, _ = await accounts(world)
    await run_spec("account_links", live_server, {"accounts": data})
