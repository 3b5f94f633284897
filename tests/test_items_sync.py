"""Item-level fulfillment end to end: the store's actions travel to the real reference OMS
over HTTP on 127.0.0.1 (real client, real sender, real feed), and the OMS's stock and
line quantities show their effect, online and after an outage."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.oms import make_client
from agent.orders.actions import Actions
from agent.store.connection import Store
from agent.workers.feed import FeedPuller
from agent.workers.sender import DrainReport, OutboxSender
from config import load_settings
from config.settings import Settings
from sync.oms_sim import OmsSimServer, SimState
from tests.factories import write_config
from tests.test_items import items_snapshot

STORE = "S042"
TOKEN = "test-token-not-secret"


@dataclass
class Env:
    sim: OmsSimServer
    state: SimState
    settings: Settings
    store: Store
    actions: Actions

    def availability(self, *skus: str) -> dict[str, int]:
        """What the OMS says over its 1.1 endpoint, as an integration team would read it."""
        answer = httpx.get(f"{self.sim.url}/v1/stores/{STORE}/availability",
                           params=[("sku", s) for s in skus],
                           headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
        assert answer.status_code == 200
        return {a["sku"]: a["available"] for a in answer.json()["availability"]}

    def oms_order(self, order_id: str = "W1001") -> dict[str, Any]:
        order = self.state.get_order(STORE, order_id)
        assert order is not None
        return order

    def sync(self) -> DrainReport:
        """One drain of the outbox, then one pull of the feed (what the daemon does)."""

        async def main() -> DrainReport:
            async with make_client(self.settings) as client:
                report = await OutboxSender(self.store, self.settings, client,
                                            rng=random.Random(3)).drain()
                if report.error is None:
                    await FeedPuller(self.store, self.settings, client).pull(wait=0)
                return report

        return asyncio.run(main())


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    state = SimState(token=TOKEN, seed=7)
    state.add_order(STORE, items_snapshot("W1001"))
    state.add_order(STORE, items_snapshot("W1002"))
    with OmsSimServer(state) as sim:
        path = write_config(tmp_path, policy="allow")
        path.write_text(path.read_text().replace('url = "http://127.0.0.1:9"', f'url = "{sim.url}"'))
        settings = load_settings(path, environ={})
        store = Store(settings.storage.path)
        try:
            e = Env(sim, state, settings, store, Actions(store, settings))
            e.sync()  # the store learns the orders from the feed
            yield e
        finally:
            store.close()


def _line(order: dict[str, Any], line_id: str) -> dict[str, Any]:
    return next(line for line in order["lines"] if line["line_id"] == line_id)


def test_a_short_pick_lowers_the_oms_availability_and_cancels_the_units(env):
    before = env.availability("SKU-3")["SKU-3"]
    env.actions.short("W1001", lines={"L3": 2}, reason="not_found", associate_id="A100")
    report = env.sync()
    assert report.acked == 1 and report.dead == 0
    assert env.availability("SKU-3") == {"SKU-3": before - 2}
    assert _line(env.oms_order(), "L3")["quantity_cancelled"] == 2
    # The OMS's answer came back on the feed: the store's line shows the cancellation too.
    row = env.store.conn.execute("SELECT quantity_cancelled, quantity_short FROM order_lines"
                                 " WHERE order_id = 'W1001' AND line_id = 'L3'").fetchone()
    assert tuple(row) == (2, 2)
    env.actions.stage("W1001", bin="B-07", associate_id="A100")
    assert env.sync().acked == 1
    assert env.oms_order()["status"] == "ready_for_pickup"


def test_a_return_to_shelf_raises_the_oms_availability(env):
    env.actions.stage("W1001", bins=["B-07", "B-08"], associate_id="A100")
    env.actions.cancel("W1001", reason="customer_refused", associate_id="A100")
    assert env.sync().acked == 2
    before = env.availability("SKU-1", "SKU-2", "SKU-3")
    env.actions.return_to_shelf("W1001", associate_id="A100")
    assert env.sync().acked == 1
    after = env.availability("SKU-1", "SKU-2", "SKU-3")
    assert {sku: after[sku] - before[sku] for sku in after} == {"SKU-1": 2, "SKU-2": 1, "SKU-3": 3}


def test_a_partial_pickup_leaves_the_rest_ready_at_the_oms(env):
    env.actions.stage("W1001", bins=["B-07", "B-08"], associate_id="A100")
    env.actions.pickup("W1001", associate_id="A100", code="K7Q9MX", oms_confirmed=True,
                       scanned_bins=["B-07", "B-08"], lines={"L1": 2})
    assert env.sync().acked == 2
    oms = env.oms_order()
    assert oms["status"] == "ready_for_pickup"
    assert [line["quantity_picked_up"] for line in oms["lines"]] == [2, 0, 0]
    state = env.store.conn.execute("SELECT state FROM orders WHERE order_id = 'W1001'").fetchone()
    assert state[0] == "READY"  # the OMS's echo does not close it either
    env.actions.pickup("W1001", associate_id="A100", code="K7Q9MX", oms_confirmed=True,
                       scanned_bins=["B-07", "B-08"], id_check="passport")
    assert env.sync().acked == 1
    assert env.oms_order()["status"] == "picked_up"
    event = env.state.store(STORE).received[-1]
    assert event["data"]["id_check"] == {"type": "passport"}
    assert event["data"]["lines"] == [{"line_id": "L2", "quantity": 1},
                                      {"line_id": "L3", "quantity": 3}]


def test_offline_actions_flow_in_order_on_reconnect(env):
    before = env.availability("SKU-3", "SKU-1")
    env.state.set_faults("down=1")
    env.actions.verify_item("W1001", code="4006381333931", associate_id="A100")
    env.actions.verify_item("W1001", code="4006381333931", associate_id="A100")
    env.actions.verify_item("W1001", code="5901234123457", associate_id="A100")
    env.actions.short("W1001", lines={"L3": 3}, reason="expired", associate_id="A100")
    env.actions.stage("W1001", bins=["B-07", "B-08"], associate_id="A100")
    env.actions.short("W1002", lines={"L1": 1}, reason="damaged", associate_id="A100")
    env.actions.pickup("W1001", associate_id="A100", code="K7Q9MX", confirmed=True,
                       scanned_bins=["B-07", "B-08"], id_check="drivers_license")
    offline = env.sync()
    assert offline.acked == 0 and offline.error is not None
    env.state.set_faults("")
    report = env.sync()
    assert (report.acked, report.dead) == (4, 0)
    received = env.state.store(STORE).received
    # Per-order order: each order's events arrive in the order they were recorded.
    assert [e["type"] for e in received if e["order_id"] == "W1001"] == [
        "order.line_short", "order.staged", "order.picked_up"]
    assert [e["type"] for e in received if e["order_id"] == "W1002"] == ["order.line_short"]
    assert env.state.stats(STORE)["ordering_violations"] == []
    assert env.availability("SKU-3", "SKU-1") == {"SKU-3": before["SKU-3"] - 3,
                                                  "SKU-1": before["SKU-1"] - 1}
    assert env.oms_order()["status"] == "picked_up"


def test_the_oms_refuses_a_short_pick_of_more_than_is_open(env):
    # Another station already reported the units short at the OMS (v2 of the order).
    order = env.oms_order()
    order["lines"][2]["quantity_cancelled"] = 3
    env.state.add_order(STORE, order)
    env.actions.short("W1001", lines={"L3": 1}, reason="other", associate_id="A100")
    report = env.sync()
    assert report.dead == 1
    dead = env.store.conn.execute("SELECT result_code FROM outbox WHERE status = 'dead'").fetchone()
    assert dead[0] == "bad_line"


def test_every_request_announces_version_1_1(env):
    async def main():
        async with make_client(env.settings) as client:
            return client._http.headers.get("Store-Sync-Version")

    assert asyncio.run(main()) == "1.1"
    beat = env.state.store(STORE).heartbeats
    assert beat == []  # none sent yet; the body is checked in the heartbeat test below


def test_the_heartbeat_says_api_version_1_1(env):
    from agent.workers.housekeeping import heartbeat_body
    from sync.models import Heartbeat

    body = Heartbeat.model_validate(heartbeat_body(env.store))
    assert body.api_version == "1.1"


def test_an_oms_that_does_not_speak_1_1_raises_an_alert(env):
    import json

    from sync.oms_sim import ScriptedAnswer

    result = env.actions.short("W1001", lines={"L3": 1}, reason="other", associate_id="A100")
    body = {"results": [{"event_id": result.event.event_id, "status": "rejected",
                         "code": "unknown_type", "message": "unknown event type order.line_short"}]}
    env.state.script.append(ScriptedAnswer(status=200, body=json.dumps(body), method="POST",
                                           path_contains="/events"))
    report = env.sync()
    assert report.dead == 1
    alert = env.store.conn.execute("SELECT kind, message FROM alerts WHERE resolved_at IS NULL"
                                   " AND kind = 'oms_api_version'").fetchone()
    assert alert is not None and "1.1" in alert[1]


def test_a_short_pick_for_an_order_cancelled_online_meanwhile_still_lowers_stock(env):
    before = env.availability("SKU-1")["SKU-1"]
    env.actions.verify_item("W1001", code="SKU-3", associate_id="A100")
    env.actions.short("W1001", lines={"L1": 1}, reason="not_found", associate_id="A100")
    env.state.cancel_order(STORE, "W1001")  # online, before the store's events arrive
    assert env.sync().acked == 1
    assert env.availability("SKU-1") == {"SKU-1": before - 1}
    # The feed brought the cancellation: the picker is stopped, what they hold goes back.
    env.actions.return_to_shelf("W1001", associate_id="A100")
    report = env.sync()
    assert (report.acked, report.dead) == (1, 0)
    assert env.availability("SKU-3")["SKU-3"] == 1001


def test_the_api_version_alert_clears_once_its_dead_letters_are_settled(env):
    import json

    from agent.alerts.rules import evaluate
    from agent.orders import dead_letters
    from sync.oms_sim import ScriptedAnswer

    result = env.actions.short("W1001", lines={"L3": 1}, reason="other", associate_id="A100")
    body = {"results": [{"event_id": result.event.event_id, "status": "rejected",
                         "code": "unknown_type", "message": "unknown event type"}]}
    env.state.script.append(ScriptedAnswer(status=200, body=json.dumps(body), method="POST",
                                           path_contains="/events"))
    assert env.sync().dead == 1
    assert ("oms_api_version", "order.line_short") not in evaluate(env.store, env.settings).resolved
    dead_letters.discard(env.store, env.settings, result.event.event_id, manager_id="M1",
                         reason="OMS upgrade pending")
    assert ("oms_api_version", "order.line_short") in evaluate(env.store, env.settings).resolved
