"""Picking and handoff by item (Store Sync API 1.1), at 80x24 and 40x20: a pick list in walk
order, a wrong item refused with a bell, a short item with its reason, two bins, a partial
pickup, an ID check, and a cancellation from the OMS that stops the picker on the spot."""

from __future__ import annotations

import asyncio

import pytest

from tests.ui.conftest import (
    SIZES,
    login,
    message,
    no_horizontal_overflow,
    on_order,
    order,
    scan,
    seed,
    state_of,
    wait_for,
)
from ui.tui.app import StoreAgentApp
from ui.tui.dialogs.pick import PickDialog
from ui.tui.dialogs.short import ShortDialog
from ui.tui.screens.stop import StopScreen

GTIN_A = "4006381333931"
GTIN_B = "5901234123457"
NOT_ON_ORDER = "96385074"  # a valid GTIN-8 no line has


def walk_order(order_id: str = "W20001", **kw) -> dict:
    """Two lines listed out of walk order: B first in the snapshot, A first on the floor."""
    snap = order(order_id, **kw)
    snap["lines"] = [
        {"line_id": "L1", "sku": "SKU-B", "gtin": GTIN_B, "description": "[b]Bleach[/b] 1L",
         "quantity": 1, "location": "B12-1"},
        {"line_id": "L2", "sku": "SKU-A", "gtin": GTIN_A, "description": "Apples 1kg",
         "quantity": 2, "location": "A2-3"},
    ]
    return snap


def pick_text(app) -> str:
    return str(app.screen.query_one("#pick-lines").render())


@pytest.mark.parametrize("size", SIZES)
def test_pick_a_wrong_item_then_short_one_line(env, size):
    seed(env.settings, walk_order())

    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=size) as pilot:
            await login(pilot)
            await scan(pilot, "W20001")
            assert on_order(app, "W20001")
            await pilot.press("f2")
            assert isinstance(app.screen, PickDialog)
            assert not no_horizontal_overflow(app)
            text = pick_text(app)
            # Outside text is shown as typed, never read as markup.
            assert "[b]Bleach[/b] 1L" in text
            bells: list[int] = []
            app.bell = lambda: bells.append(1)
            await scan(pilot, NOT_ON_ORDER)
            assert "WRONG ITEM" in message(app) and "nothing changed" in message(app)
            assert bells, "a wrong item rings the bell"
            assert state_of(env.settings, "W20001") == "TO_PICK"
            await scan(pilot, GTIN_A)
            await scan(pilot, GTIN_A)
            assert "1 unit(s) to go" in message(app), message(app)
            await scan(pilot, GTIN_A)  # a third apple: the line has two
            assert "WRONG ITEM" in message(app)
            # The bleach is not on the shelf: the cursor is on it (the one line left), F3.
            await pilot.press("f3")
            assert isinstance(app.screen, ShortDialog)
            assert not no_horizontal_overflow(app)
            await pilot.press("enter")  # the count: 1, the default
            await pilot.press("down", "enter")  # reason: damaged
            await wait_for(pilot, lambda: isinstance(app.screen, PickDialog))
            assert "short 1" in pick_text(app)
            await scan(pilot, "B-21")
            await pilot.press("f2")
            await wait_for(pilot, lambda: on_order(app))
            assert "DONE" in message(app), message(app)
            assert state_of(env.settings, "W20001") == "READY"

    asyncio.run(main())


def test_cancelled_online_mid_pick_stops_the_picker(env):
    seed(env.settings, walk_order())

    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=(40, 20)) as pilot:
            await login(pilot)
            await scan(pilot, "W20001")
            await pilot.press("f2")
            await scan(pilot, GTIN_A)
            await pilot.press("f3")  # the short dialog is open when the cancellation comes
            assert isinstance(app.screen, ShortDialog)
            # The OMS cancels the order; the feed (another connection) records it.
            seed(env.settings, walk_order(status="cancelled", version=2))
            await wait_for(pilot, lambda: isinstance(app.screen, StopScreen))
            assert "CANCELLED" in message(app)
            await pilot.press("f2")
            assert on_order(app, "W20001")
            assert state_of(env.settings, "W20001") == "CANCELLED"

    asyncio.run(main())
