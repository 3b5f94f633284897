"""The red STOP for an order cancelled online, and the offline-policy dialogs."""

from __future__ import annotations

import asyncio

import pytest

from agent.store.connection import Store
from tests.factories import snapshot
from tests.ui.conftest import (
    MANAGER_PIN,
    SIZES,
    STORE_ID,
    burst,
    confirm_handover,
    dump,
    login,
    message,
    no_horizontal_overflow,
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
from ui.tui.dialogs.manager import ManagerDialog
from ui.tui.dialogs.offline import OfflineWarnDialog
from ui.tui.dialogs.return_shelf import ReturnDialog
from ui.tui.screens.stop import StopScreen


def _stop_text(app) -> str:
    return " ".join(str(w.render()) for w in app.screen.query("Static"))


@pytest.mark.parametrize("size", SIZES)
def test_stop_when_the_live_check_finds_the_order_cancelled(sim_env, size):
    env = sim_env
    env.sim.state.cancel_order(STORE_ID, "W10002")  # online, a minute ago: the feed has not said

    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=size) as pilot:
            await login(pilot)
            await scan(pilot, "W10002")
            await scan(pilot, "K7Q9MX")
            await wait_for(pilot, lambda: isinstance(app.screen, StopScreen))
            text = _stop_text(app)
            assert "STOP" in text and "DO NOT HAND OVER" in text
            assert "bin B-07" in text and "return to the shelf is open" in text
            assert app.screen.styles.background.hex.upper() == "#B00020"  # red, and readable (6.9:1)
            assert not no_horizontal_overflow(app)
            await burst(pilot, "K7Q9MX")  # a scan's Enter must not dismiss the STOP
            assert isinstance(app.screen, StopScreen)
            assert state_of(env.settings, "W10002") == "CANCELLED"
            assert row(env.settings, "SELECT COUNT(*) AS n FROM outbox"
                       " WHERE type='order.picked_up'")["n"] == 0
            await pilot.press("f6")  # straight into the return-to-shelf flow
            assert isinstance(app.screen, ReturnDialog)

    asyncio.run(main())


def test_stop_when_the_feed_already_cancelled_it_and_the_oms_is_down(env):
    seed(env.settings, snapshot("W10002", status="cancelled", version=5, hold_until=None))

    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=(80, 24)) as pilot:
            await login(pilot)
            before = dump(env.settings)
            await scan(pilot, "B-07")  # the bin still leads to the cancelled order
            assert on_order(app, "W10002")
            await scan(pilot, "K7Q9MX")
            assert isinstance(app.screen, StopScreen)
            assert "bin B-07" in _stop_text(app)
            assert dump(env.settings) == before
            await pilot.press("f2")
            assert on_order(app)

    asyncio.run(main())


@pytest.mark.parametrize("size", SIZES)
def test_offline_warn_names_staleness_and_confirm_hands_over(env, size):
    async def main():
        app = StoreAgentApp(env.settings)  # oms.url is a dead port
        async with app.run_test(size=size) as pilot:
            await login(pilot)
            await scan(pilot, "W10002")
            await scan(pilot, "K7Q9MX")
            await confirm_handover(pilot)
            await wait_for(pilot, lambda: isinstance(app.screen, OfflineWarnDialog))
            assert "last heard from the OMS" in _stop_text(app)
            assert not no_horizontal_overflow(app)
            assert state_of(env.settings, "W10002") == "READY"
            await burst(pilot, "K7Q9MX")  # a stray scan neither confirms nor cancels
            assert isinstance(app.screen, OfflineWarnDialog)
            await pilot.press("f2")
            assert on_order(app)
            assert "DONE: order W10002 handed over" in message(app)
            assert "without OMS confirmation" in message(app)
            assert state_of(env.settings, "W10002") == "PICKED_UP"

    asyncio.run(main())


@pytest.mark.parametrize("size", SIZES)
def test_manager_policy_needs_a_manager_pin(tmp_path, size):
    settings = ui_config(tmp_path, policy="manager")
    seed(settings, order("W10002", ready=True))
    with Store(settings.storage.path) as store:
        from agent.orders.actions import Actions

        Actions(store, settings).stage("W10002", bin="B-07", associate_id="A100")

    async def main():
        app = StoreAgentApp(settings)
        async with app.run_test(size=size) as pilot:
            await login(pilot)
            await scan(pilot, "W10002")
            await pilot.press("f3")
            await scan(pilot, "K7Q9MX")
            await confirm_handover(pilot)
            await wait_for(pilot, lambda: isinstance(app.screen, ManagerDialog))
            assert not no_horizontal_overflow(app)
            await burst(pilot, "M1")
            await burst(pilot, "0000")
            assert "wrong id or PIN" in message(app)
            assert isinstance(app.screen, ManagerDialog)
            await burst(pilot, MANAGER_PIN)
            assert on_order(app)
            assert "DONE: order W10002 handed over" in message(app)
            got = row(settings, "SELECT override_by, associate_id FROM outbox WHERE type='order.picked_up'")
            assert got == {"override_by": "M1", "associate_id": "A100"}

    asyncio.run(main())
