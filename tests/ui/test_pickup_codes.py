"""A customer's code, scanned anywhere, finds its own order; nothing is recorded before one confirm."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from sync.oms_sim import OmsSimServer, SimState
from tests.ui.conftest import (
    STORE_ID,
    TOKEN,
    Env,
    _stage_direct,
    login,
    message,
    no_horizontal_overflow,
    on_order,
    on_queue,
    order,
    row,
    scan,
    seed,
    state_of,
    text_of,
    ui_config,
    wait_for,
)
from ui.tui.app import StoreAgentApp
from ui.tui.dialogs.handover import HandoverDialog
from ui.tui.dialogs.pickup_code import PickupCodeDialog
from ui.tui.screens.stop import StopScreen


@pytest.fixture
def codes_env(tmp_path) -> Iterator[Env]:
    """Three READY orders with their own codes and bins, one of them cancelled online since."""
    state = SimState(token=TOKEN, seed=3)
    ready = [order("W20001", ready=True, code="AAA111"), order("W20002", ready=True, code="BBB222", lines=3),
             order("W20003", ready=True, code="CCC333")]
    for snap in ready:
        state.add_order(STORE_ID, snap)
    with OmsSimServer(state) as sim:
        settings = ui_config(tmp_path, url=sim.url)
        seed(settings, *ready)
        for order_id, bin_id in (("W20001", "B-21"), ("W20002", "B-22"), ("W20003", "B-23")):
            _stage_direct(settings, order_id, bin_id)
        cancelled = order("W20003", status="cancelled", version=5, code="CCC333")
        state.add_order(STORE_ID, cancelled)
        seed(settings, cancelled)
        yield Env(settings, tmp_path, sim)


def _handover_text(app) -> str:
    return text_of(app.screen.query_one("#handover-text"))


@pytest.mark.parametrize("size", [(80, 24), (40, 20)], ids=["80x24", "40x20"])
def test_a_code_scanned_on_another_orders_screen_opens_its_own_order(codes_env, size):
    env = codes_env

    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=size) as pilot:
            await login(pilot)
            await scan(pilot, "W20001")
            assert on_order(app, "W20001")
            await scan(pilot, "BBB222")  # the customer at the counter is W20002's
            await wait_for(pilot, lambda: isinstance(app.screen, HandoverDialog))
            shown = _handover_text(app)
            assert "W20002" in shown and "Ann Smith" in shown and "B-22" in shown
            assert "6 item(s) in 3 line(s)" in shown
            assert not no_horizontal_overflow(app)
            assert state_of(env.settings, "W20002") == "READY"  # nothing recorded before the confirm
            picked = "SELECT COUNT(*) AS n FROM outbox WHERE type='order.picked_up'"
            assert row(env.settings, picked)["n"] == 0
            await pilot.press("f2")
            assert on_order(app, "W20002")
            assert "DONE: order W20002 handed over from bin B-22" in message(app)
            assert state_of(env.settings, "W20002") == "PICKED_UP"
            assert state_of(env.settings, "W20001") == "READY"

    asyncio.run(main())


def test_a_qr_from_the_queue_asks_one_confirm_and_esc_changes_nothing(codes_env):
    env = codes_env

    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=(80, 24)) as pilot:
            await login(pilot)
            assert on_queue(app)
            await scan(pilot, "PICKUP:W20001:AAA111")
            await wait_for(pilot, lambda: isinstance(app.screen, HandoverDialog))
            assert "B-21" in _handover_text(app) and "Ann Smith" in _handover_text(app)
            await scan(pilot, "PICKUP:W20001:AAA111")  # a second scan does not confirm
            assert isinstance(app.screen, HandoverDialog)
            await pilot.press("escape")
            assert on_order(app, "W20001")
            assert "Handover not done. Nothing changed." in message(app)
            assert state_of(env.settings, "W20001") == "READY"

    asyncio.run(main())


@pytest.mark.parametrize("start", ["queue", "another order"])
def test_a_cancelled_orders_code_shows_the_stop_from_any_screen(codes_env, start):
    env = codes_env

    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=(80, 24)) as pilot:
            await login(pilot)
            if start == "another order":
                await scan(pilot, "W20001")
            await scan(pilot, "CCC333")
            await wait_for(pilot, lambda: isinstance(app.screen, StopScreen))
            text = " ".join(text_of(w) for w in app.screen.query("Static"))
            assert "W20003" in text and "bin B-23" in text and "DO NOT HAND OVER" in text
            assert state_of(env.settings, "W20003") == "CANCELLED"

    asyncio.run(main())


def test_a_wrong_code_keeps_the_code_dialog_open_for_another_try(codes_env):
    env = codes_env

    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=(40, 20)) as pilot:
            await login(pilot)
            await scan(pilot, "W20001")
            await pilot.press("f3")
            assert isinstance(app.screen, PickupCodeDialog)
            await scan(pilot, "ZZZ999")
            assert isinstance(app.screen, PickupCodeDialog)
            assert "Wrong pickup code for order W20001" in message(app)
            await scan(pilot, "BBB222")  # another order's code: still this dialog, told so
            assert isinstance(app.screen, PickupCodeDialog)
            await scan(pilot, "AAA111")
            await wait_for(pilot, lambda: isinstance(app.screen, HandoverDialog))
            assert state_of(env.settings, "W20001") == "READY"

    asyncio.run(main())


def test_an_unknown_code_and_a_handed_over_one_are_told_in_plain_words(codes_env):
    env = codes_env

    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=(80, 24)) as pilot:
            await login(pilot)
            await scan(pilot, "QQQ777")
            assert "No order has pickup code QQQ777" in message(app)
            await scan(pilot, "AAA111")
            await wait_for(pilot, lambda: isinstance(app.screen, HandoverDialog))
            await pilot.press("f2")
            await pilot.press("escape")
            await scan(pilot, "AAA111")
            assert on_order(app, "W20001")
            assert "Order W20001 was already handed over" in message(app)

    asyncio.run(main())
