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
            assert "f2 Next" in keys(app) and "f1 Help" in keys(app) and "Pickup" not in keys(app)
            if size[0] >= 60:
                assert "f9 Logout" in keys(app)
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
            if size[0] < 60:  # one row on a handheld: the way back, the screen's keys, F1 for the rest
                assert len(lines) == 1 and len(lines[0]) <= size[0]
                assert lines[0].startswith("esc Back") and lines[0].rstrip().endswith("f1 Help")
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


@pytest.mark.parametrize("size", SIZES)
def test_an_order_opens_from_the_list_with_arrows_and_enter_from_the_scan_field(env, size):
    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=size) as pilot:
            await login(pilot)
            await pilot.click("#sec-ready")
            app.screen.query_one("#scan").focus()
            table = app.screen.query_one("#queue")
            second = table.coordinate_to_cell_key((1, 0)).row_key.value
            await pilot.press("down", "enter")  # no Tab: focus never left the scan field
            assert on_order(app, second)
            await pilot.press("escape")
            assert app.focused is app.screen.query_one("#scan") or on_queue(app)

    asyncio.run(main())


def test_a_40_column_screen_keeps_one_row_each_for_status_and_keys(env):
    from tests.factories import snapshot
    from tests.ui.conftest import seed

    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=(40, 20)) as pilot:
            await login(pilot)
            seed(env.settings, snapshot("W10002", status="cancelled", version=7, hold_until=None),
                 snapshot("W10003", status="cancelled", version=7, hold_until=None))
            banner = app.screen.query_one("#banner")
            await wait_for(pilot, lambda: banner.display)
            assert app.screen.query_one("#status").size.height == 1
            assert app.screen.query_one(KeyFooter).size.height == 1
            assert banner.size.height <= 2 and "+1" in str(banner.render())

    asyncio.run(main())


def test_a_long_order_scrolls_with_the_arrows_from_the_scan_field(env):
    from tests.ui.conftest import order, seed

    seed(env.settings, order("W10020", lines=12))

    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=(40, 20)) as pilot:
            await login(pilot)
            await scan(pilot, "W10020")
            body = app.screen.query_one("#order-body")
            assert body.max_scroll_y > 0 and body.scroll_y == 0
            await pilot.press("down", "down", "down")
            assert body.scroll_y == 3 and app.focused is app.screen.query_one("#scan")

    asyncio.run(main())
