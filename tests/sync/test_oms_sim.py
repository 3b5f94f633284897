"""The reference OMS on its own: state rules, fault spec, admin API, samples."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from config.errors import UsageError
from sync.models import Event, OrderSnapshot
from sync.oms_sim import FaultSpec, SimState
from sync.oms_sim.app import trickle_once
from sync.oms_sim.state import CursorGone
from sync.samples import PICKUP_ALPHABET, gtin_is_valid, sample_gtin13, sample_orders
from tests.sync.conftest import NOW, STORE, TOKEN, make_event


@pytest.fixture
def state() -> SimState:
    s = SimState(token=TOKEN, seed=1)
    for order in sample_orders(4, seed=1, now=NOW):
        s.add_order(STORE, order)
    return s


def ev(state, order_id, type_="order.staged", seq=1, **kwargs) -> Event:
    return Event.model_validate(make_event(state.get_order(STORE, order_id), type_, seq=seq, **kwargs))


def test_event_effects_and_conflicts(state):
    version = state.get_order(STORE, "W1000001")["version"]
    staged, picked = ev(state, "W1000001"), ev(state, "W1000001", "order.picked_up", seq=2)
    again = ev(state, "W1000001", "order.staged", seq=3)
    results = state.apply_events(STORE, [staged, picked, again])
    assert [r["status"] for r in results] == ["accepted", "accepted", "conflict"]
    assert results[2]["order"]["status"] == "picked_up" and results[2]["order"]["version"] == version + 2
    cancel = ev(state, "W1000002", "order.cancelled", seq=4)
    back = ev(state, "W1000002", "order.returned_to_shelf", seq=5)
    version = state.get_order(STORE, "W1000002")["version"]
    assert [r["status"] for r in state.apply_events(STORE, [cancel, back])] == ["accepted"] * 2
    order = state.get_order(STORE, "W1000002")
    assert order["status"] == "cancelled" and order["version"] == version + 2  # return bumps, keeps status
    too_many = ev(state, "W1000003", data={"bin": "B", "lines": [{"line_id": "1", "quantity_picked": 99}]})
    assert state.apply_events(STORE, [too_many])[0]["code"] == "bad_line"


def test_ordering_violations_and_duplicates_are_counted(state):
    late, early = ev(state, "W1000001", seq=10), ev(state, "W1000001", "order.staged", seq=4)
    state.apply_events(STORE, [late, early, late])
    state.apply_events(STORE, [late])
    stats = state.stats(STORE)
    assert stats["events_received"] == 4 and stats["accepted"] == 2
    assert stats["duplicate_results"] == 2 and stats["duplicate_ids"] == 1
    (violation,) = stats["ordering_violations"]
    assert violation == {"order_id": "W1000001", "event_id": str(early.event_id), "seq": 4, "after_seq": 10}


def test_bootstrap_pages_by_key_so_a_closed_order_skips_nothing(state):
    first = state.changes(STORE, None, 2)
    assert [c["order"]["order_id"] for c in first["changes"]] == ["W1000001", "W1000002"]
    state.cancel_order(STORE, "W1000001")  # an offset-based cursor would now skip W1000003
    second = state.changes(STORE, first["cursor"], 2)
    ids = [c["order"]["order_id"] for c in second["changes"]]
    assert ids == ["W1000003", "W1000004"] and second["has_more"]
    third = state.changes(STORE, second["cursor"], 10)
    assert [c["order"]["status"] for c in third["changes"]] == ["cancelled"]
    assert not third["has_more"]


def test_cursors_expire_on_compaction_and_across_runs(state):
    cursor = state.changes(STORE, None, 100)["cursor"]
    state.cancel_order(STORE, "W1000001")
    assert len(state.changes(STORE, cursor, 100)["changes"]) == 1
    state.compact(STORE)
    with pytest.raises(CursorGone):
        state.changes(STORE, cursor, 100)
    fresh = state.changes(STORE, None, 100)["cursor"]
    with pytest.raises(CursorGone):
        SimState(token=TOKEN).changes(STORE, fresh, 100)
    for junk in ("", "%%%", "bm9wZQ", fresh + "x"):
        with pytest.raises(CursorGone):
            state.changes(STORE, junk, 100)


def test_tokens(state):
    state.create_store("S2", token="s2-token")
    assert state.check_token(STORE, f"Bearer {TOKEN}") is None
    assert state.check_token("S2", "Bearer s2-token") is None
    assert state.check_token("S2", f"Bearer {TOKEN}") == 401
    assert state.check_token(STORE, "Bearer s2-token") == 403
    assert state.check_token(STORE, None) == 401
    assert state.check_token(STORE, TOKEN) == 401


def test_fault_spec_grammar():
    spec = FaultSpec.parse(
        " error_rate=0.2, rate_limit=0.1,retry_after=2,latency_ms=50,"
        "lost_response=0.1,down=1,malformed=0.05,seed=9"
    )
    assert (spec.error_rate, spec.rate_limit, spec.retry_after, spec.latency_ms) == (0.2, 0.1, 2, 50)
    assert spec.down is True and spec.seed == 9 and spec.malformed == 0.05
    assert FaultSpec.parse(spec.to_spec()) == spec
    assert FaultSpec.parse("") == FaultSpec()
    for bad in ("error_rate=2", "nope=1", "down=yes", "latency_ms=-1", "error_rate", "seed=x"):
        with pytest.raises(UsageError):
            FaultSpec.parse(bad)


def test_trickle_adds_orders_and_sometimes_cancels_or_arrives():
    state = SimState(seed=3)
    state.create_store(STORE)
    for _ in range(60):
        trickle_once(state)
    stats = state.stats(STORE)
    orders = state.store(STORE).orders.values()
    assert stats["orders"] == 60
    assert any(o["status"] == "cancelled" for o in orders)
    assert any(o["arrival"] is not None for o in orders)


def test_admin_api_and_faults_never_touch_admin(sim):
    admin = httpx.Client(base_url=sim.url, timeout=5)
    assert admin.put("/admin/faults", json={"spec": "down=1"}).json()["spec"] == "down=1"
    created = admin.post(f"/admin/stores/{STORE}/orders", json={"count": 2}).json()["orders"]
    assert len(created) == 2
    order_id = created[0]["order_id"]
    assert admin.post(f"/admin/stores/{STORE}/orders/{order_id}/cancel").json()["status"] == ("cancelled")
    curbside = admin.post(f"/admin/stores/{STORE}/orders/{created[1]['order_id']}/arrival").json()
    assert curbside["arrival"]["bay"] and curbside["fulfillment"] == "curbside"
    assert admin.post(f"/admin/stores/{STORE}/compact").json()["compacted_at"] > 0
    assert admin.get(f"/admin/stores/{STORE}/stats").json()["orders"] == 7
    assert admin.put("/admin/faults", json={"spec": "bogus=1"}).status_code == 400
    with pytest.raises(httpx.TransportError):  # the store endpoints are down meanwhile
        httpx.get(f"{sim.url}/v1/stores/{STORE}/orders", headers={"Authorization": f"Bearer {TOKEN}"})
    assert admin.delete("/admin/faults").json() == {"spec": "", "scripted": 0}
    assert admin.put("/admin/trickle", json={"interval_s": 0}).status_code == 400
    assert admin.get(f"/admin/stores/{STORE}/events").json() == {"events": []}
    admin.close()


def test_sample_orders_are_deterministic_and_realistic():
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    orders = sample_orders(300, seed=5, now=now)
    assert orders == sample_orders(300, seed=5, now=now)
    assert orders != sample_orders(300, seed=6, now=now)
    assert orders[0]["order_id"] == "W1000001" and orders[-1]["order_id"] == "W1000300"
    for order in orders:
        snapshot = OrderSnapshot.model_validate(order)
        assert 1 <= len(snapshot.lines) <= 4
        assert all(line.gtin and gtin_is_valid(line.gtin) for line in snapshot.lines)
        assert len(snapshot.pickup_code) == 8 and set(snapshot.pickup_code) <= set(PICKUP_ALPHABET)
        assert snapshot.hold_until - snapshot.pickup_window.end == timedelta(days=3)
        assert order["updated_at"].endswith("Z")
    statuses = Counter(o["status"] for o in orders)
    assert statuses["released"] > statuses["ready_for_pickup"] > 20
    curbside = sum(o["fulfillment"] == "curbside" for o in orders) / len(orders)
    assert 0.2 < curbside < 0.4
    assert not set("015ILOSZB") & set(PICKUP_ALPHABET)


def test_gtin_check_digit():
    assert gtin_is_valid("4006381333931") and gtin_is_valid("96385074")
    assert gtin_is_valid("036000291452") and gtin_is_valid("10036000291459")
    assert not gtin_is_valid("4006381333932") and not gtin_is_valid("400638133393")
    rng = random.Random(0)
    assert all(gtin_is_valid(sample_gtin13(rng)) for _ in range(200))
