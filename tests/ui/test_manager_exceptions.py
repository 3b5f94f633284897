"""A manager logged in finishes exceptions on screen: dead letters of an order together (and
hears whether they failed again), a conflict, a quarantined snapshot; no PIN asked again."""

from __future__ import annotations

import asyncio

from agent.clock import iso, utc_now
from agent.orders.actions import Actions
from agent.orders.snapshots import quarantine
from agent.store.connection import Store
from tests.ui.conftest import MANAGER_PIN, login, message, on_queue, row, wait_for
from ui.tui.app import StoreAgentApp
from ui.tui.dialogs.dlq import DlqDialog, ResolveDialog


def _open_exception(app, pilot, index: int = 0):
    async def go():
        await pilot.click("#sec-exceptions")
        table = app.screen.query_one("#queue")
        table.move_cursor(row=index)
        await pilot.press("enter")
    return go()


def test_a_logged_in_manager_retries_all_dead_letters_of_an_order_and_hears_the_outcome(env):
    with Store(env.settings.storage.path) as store:
        Actions(store, env.settings).cancel("W10002", reason="other", associate_id="A100")
        with store.write() as conn:
            conn.execute("UPDATE outbox SET status='dead', dead_kind='rejected', result_code='invalid',"
                         " result_message='bin unknown', dead_at=? WHERE order_id='W10002'",
                         (iso(utc_now()),))

    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=(40, 20)) as pilot:
            await login(pilot, "M1", MANAGER_PIN)
            await _open_exception(app, pilot)
            assert isinstance(app.screen, DlqDialog) and len(app.screen.rows) == 2
            assert not app.screen.query_one("#dlq-pin").display  # the session proved who decides
            await pilot.press("f2")
            assert on_queue(app)
            assert "2 change(s) of order W10002 will be sent again" in message(app)
            got = row(env.settings, "SELECT COUNT(*) AS n FROM outbox WHERE order_id='W10002'"
                      " AND status='pending' AND resolved_by='M1'")
            assert got["n"] == 2
            with Store(env.settings.storage.path) as store, store.write() as conn:  # as the sender
                conn.execute("UPDATE outbox SET status='dead', result_message='bin still unknown'"
                             " WHERE order_id='W10002' AND type='order.staged'")
            await wait_for(pilot, lambda: "refused the change again: bin still unknown" in message(app))

    asyncio.run(main())


def test_a_logged_in_manager_settles_a_conflict_and_a_quarantine_on_screen(env):
    with Store(env.settings.storage.path) as store, store.write() as conn:
        conn.execute("UPDATE orders SET conflict='handed over in store, cancelled online'"
                     " WHERE order_id='W10003'")
        quarantine(conn, raw={"order_id": "W19999"}, reason="missing lines", source="feed",
                   now=iso(utc_now()), order_id="W19999")

    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=(80, 24)) as pilot:
            await login(pilot, "M1", MANAGER_PIN)
            for _ in range(2):
                await _open_exception(app, pilot)
                assert isinstance(app.screen, ResolveDialog)
                await pilot.press("f2")  # no note yet: refused, nothing changed
                assert isinstance(app.screen, ResolveDialog) and "nothing changed" in message(app)
                await pilot.press(*"called the customer", "f2")
                assert on_queue(app) and "marked as settled" in message(app)
            conflict = row(env.settings, "SELECT conflict FROM orders WHERE order_id='W10003'")
            assert conflict["conflict"] is None
            left = row(env.settings, "SELECT COUNT(*) AS n FROM quarantine WHERE resolved_at IS NULL")
            assert left["n"] == 0
            assert str(app.screen.query_one("#sec-exceptions").label) == "Exceptions 0"

    asyncio.run(main())
