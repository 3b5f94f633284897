"""The order's timeline says where each store event stands: not sent, tried, acknowledged, dead."""

from __future__ import annotations

import asyncio

from agent.store.connection import Store
from tests.ui.conftest import login, on_order, scan, wait_for
from ui.tui.app import StoreAgentApp
from ui.tui.screens.order import OrderDetail


def _timeline(app) -> str:
    return app.screen.query_one(OrderDetail).render().plain


def test_event_outcomes_follow_the_outbox(env):
    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=(80, 24)) as pilot:
            await login(pilot)
            await scan(pilot, "W10002")  # staged by the fixture: one order.staged event, pending
            assert on_order(app, "W10002")
            assert "pending (not sent)" in _timeline(app)
            with Store(env.settings.storage.path) as store, store.write() as conn:
                conn.execute("UPDATE outbox SET attempts = 2, last_error = 'timeout'"
                             " WHERE order_id = 'W10002'")
            await wait_for(pilot, lambda: "pending (2 tries)" in _timeline(app))
            with Store(env.settings.storage.path) as store, store.write() as conn:
                conn.execute("UPDATE outbox SET status = 'acked', acked_at = '2026-11-23T09:41:00Z'"
                             " WHERE order_id = 'W10002'")
            await wait_for(pilot, lambda: "acked " in _timeline(app))
            assert "pending" not in _timeline(app)

    asyncio.run(main())
