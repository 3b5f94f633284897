"""Every flow by scans and F-keys, at 80x24 and at 40x20 with nothing scrolling sideways."""

from __future__ import annotations

import asyncio

import pytest

from tests.ui.conftest import (
    MANAGER_PIN,
    SIZES,
    confirm_handover,
    login,
    message,
    no_horizontal_overflow,
    on_order,
    on_queue,
    row,
    scan,
    state_of,
    wait_for,
)
from ui.tui.app import StoreAgentApp
from ui.tui.dialogs.cancel import CancelDialog
from ui.tui.dialogs.dlq import DlqDialog
from ui.tui.dialogs.pick import PickDialog
from ui.tui.dialogs.return_shelf import ReturnDialog

GTIN = "4006381333931"


@pytest.mark.parametrize("size", SIZES)
def test_stage_by_scanning_items_then_the_bin(env, size):
    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=size) as pilot:
            await login(pilot)
            assert not no_horizontal_overflow(app)
            await scan(pilot, "W10001")
            assert on_order(app, "W10001")
            assert not no_horizontal_overflow(app)
            await pilot.press("f2")
            assert isinstance(app.screen, PickDialog)
            await scan(pilot, GTIN)
            await scan(pilot, "B-11")
            await pilot.press("f2")  # 1 of 4 items checked: refused, nothing written
            assert "neither picked nor recorded short" in message(app)
            assert state_of(env.settings, "W10001") == "TO_PICK"
            for _ in range(3):
                await scan(pilot, GTIN)
            assert "All picked" in message(app)
            await pilot.press("f2")
            assert on_order(app)
            assert "DONE: order W10001 staged in bin B-11" in message(app)
            got = row(env.settings, "SELECT state, bin FROM orders WHERE order_id='W10001'")
            assert got == {"state": "READY", "bin": "B-11"}
            assert row(env.settings, "SELECT associate_id, device_id FROM outbox"
                       " WHERE order_id='W10001'") == {"associate_id": "A100", "device_id": "backroom-1"}

    asyncio.run(main())


@pytest.mark.parametrize("size", SIZES)
def test_pickup_happy_path_with_the_oms_reachable(sim_env, size):
    env = sim_env

    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=size) as pilot:
            await login(pilot)
            await scan(pilot, "B-07")  # the bin leads to its order
            assert on_order(app, "W10002")
            await scan(pilot, "K7Q9MX")  # the customer's code
            await confirm_handover(pilot)
            await wait_for(pilot, lambda: "DONE" in message(app) or "error" in message(app))
            assert "DONE: order W10002 handed over from bin B-07" in message(app)
            assert "without OMS confirmation" not in message(app)
            assert "Receipt queued for counter" in message(app)
            assert not no_horizontal_overflow(app)
            assert state_of(env.settings, "W10002") == "PICKED_UP"
            event = row(env.settings, "SELECT data, override_by FROM outbox WHERE order_id='W10002'"
                        " AND type='order.picked_up'")
            assert '"pickup_code"' in event["data"] and event["override_by"] is None
            jobs = row(env.settings, "SELECT group_concat(kind) AS kinds FROM print_jobs"
                       " WHERE order_id='W10002'")
            assert jobs == {"kinds": "receipt"}, "exactly one receipt per handoff"
            audit = row(env.settings, "SELECT outcome FROM received_changes WHERE source='live_check'")
            assert audit is not None

    asyncio.run(main())


def test_pickup_qr_from_the_queue_and_a_wrong_code(sim_env):
    env = sim_env

    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=(80, 24)) as pilot:
            await login(pilot)
            await scan(pilot, "PICKUP:W10002:ZZZZ99")
            assert on_order(app, "W10002")
            assert "Wrong pickup code for order W10002. Nothing changed" in message(app)
            assert state_of(env.settings, "W10002") == "READY"

    asyncio.run(main())


@pytest.mark.parametrize("size", SIZES)
def test_cancel_with_a_reason_then_return_to_shelf(env, size):
    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=size) as pilot:
            await login(pilot)
            await scan(pilot, "W10002")
            await pilot.press("f4")
            assert isinstance(app.screen, CancelDialog)
            assert not no_horizontal_overflow(app)
            assert app.screen.query_one("#reasons").highlighted is None  # no reason chosen for you
            await pilot.press("down", "down", "enter")  # second reason: no_show
            assert isinstance(app.screen, CancelDialog)  # one more key: it cannot be undone
            assert 'Cancel order W10002 as "No-show"? F2 confirms' in message(app)
            assert state_of(env.settings, "W10002") == "READY"
            await pilot.press("f2")
            assert on_order(app)
            assert "DONE: order W10002 cancelled; return its items from bin B-07" in message(app)
            task = row(env.settings, "SELECT reason FROM return_tasks WHERE order_id='W10002'")
            assert task["reason"] == "no_show"
            await pilot.press("f6")
            assert isinstance(app.screen, ReturnDialog)
            await pilot.press("f2")  # not before the bin is scanned
            assert "Scan bin B-07 first" in message(app)
            await scan(pilot, "B-08")
            assert "not this order's bin" in message(app)
            await scan(pilot, "B-07")
            await pilot.press("f2")
            assert on_order(app)
            assert "back on the shelf" in message(app)
            task = row(env.settings, "SELECT state, done_by FROM return_tasks WHERE order_id='W10002'")
            assert task == {"state": "DONE", "done_by": "A100"}

    asyncio.run(main())


def test_queue_sections_counts_search_and_no_shows(env):
    from tests.ui.conftest import order, seed

    seed(env.settings, order("W10009", hold_until="2020-01-01T10:00:00Z"),
         order("W10010", arrival={"arrived_at": "2026-11-23T14:00:00Z", "bay": "3",
                                  "vehicle": "blue van"}, fulfillment="curbside"))

    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=(80, 24)) as pilot:
            await login(pilot)
            screen = app.screen
            assert on_queue(app)
            labels = {b.id: str(b.label) for b in screen.query("#sections Button")}
            assert labels["sec-to_pick"] == "To pick 3" and labels["sec-ready"] == "Ready 2"
            assert labels["sec-arrived"] == "Arrived 1" and labels["sec-no_shows"] == "No-shows 1"
            assert screen.query_one("#sec-arrived").has_class("-urgent")
            await pilot.click("#sec-arrived")
            table = screen.query_one("#queue")
            assert table.row_count == 1 and "blue van" in str(table.get_row_at(0))
            await pilot.click("#sec-no_shows")
            await pilot.press("enter")
            assert on_order(app, "W10009")
            await pilot.press("f4")  # a no-show's cancel suggests the reason, in words only
            assert app.screen.query_one("#reasons").highlighted is None
            assert "No-show may be the reason" in message(app)
            await pilot.press("escape", "escape")
            await pilot.click("#sec-ready")
            await pilot.press("ctrl+f", *"W10003")
            assert str(screen.query_one("#sec-ready").label) == "Ready 2"  # counts stay whole
            assert table.row_count == 1
            assert str(screen.query_one("#sec-arrived").label) == "Arrived 1"  # no car is hidden
            await pilot.press("escape")  # search is for a moment
            assert screen.query_one("#search").value == "" and table.row_count == 2
            await pilot.press("ctrl+f", *"W10002", "enter")  # a wedge scan with focus in search
            assert on_order(app, "W10002")
            await pilot.press("escape")
            assert screen.query_one("#search").value == ""

    asyncio.run(main())


def test_exceptions_dead_letter_retried_by_a_manager(env):
    from agent.store.connection import Store

    with Store(env.settings.storage.path) as store, store.write() as conn:
        conn.execute("UPDATE outbox SET status='dead', dead_kind='rejected', result_code='invalid',"
                     " result_message='bin unknown', dead_at='2026-11-23T10:00:00.000Z'"
                     " WHERE order_id='W10002'")

    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=(40, 20)) as pilot:
            await login(pilot)
            assert "DLQ 1" in str(app.screen.query_one("#status").render())
            await pilot.click("#sec-exceptions")
            await pilot.press("enter")
            assert isinstance(app.screen, DlqDialog)
            await pilot.press(*"A100", "enter", *"2468", "enter")
            await pilot.press("f2")
            assert "wrong id or PIN" in message(app)  # never "not a manager": who is one is no hint
            app.screen.query_one("#dlq-mgr").value = ""
            app.screen.query_one("#dlq-mgr").focus()
            await pilot.press(*"M1", "enter", *MANAGER_PIN, "enter")
            await pilot.press("f2")
            await wait_for(pilot, lambda: on_queue(app))
            assert "will be sent again" in message(app)
            got = row(env.settings, "SELECT status, resolved_by FROM outbox WHERE order_id='W10002'")
            assert got == {"status": "pending", "resolved_by": "M1"}

    asyncio.run(main())
