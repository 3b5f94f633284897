"""Scan first, garbage changes nothing, live updates across terminals, the cancellation banner."""

from __future__ import annotations

import asyncio

import pytest

from agent.orders.actions import Actions
from agent.store.connection import Store
from tests.factories import snapshot
from tests.ui.conftest import (
    SIZES,
    burst,
    dump,
    login,
    message,
    on_order,
    on_queue,
    row,
    scan,
    seed,
    wait_for,
)
from ui.tui.app import StoreAgentApp
from ui.tui.dialogs.pick import PickDialog

GARBAGE = ["%%%", "W12", "B-", "hello world", "4006381333932", "PICKUP:", "{\"x\": 1}", "A100"]


@pytest.mark.parametrize("size", SIZES)
def test_garbage_scans_change_nothing(env, size):
    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=size) as pilot:
            await login(pilot)
            before = dump(env.settings)
            bells = []
            app.bell = lambda: bells.append(1)
            for junk in GARBAGE:
                await scan(pilot, junk)
                assert on_queue(app), junk
                assert message(app), junk
            assert "not a barcode this store uses" in message(app) or "logged in" in message(app)
            assert len(bells) >= len(GARBAGE) - 1  # a badge of the logged-in associate only informs
            await scan(pilot, "W99999")
            assert "not known to this store" in message(app)
            await scan(pilot, "W10001")
            await pilot.press("f2")
            assert isinstance(app.screen, PickDialog)
            for junk in ("W10002", "%%", "00012345600012", "K7Q9MX"):
                await scan(pilot, junk)
                assert isinstance(app.screen, PickDialog), junk
                assert "nothing changed" in message(app).lower() or "not on order" in message(app)
            await scan(pilot, "B_12")  # a bin-looking id that pickup.bin_pattern does not allow
            assert isinstance(app.screen, PickDialog)
            assert dump(env.settings) == before

    asyncio.run(main())


def test_wedge_keys_reach_the_scan_field_whatever_has_focus(env):
    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=(80, 24)) as pilot:
            await login(pilot)
            table = app.screen.query_one("#queue")
            table.focus()
            await pilot.pause()
            assert app.focused is table
            await burst(pilot, "W10003")
            assert on_order(app, "W10003")
            # Keys typed one by one, with the screen waiting in between, land the same way.
            await pilot.press("escape")
            app.screen.query_one("#queue").focus()
            await pilot.press(*"W10001", "enter")
            assert on_order(app, "W10001")

    asyncio.run(main())


def test_two_terminals_see_each_others_commits_without_a_key(env):
    async def main():
        one, two = StoreAgentApp(env.settings), StoreAgentApp(env.settings, station_id="backroom-1")
        async with one.run_test(size=(80, 24)) as p1, two.run_test(size=(40, 20)) as p2:
            await login(p1)
            await login(p2)
            ready = two.screen.query_one("#sec-ready")
            assert str(ready.label) == "Ready 2"
            await scan(p1, "W10001")
            await p1.press("f2")
            for _ in range(4):  # every unit of the order
                await scan(p1, "4006381333931")
            await scan(p1, "B-12")
            await p1.press("f2")
            assert "DONE" in message(one)
            # No key pressed on the second terminal: only its database watcher can change this.
            await wait_for(p2, lambda: str(ready.label) == "Ready 3")
            # And the other way, from a process that is not a UI at all (the daemon, the CLI).
            with Store(env.settings.storage.path) as store:
                Actions(store, env.settings).cancel("W10003", reason="other", associate_id="A100")
            await wait_for(p2, lambda: str(ready.label) == "Ready 2")

    asyncio.run(main())


def test_cancellation_banner_on_every_terminal_until_acknowledged(env):
    async def main():
        one, two = StoreAgentApp(env.settings), StoreAgentApp(env.settings)
        async with one.run_test(size=(80, 24)) as p1, two.run_test(size=(40, 20)) as p2:
            await login(p1)
            await login(p2)
            banners = [one.screen.query_one("#banner"), two.screen.query_one("#banner")]
            assert not any(b.display for b in banners)
            rung = []
            two.bell = lambda: rung.append(1)
            seed(env.settings, snapshot("W10002", status="cancelled", version=7, hold_until=None))
            await wait_for(p1, lambda: banners[0].display)
            await wait_for(p2, lambda: banners[1].display)
            assert "W10002 was CANCELLED online while READY in bin B-07" in str(banners[1].render())
            assert rung
            await p2.press("f8")
            alert = row(env.settings, "SELECT acknowledged_by, acknowledged_at FROM alerts"
                        " WHERE kind='cancelled_while_ready'")
            assert alert["acknowledged_by"] == "A100" and alert["acknowledged_at"]
            await wait_for(p1, lambda: not banners[0].display)
            assert not banners[1].display

    asyncio.run(main())
