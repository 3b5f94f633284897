"""A feed answer of 410 (cursor expired), handled by the agent against the real reference OMS.

tests/sync/test_client_contract.py proves the client raises CursorExpiredError; here the
agent's FeedPuller (agent/workers/feed.py) gets a real 410 from the reference OMS on 127.0.0.1 after
it compacted its log, drops its cursor, asks for a reconciliation and starts again from every
open order; the reconciliation then brings what the feed can no longer deliver. The second
test shows the running daemon acting on it: it reconciles at once after the 410.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest

from agent.oms import make_client
from agent.store import sync_state
from agent.store.connection import Store
from agent.workers.feed import FeedPuller
from agent.workers.reconcile import reconcile
from config import load_settings
from sync.oms_sim import OmsSimServer, SimState
from tests.factories import write_config
from tests.test_daemon import DaemonProcess, Oms, agent_config, query, sync_value, wait_for

STORE = "S042"
TOKEN = "test-token-not-secret"  # the token in tests.factories' config
WAIT_S = 60.0  # bounds for waiting on other processes on a busy machine, not timing assertions


@pytest.fixture
def sim():
    state = SimState(token=TOKEN, seed=11)
    state.add_sample_orders(STORE, 6)
    with OmsSimServer(state) as server:
        yield server


async def catch_up(feed: FeedPuller) -> None:
    while (await feed.pull(wait=0)).has_more:
        pass


def local_state(store: Store, order_id: str) -> str:
    return store.conn.execute("SELECT state FROM orders WHERE order_id = ?", (order_id,)).fetchone()[0]


def test_410_resets_the_cursor_and_the_reconciliation_it_asks_for_repairs_the_gap(
        tmp_path: Path, sim: OmsSimServer, caplog):
    settings = load_settings(write_config(tmp_path), environ={"STORE_AGENT_OMS__URL": sim.url})
    store = Store(settings.storage.path)

    async def scenario():
        async with make_client(settings) as client:
            feed = FeedPuller(store, settings, client)
            await catch_up(feed)
            old_cursor = feed.cursor()
            assert old_cursor is not None
            gone = store.conn.execute(
                "SELECT order_id FROM orders WHERE state = 'TO_PICK' ORDER BY order_id").fetchone()[0]
            # While the store is not looking: an order is cancelled, then the OMS compacts its
            # log, so the cancellation is behind every cursor handed out before.
            sim.state.cancel_order(STORE, gone)
            sim.state.compact(STORE)

            with caplog.at_level(logging.WARNING, logger="store_agent.feed"):
                report = await feed.pull(wait=0)
            assert report.cursor_reset and report.changes == 0 and report.has_more
            assert "feed cursor expired (410)" in caplog.text
            assert feed.cursor() is None
            assert sync_state.get(store.conn, "reconcile_requested") == "1"

            # Starting again from every open order cannot bring the cancellation: the order
            # is no longer open and its change was compacted away. That is why the agent
            # asks for a reconciliation.
            await catch_up(feed)
            assert feed.cursor() not in (None, old_cursor)
            assert local_state(store, gone) == "TO_PICK"
            return gone, await reconcile(store, settings, client)

    try:
        gone, report = asyncio.run(scenario())
        assert [(f.order_id, f.kind) for f in report.findings] == [(gone, "missed_change")]
        assert local_state(store, gone) == "CANCELLED"
        assert sync_state.get(store.conn, "reconcile_requested") is None
    finally:
        store.close()


def test_the_running_daemon_reconciles_as_soon_as_the_feed_answers_410(tmp_path: Path):
    oms = Oms(tmp_path, orders=8)  # `store-agent oms-sim` on a free loopback port
    try:
        db = tmp_path / "agent.db"
        daemon = DaemonProcess(agent_config(tmp_path, oms.url, long_poll_s=2), tmp_path / "daemon.log")
        try:
            daemon.wait_started(timeout=WAIT_S)
            wait_for(lambda: "reconciled" in daemon.log(), "the start-up reconciliation", WAIT_S)
            before = sync_value(db, "last_reconcile_at")
            mark = len(daemon.log())
            reconciled = daemon.log().count("reconciled ")
            # The next feed request (the one in flight is already past this point) gets the
            # 410 the OMS sends for a compacted cursor; nothing else is disturbed.
            oms.admin("POST", "/admin/faults/script", json={
                "status": 410, "method": "GET", "path_contains": "/changes",
                "body": json.dumps({"error": "cursor_expired",
                                    "message": "cursor is older than the compaction point"})})
            wait_for(lambda: "feed cursor expired (410)" in daemon.log(), "the daemon to get the 410",
                     WAIT_S)
            wait_for(lambda: daemon.log().count("reconciled ") > reconciled,
                     lambda: f"a reconciliation after the 410:\n{daemon.log()[-3000:]}", WAIT_S)
            wait_for(lambda: sync_value(db, "reconcile_requested") is None,
                     "the reconciliation request to be cleared", WAIT_S)
            assert sync_value(db, "last_reconcile_at") > before
            assert "feed cursor expired" not in daemon.log()[:mark]  # it was this 410's doing
            assert sync_value(db, "online") == "1"  # a 410 is handled, not an outage
            assert oms.admin("GET", "/admin/faults")["scripted"] == 0

            # The feed carries on from its new cursor.
            order = oms.released()[0]
            oms.cancel(order)
            wait_for(lambda: query(db, "SELECT state FROM orders WHERE order_id = ?", (order,))
                     == [("CANCELLED",)], f"{order}'s cancellation to reach the store", WAIT_S)
            code, _took = daemon.terminate(timeout=WAIT_S)
            assert code == 0, daemon.log()[-3000:]
        finally:
            daemon.ensure_dead()
    finally:
        oms.stop()
