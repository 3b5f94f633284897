"""A dialog waiting for one kind of scan takes what the store and the OMS allow for it.

Bins the CLI accepts (B7) and pickup codes the Store Sync API allows (A1234, which
reads as a badge anywhere else) must work in the dialogs that wait for them.
"""

from __future__ import annotations

import asyncio

from sync.oms_sim import OmsSimServer, SimState
from tests.ui.conftest import (
    STORE_ID,
    TOKEN,
    Env,
    _stage_direct,
    confirm_handover,
    login,
    message,
    on_order,
    order,
    row,
    scan,
    seed,
    state_of,
    ui_config,
    wait_for,
)
from ui.tui.app import StoreAgentApp
from ui.tui.dialogs.pick import PickDialog
from ui.tui.dialogs.pickup_code import PickupCodeDialog

GTIN = "4006381333931"


def test_stage_dialog_takes_a_short_bin_id(env):
    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=(80, 24)) as pilot:
            await login(pilot)
            await scan(pilot, "W10001")
            assert on_order(app, "W10001")
            await pilot.press("f2")
            assert isinstance(app.screen, PickDialog)
            for _ in range(4):
                await scan(pilot, GTIN)
            await scan(pilot, "b7")  # Caps Lock off, a bin the CLI would take
            assert "Bin B7 added" in message(app), message(app)
            await pilot.press("f2")
            assert on_order(app)
            assert "staged in bin B7" in message(app), message(app)
            assert row(env.settings, "SELECT bin FROM orders WHERE order_id='W10001'") == {"bin": "B7"}

    asyncio.run(main())


def test_pickup_dialog_takes_a_code_that_looks_like_a_badge(tmp_path):
    state = SimState(token=TOKEN, seed=3)
    snap = order("W10005", ready=True, code="A1234")
    state.add_order(STORE_ID, snap)
    with OmsSimServer(state) as sim:
        env = Env(ui_config(tmp_path, url=sim.url), tmp_path, sim)
        seed(env.settings, snap)
        _stage_direct(env.settings, "W10005", "B-09")

        async def main():
            app = StoreAgentApp(env.settings)
            async with app.run_test(size=(80, 24)) as pilot:
                await login(pilot)
                await scan(pilot, "W10005")
                assert on_order(app, "W10005")
                await pilot.press("f3")
                await wait_for(pilot, lambda: isinstance(app.screen, PickupCodeDialog))
                await scan(pilot, "A1234")
                await confirm_handover(pilot)
                await wait_for(pilot, lambda: "DONE" in message(app) or "error" in message(app))
                assert "DONE: order W10005 handed over" in message(app), message(app)
                assert state_of(env.settings, "W10005") == "PICKED_UP"

        asyncio.run(main())
