"""Smaller frictions: messages that go stale are cleared, a return asks for its bin once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from agent.clock import utc_now
from agent.orders.actions import Actions
from agent.store.connection import Store
from tests.ui.conftest import login, message, on_order, row, scan
from ui.tui.app import StoreAgentApp
from ui.tui.dialogs.return_shelf import ReturnDialog


def test_a_message_goes_once_it_no_longer_describes_the_screen(env):
    async def main():
        app = StoreAgentApp(env.settings)
        base = utc_now()
        offset = [timedelta()]
        app.clock = lambda: base + offset[0]
        async with app.run_test(size=(80, 24)) as pilot:
            await login(pilot)
            await scan(pilot, "%%%")
            assert message(app)
            offset[0] = timedelta(seconds=30)
            app._tick()
            assert message(app), "still fresh after 30 s"
            offset[0] = timedelta(minutes=2)
            app._tick()
            assert message(app) == ""

    asyncio.run(main())


def test_return_to_shelf_does_not_ask_again_for_the_bin_just_scanned(env):
    with Store(env.settings.storage.path) as store:
        Actions(store, env.settings).cancel("W10002", reason="no_show", associate_id="A100")

    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=(40, 20)) as pilot:
            await login(pilot)
            await scan(pilot, "B-07")  # the bin leads to the cancelled order in it
            assert on_order(app, "W10002")
            await pilot.press("f6")
            assert isinstance(app.screen, ReturnDialog)
            assert "Bin B-07 was scanned to open this order" in message(app)
            await pilot.press("f2")
            assert on_order(app, "W10002") and "back on the shelf" in message(app)
            task = row(env.settings, "SELECT state FROM return_tasks WHERE order_id='W10002'")
            assert task == {"state": "DONE"}

    asyncio.run(main())


def test_staging_into_a_bin_that_holds_another_order_warns_once(env):
    from ui.tui.dialogs.pick import PickDialog

    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=(80, 24)) as pilot:
            await login(pilot)
            await scan(pilot, "W10001")
            await pilot.press("f2")
            assert isinstance(app.screen, PickDialog)
            await scan(pilot, "B-07")  # W10002 is in it
            assert "Bin B-07 already holds order W10002" in message(app)
            assert app.screen.bins == []
            await scan(pilot, "B-07")  # again: the associate means to share it
            assert app.screen.bins == ["B-07"]

    asyncio.run(main())
