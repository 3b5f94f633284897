"""On the screens: wrong PINs at the login and codes typed at random on the queue lock and alert."""

from __future__ import annotations

import asyncio

from tests.ui.conftest import burst, login, message, on_queue, row
from ui.tui.app import StoreAgentApp
from ui.tui.screens.login import LoginScreen


def test_wrong_pins_at_the_login_lock_the_id_and_alert(env):
    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=(80, 24)) as pilot:
            await burst(pilot, "A100")
            for _ in range(env.settings.security.pin_max_failures):
                await burst(pilot, "0000")
            assert "too many wrong attempts for this id: try again in 60 s" in message(app)
            await burst(pilot, "2468")  # the right PIN, too late
            assert isinstance(app.screen, LoginScreen) and app.associate is None
            assert "too many wrong attempts" in message(app)

    asyncio.run(main())
    alert = row(env.settings, "SELECT key, severity FROM alerts WHERE kind = 'lockout'")
    assert alert == {"key": "pin:A100", "severity": "critical"}


def test_codes_typed_at_random_on_the_queue_lock_the_station(env):
    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=(80, 24)) as pilot:
            await login(pilot)
            assert on_queue(app)
            for i in range(env.settings.security.code_max_failures_per_station):
                await burst(pilot, f"QX7V{i:04d}")
            assert "too many wrong pickup codes at station" in message(app)

    asyncio.run(main())
    alert = row(env.settings, "SELECT key FROM alerts WHERE kind = 'lockout'")
    assert alert is not None and alert["key"].startswith("code_station:")
