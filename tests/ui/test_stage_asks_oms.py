"""Staging online asks the OMS first: a cancel made online stops the picker at the bin scan,
and no stage the OMS would refuse is ever written (the reference OMS on 127.0.0.1)."""

from __future__ import annotations

import asyncio

from agent.store import sync_state
from agent.store.connection import Store
from sync.oms_sim import OmsSimServer, SimState
from tests.ui.conftest import (
    STORE_ID,
    TOKEN,
    login,
    message,
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
from ui.tui.screens.stop import StopScreen

GTIN = "4006381333931"


def test_a_cancel_made_online_stops_the_stage_before_it_is_written(tmp_path):
    state = SimState(token=TOKEN, seed=3)
    snap = order("W30001", lines=1)
    state.add_order(STORE_ID, snap)
    with OmsSimServer(state) as sim:
        settings = ui_config(tmp_path, url=sim.url)
        seed(settings, snap)
        with Store(settings.storage.path) as store, store.write() as conn:
            sync_state.put(conn, online="1")  # the store's last contact worked
        state.cancel_order(STORE_ID, "W30001")  # the customer cancels; the feed has not run

        async def main() -> None:
            app = StoreAgentApp(settings)
            async with app.run_test(size=(80, 24)) as pilot:
                await login(pilot)
                await scan(pilot, "W30001")
                await pilot.press("f2")
                assert isinstance(app.screen, PickDialog)
                for _ in range(2):
                    await scan(pilot, GTIN)
                await scan(pilot, "B-31")
                await pilot.press("f2")
                await wait_for(pilot, lambda: isinstance(app.screen, StopScreen), what="the STOP")
                assert "cancel" in message(app).lower(), message(app)

        asyncio.run(main())
        assert state_of(settings, "W30001") == "CANCELLED"
        assert row(settings, "SELECT COUNT(*) AS n FROM outbox WHERE order_id = 'W30001'"
                   " AND type = 'order.staged'") == {"n": 0}
        assert row(settings, "SELECT source FROM received_changes WHERE order_id = 'W30001'"
                   " ORDER BY id DESC LIMIT 1") == {"source": "live_check"}
