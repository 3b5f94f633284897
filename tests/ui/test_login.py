"""Login with badge or id and PIN; refusals; idle logout."""

from __future__ import annotations

import asyncio

import pytest

from tests.ui.conftest import PIN, SIZES, login, message, on_queue, queue_loaded, row, wait_for
from ui.tui.app import StoreAgentApp
from ui.tui.screens.login import LoginScreen


@pytest.mark.parametrize("size", SIZES)
def test_right_pin_opens_the_queue_wrong_pin_does_not(env, size):
    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=size) as pilot:
            await login(pilot, pin="0000", expect_ok=False)
            assert isinstance(app.screen, LoginScreen) and app.associate is None
            assert "wrong id or PIN" in message(app)
            await pilot.press(*PIN, "enter")
            await wait_for(pilot, lambda: queue_loaded(app))
            assert app.associate.id == "A100"
            status = str(app.screen.query_one("#status").render())
            assert ("Dana (A100)" if size[0] >= 60 else "A100") in status

    asyncio.run(main())


def test_unknown_id_and_missing_pin_are_refused_like_a_wrong_pin(env):
    """The login lists nobody: every id is asked for a PIN, and an id not in the roster, one
    without a PIN and a wrong PIN all get "wrong id or PIN", counted against the id typed."""
    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=(80, 24)) as pilot:
            said = {}
            for who in ("Z9", "A200", "A100"):  # unknown, no PIN yet, known with a PIN
                await pilot.press(*who, "enter")
                prompt = message(app)
                assert prompt.startswith(f"{who}: enter your PIN") and "Dana" not in prompt
                await pilot.press(*"13579", "enter")
                said[who] = message(app)
                assert app.associate is None and isinstance(app.screen, LoginScreen)
                await pilot.press("escape")  # another id
                assert app.screen.query_one("#login-id").has_focus and message(app) == ""
            assert set(said.values()) == {"wrong id or PIN; try again"}, said

    asyncio.run(main())
    counted = row(env.settings, "SELECT group_concat(subject) AS ids, sum(failures) AS n"
                  " FROM attempt_limits WHERE scope = 'pin'")
    assert sorted(counted["ids"].split(",")) == ["A100", "A200", "Z9"] and counted["n"] == 3


def test_idle_logout(env):
    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=(80, 24)) as pilot:
            await login(pilot)
            assert on_queue(app)
            app._last_input -= env.settings.ui.idle_logout_s + 1
            app._tick()
            await wait_for(pilot, lambda: "logged out after" in message(app))
            assert app.associate is None and isinstance(app.screen, LoginScreen)

    asyncio.run(main())
