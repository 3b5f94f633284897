"""The agent against a real Medusa v2 server: feed, events, cancellations, an outage, the live check.

The sender, the feed and the live check are the agent's own, unchanged; only
``oms.kind = "medusa"`` differs from a Store Sync deployment. What reached
Medusa is checked through its admin API, never through the adapter.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from agent.oms import make_client
from agent.workers.feed import FeedPuller
from agent.workers.live_check import check_order
from agent.workers.reconcile import reconcile
from agent.workers.sender import OutboxSender
from sync.medusa import MedusaClient
from tests.medusa.conftest import MedusaEnv, StoreEnv
from tests.medusa.shop import place_order

pytestmark = pytest.mark.medusa
A = "A100"


def pull(agent: StoreEnv) -> None:
    async def main():
        async with make_client(agent.settings) as client:
            assert isinstance(client, MedusaClient)
            while (await FeedPuller(agent.store, agent.settings, client).pull(wait=0)).has_more:
                pass
    asyncio.run(main())


def drain(agent: StoreEnv):
    async def main():
        async with make_client(agent.settings) as client:
            return await OutboxSender(agent.store, agent.settings, client, rng=random.Random(1)).drain()
    return asyncio.run(main())


def state(agent: StoreEnv, order_id: str) -> str | None:
    row = agent.store.conn.execute("SELECT state FROM orders WHERE order_id = ?", (order_id,)).fetchone()
    return row[0] if row else None


def outbox(agent: StoreEnv, order_id: str) -> list[tuple[str, str]]:
    return [tuple(r) for r in agent.store.conn.execute(
        "SELECT type, status FROM outbox WHERE order_id = ? ORDER BY seq", (order_id,))]


def in_medusa(medusa: MedusaEnv, order_id: str) -> dict:
    return medusa.admin.call("GET", f"/admin/orders/{order_id}",
                             params={"fields": "id,status,*fulfillments,*fulfillments.items"})["order"]


def central_cancel(medusa: MedusaEnv, order_id: str) -> None:
    """What a person does in Medusa's admin: cancel the fulfillments, then the order."""
    for f in in_medusa(medusa, order_id)["fulfillments"]:
        if not f["canceled_at"]:
            medusa.admin.call("POST", f"/admin/orders/{order_id}/fulfillments/{f['id']}/cancel", json={})
    medusa.admin.call("POST", f"/admin/orders/{order_id}/cancel", json={})


def stage(agent: StoreEnv, order_id: str, bin_: str = "B-01") -> None:
    agent.actions.stage(order_id, bin=bin_, associate_id=A)


def pickup(agent: StoreEnv, order_id: str) -> None:
    code = agent.store.conn.execute("SELECT pickup_code FROM orders WHERE order_id = ?",
                                    (order_id,)).fetchone()[0]
    agent.actions.pickup(order_id, associate_id=A, code=code, oms_confirmed=True)


def test_orders_released_to_the_store_appear(medusa: MedusaEnv, agent: StoreEnv):
    order = place_order(medusa.admin, medusa.shop, (2, 1))
    pull(agent)
    assert state(agent, order["id"]) == "TO_PICK"
    lines = agent.store.conn.execute("SELECT quantity FROM order_lines WHERE order_id = ?"
                                     " ORDER BY quantity DESC", (order["id"],)).fetchall()
    assert [r[0] for r in lines] == [2, 1]


def test_stage_and_pickup_reach_medusa(medusa: MedusaEnv, agent: StoreEnv):
    oid = place_order(medusa.admin, medusa.shop, (1, 3))["id"]
    pull(agent)
    stage(agent, oid)
    report = drain(agent)
    assert report.acked == 1 and report.dead == 0, report
    fulfillments = in_medusa(medusa, oid)["fulfillments"]
    assert len(fulfillments) == 1
    assert sorted(i["quantity"] for i in fulfillments[0]["items"]) == [1, 3]
    assert fulfillments[0]["location_id"] == medusa.shop.location_id
    assert fulfillments[0]["delivered_at"] is None
    pickup(agent, oid)
    assert drain(agent).acked == 1
    fulfillments = in_medusa(medusa, oid)["fulfillments"]
    assert len(fulfillments) == 1 and fulfillments[0]["delivered_at"]
    assert state(agent, oid) == "PICKED_UP"
    assert outbox(agent, oid) == [("order.staged", "acked"), ("order.picked_up", "acked")]

    async def reconcile_once():
        async with make_client(agent.settings) as client:
            return await reconcile(agent.store, agent.settings, client)
    report = asyncio.run(reconcile_once())
    assert report.compared >= 1
    assert not [f for f in report.findings if f.order_id == oid], report.findings


def test_central_cancellation_reaches_a_staged_order(medusa: MedusaEnv, agent: StoreEnv):
    oid = place_order(medusa.admin, medusa.shop, (2, 0))["id"]
    pull(agent)
    stage(agent, oid, "B-07")
    assert drain(agent).acked == 1
    central_cancel(medusa, oid)
    pull(agent)
    assert state(agent, oid) == "CANCELLED"
    task = agent.store.conn.execute("SELECT state, bin FROM return_tasks WHERE order_id = ?",
                                    (oid,)).fetchone()
    assert tuple(task) == ("OPEN", "B-07")


def test_cancel_in_store_reaches_medusa(medusa: MedusaEnv, agent: StoreEnv):
    staged = place_order(medusa.admin, medusa.shop, (1, 1))["id"]
    fresh = place_order(medusa.admin, medusa.shop, (0, 2))["id"]
    pull(agent)
    stage(agent, staged)
    assert drain(agent).acked == 1
    for oid in (staged, fresh):
        agent.actions.cancel(oid, reason="customer_refused", associate_id=A)
    assert drain(agent).acked == 2
    for oid in (staged, fresh):
        order = in_medusa(medusa, oid)
        assert order["status"] == "canceled"
        assert all(f["canceled_at"] for f in order["fulfillments"])


def test_live_check_sees_a_cancellation_made_a_moment_ago(medusa: MedusaEnv, agent: StoreEnv):
    oid = place_order(medusa.admin, medusa.shop, (1, 0))["id"]
    pull(agent)
    stage(agent, oid)
    assert drain(agent).acked == 1
    central_cancel(medusa, oid)  # not pulled: only the live check can know
    check = asyncio.run(check_order(agent.store, agent.settings, oid))
    assert check.reached, check.detail
    assert state(agent, oid) == "CANCELLED"


def test_outage_then_recovery_loses_and_doubles_nothing(medusa: MedusaEnv, agent: StoreEnv):
    to_stage, to_cancel, to_pick = (place_order(medusa.admin, medusa.shop, (1, 1))["id"] for _ in range(3))
    pull(agent)
    stage(agent, to_pick)
    assert drain(agent).acked == 1
    medusa.server.stop()
    try:
        stage(agent, to_stage, "B-02")
        agent.actions.cancel(to_cancel, reason="no_show", associate_id=A)
        pickup(agent, to_pick)
        report = drain(agent)
        assert report.acked == 0 and report.error, report
        assert report.wait_s > 0
    finally:
        medusa.server.start()
    report = drain(agent)
    assert report.acked == 3 and report.dead == 0, report
    # A retry of an event whose answer was lost finds its effect there: duplicate, not twice.
    row = agent.store.conn.execute("SELECT event_id FROM outbox WHERE order_id = ? AND type = 'order.staged'",
                                   (to_stage,)).fetchone()
    agent.store.conn.execute("UPDATE outbox SET status = 'pending', acked_at = NULL WHERE event_id = ?",
                             (row[0],))
    agent.store.conn.commit()
    report = drain(agent)
    assert report.acked == 1, report
    result = agent.store.conn.execute("SELECT oms_result FROM outbox WHERE event_id = ?",
                                      (row[0],)).fetchone()
    assert '"duplicate"' in result[0]
    assert len(in_medusa(medusa, to_stage)["fulfillments"]) == 1
    assert in_medusa(medusa, to_cancel)["status"] == "canceled"
    delivered = in_medusa(medusa, to_pick)["fulfillments"]
    assert len(delivered) == 1 and delivered[0]["delivered_at"]


def stock_at_store(medusa: MedusaEnv, sku: str) -> int:
    """stocked_quantity of the SKU at the store's location, read through Medusa's admin API."""
    body = medusa.admin.call("GET", "/admin/inventory-items",
                             params={"sku": sku, "fields": "id,sku,*location_levels"})
    [item] = body["inventory_items"]
    [level] = [lv for lv in item["location_levels"] if lv["location_id"] == medusa.shop.location_id]
    return level["stocked_quantity"]


def line_ids(agent: StoreEnv, order_id: str) -> dict[str, str]:
    """sku -> line_id of the order, as the store knows it."""
    return dict(agent.store.conn.execute("SELECT sku, line_id FROM order_lines WHERE order_id = ?",
                                         (order_id,)).fetchall())


def test_short_pick_lowers_medusa_stock_at_the_location(medusa: MedusaEnv, agent: StoreEnv):
    oid = place_order(medusa.admin, medusa.shop, (3, 1))["id"]
    pull(agent)
    sku = medusa.shop.skus[0]
    before = stock_at_store(medusa, sku)
    agent.actions.short(oid, lines={line_ids(agent, oid)[sku]: 2}, reason="not_found", associate_id=A)
    report = drain(agent)
    assert (report.acked, report.dead) == (1, 0), report
    assert stock_at_store(medusa, sku) == before - 2
    # The OMS's answer: the units are cancelled on the line; the retry of the same event is
    # recognised from the order's metadata and changes nothing more.
    row = agent.store.conn.execute("SELECT quantity_cancelled FROM order_lines WHERE order_id = ?"
                                   " AND sku = ?", (oid, sku)).fetchone()
    assert row[0] == 2
    agent.store.conn.execute("UPDATE outbox SET status = 'pending' WHERE order_id = ?", (oid,))
    agent.store.conn.commit()
    assert drain(agent).acked == 1
    assert stock_at_store(medusa, sku) == before - 2
    stage(agent, oid)
    assert drain(agent).acked == 1
    [fulfillment] = in_medusa(medusa, oid)["fulfillments"]
    assert sorted(i["quantity"] for i in fulfillment["items"]) == [1, 1]


def test_partial_pickup_in_medusa_leaves_the_rest_ready(medusa: MedusaEnv, agent: StoreEnv):
    oid = place_order(medusa.admin, medusa.shop, (2, 1))["id"]
    pull(agent)
    lines = line_ids(agent, oid)
    agent.actions.stage(oid, bins=["B-01", "B-02"], associate_id=A)
    code = agent.store.conn.execute("SELECT pickup_code FROM orders WHERE order_id = ?",
                                    (oid,)).fetchone()[0]
    agent.actions.pickup(oid, associate_id=A, code=code, oms_confirmed=True,
                         scanned_bins=["B-01", "B-02"], lines={lines[medusa.shop.skus[0]]: 2})
    report = drain(agent)
    assert (report.acked, report.dead) == (2, 0), report
    live = [f for f in in_medusa(medusa, oid)["fulfillments"] if not f["canceled_at"]]
    assert sorted((bool(f["delivered_at"]), sum(i["quantity"] for i in f["items"]))
                  for f in live) == [(False, 1), (True, 2)]
    pull(agent)
    assert state(agent, oid) == "READY"
    agent.actions.pickup(oid, associate_id=A, code=code, oms_confirmed=True,
                         scanned_bins=["B-01", "B-02"])
    assert drain(agent).acked == 1
    live = [f for f in in_medusa(medusa, oid)["fulfillments"] if not f["canceled_at"]]
    assert all(f["delivered_at"] for f in live) and len(live) == 2
    pull(agent)
    assert state(agent, oid) == "PICKED_UP"
