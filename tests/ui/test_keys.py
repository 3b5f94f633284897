"""The key footer follows the body and the order's state, and a burst edits the scan field in order."""

from __future__ import annotations

import asyncio

import pytest

from tests.ui.conftest import SIZES, burst, login, on_order, on_queue, scan, wait_for
from ui.tui.app import StoreAgentApp
from ui.tui.widgets.footer import KeyFooter


def keys(app) -> str:
    return str(app.screen.query_one(KeyFooter).render())


@pytest.mark.parametrize("size", SIZES)
def test_footer_offers_the_keys_of_the_body_on_screen(env, size):
    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=size) as pilot:
            await login(pilot)
            assert "f2 Next" in keys(app) and "f9 Logout" in keys(app) and "Pickup" not in keys(app)
            await scan(pilot, "W10002")  # READY: it can be handed over
            assert on_order(app, "W10002")
            assert "f2 Stage" in keys(app) and "f3 Pickup" in keys(app) and "esc Back" in keys(app)
            assert "Next" not in keys(app)
            await scan(pilot, "W10001")  # TO_PICK: no pickup on offer, straight from one order to another
            assert on_order(app, "W10001")
            assert "f2 Stage" in keys(app) and "Pickup" not in keys(app)
            lines = keys(app).splitlines()
            footer = app.screen.query_one(KeyFooter)
            assert footer.size.height == len(lines)
            if size[0] < 60:  # rows of three on a handheld, nothing cut off
                assert len(lines) > 1 and all(len(line) <= size[0] for line in lines)
            y = next(i for i, line in enumerate(lines) if "esc Back" in line)
            await pilot.click(KeyFooter, offset=(lines[y].index("esc") + 1, y))
            assert on_queue(app)
            assert "f2 Next" in keys(app)

    asyncio.run(main())


def test_a_burst_is_one_edit_that_keys_by_hand_can_correct(env):
    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=(80, 24)) as pilot:
            await login(pilot)
            field = app.screen.query_one("#scan")
            await burst(pilot, "W1000X", enter=False)
            assert field.value == "W1000X"
            await pilot.press("backspace")  # a typo corrected by hand
            assert field.value == "W1000"
            await burst(pilot, "1")
            assert on_order(app, "W10001")
            assert field.value == ""

    asyncio.run(main())


def test_back_from_an_order_returns_focus_to_the_queue_table(env):
    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=(80, 24)) as pilot:
            await login(pilot)
            table = app.screen.query_one("#queue")
            table.focus()
            await pilot.press("enter")
            assert on_order(app, "W10001")
            assert app.focused is app.screen.query_one("#scan")  # a scan can follow at once
            await pilot.press("escape")
            assert on_queue(app) and app.focused is table

    asyncio.run(main())


def test_a_scan_in_the_instant_after_login_opens_its_order(env):
    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=(40, 20)) as pilot:
            await pilot.pause()
            app.login(env.settings.associate("A100"))
            await burst(pilot, "W10002")  # queued before the working screen has composed
            await wait_for(pilot, lambda: on_order(app, "W10002"))
            assert "f3 Pickup" in keys(app)

    asyncio.run(main())
