"""The rules for applying OMS snapshots (issue: local truth, section 5)."""

from __future__ import annotations

import pytest

from tests.conftest import GUARDED, table_dump
from tests.factories import snapshot


def _order(store, order_id="W1001"):
    return dict(store.conn.execute("SELECT * FROM orders WHERE order_id = ?", (order_id,)).fetchone())


def _alerts(store, kind=None):
    rows = [dict(r) for r in store.conn.execute("SELECT * FROM alerts WHERE resolved_at IS NULL")]
    return [r for r in rows if kind is None or r["kind"] == kind]


def test_new_order_is_inserted_with_lines(seed, store):
    assert seed(snapshot("W1001", lines=3))["applied"] == 1
    order = _order(store)
    assert (order["state"], order["version"], order["oms_status"]) == ("TO_PICK", 1, "released")
    assert store.conn.execute("SELECT COUNT(*) FROM order_lines").fetchone()[0] == 3


@pytest.mark.parametrize("version", [1, 2])
def test_only_newer_versions_apply(seed, store, version):
    seed(snapshot("W1001", version=2))
    before = table_dump(store.path, "orders", "order_lines")
    assert seed(snapshot("W1001", version=version, status="cancelled"))["older"] == 1
    assert table_dump(store.path, "orders", "order_lines") == before


def test_redelivery_is_harmless(seed, store):
    seed(snapshot("W1001"))
    before = table_dump(store.path, "orders", "order_lines", "outbox", "return_tasks")
    seed(snapshot("W1001"))
    assert table_dump(store.path, "orders", "order_lines", "outbox", "return_tasks") == before


def test_unknown_status_is_quarantined_and_alerted(seed, store):
    seed(snapshot("W1001"))
    before = table_dump(store.path, "orders", "order_lines", "outbox")
    assert seed(snapshot("W1001", version=2, status="on_hold"))["quarantined"] == 1
    assert table_dump(store.path, "orders", "order_lines", "outbox") == before
    [q] = store.conn.execute("SELECT * FROM quarantine").fetchall()
    assert "on_hold" in q["reason"] and q["order_id"] == "W1001"
    assert _alerts(store, "unknown_status")


@pytest.mark.parametrize("mutate", [
    lambda s: s.pop("lines"),
    lambda s: s.update(lines=[]),
    lambda s: s.update(version=0),
    lambda s: s.update(pickup_code="123"),
    lambda s: s.update(fulfillment="drone"),
    lambda s: s["lines"][0].update(gtin="12345"),
    lambda s: s["lines"][0].update(quantity=0),
    lambda s: s.update(updated_at="yesterday"),
    lambda s: s.update(order_id="X" * 65),
])
def test_malformed_snapshot_changes_nothing(seed, store, mutate):
    snap = snapshot("W1001")
    mutate(snap)
    before = table_dump(store.path, *[t for t in GUARDED if t not in ("quarantine", "alerts")])
    assert seed(snap)["quarantined"] == 1
    assert table_dump(store.path, *[t for t in GUARDED if t not in ("quarantine", "alerts")]) == before


def test_quarantine_reason_never_echoes_the_pickup_code(seed, store):
    snap = snapshot("W1001", code="SECRET1234")
    snap["lines"] = "not a list"
    seed(snap)
    reason = store.conn.execute("SELECT reason FROM quarantine").fetchone()[0]
    assert "SECRET1234" not in reason


def test_cancel_while_ready_opens_task_and_alert_in_one_transaction(seed, actions, store):
    seed(snapshot("W1001"))
    actions.stage("W1001", bin="B-07", associate_id="A100")
    store.conn.execute("UPDATE outbox SET status = 'acked'")  # the OMS saw the staging
    assert seed(snapshot("W1001", version=3, status="cancelled"))["applied"] == 1
    assert _order(store)["state"] == "CANCELLED"
    [task] = store.conn.execute("SELECT * FROM return_tasks").fetchall()
    assert task["state"] == "OPEN" and task["bin"] == "B-07"
    [alert] = _alerts(store, "cancelled_while_ready")
    assert "B-07" in alert["message"] and alert["severity"] == "critical"


def test_cancel_while_to_pick_has_no_task(seed, store):
    seed(snapshot("W1001"))
    seed(snapshot("W1001", version=2, status="cancelled"))
    assert _order(store)["state"] == "CANCELLED"
    assert store.conn.execute("SELECT COUNT(*) FROM return_tasks").fetchone()[0] == 0
    assert not _alerts(store, "cancelled_while_ready")


def test_cancel_against_unacknowledged_pickup_is_a_conflict(seed, actions, store):
    seed(snapshot("W1001"))
    actions.stage("W1001", bin="B-07", associate_id="A100")
    actions.pickup("W1001", associate_id="A100", code="K7Q9MX", oms_confirmed=True)
    assert seed(snapshot("W1001", version=2, status="cancelled"))["conflict"] == 1
    order = _order(store)
    assert order["state"] == "PICKED_UP" and order["conflict"]
    assert _alerts(store, "conflict")


def test_cancel_after_acknowledged_pickup_keeps_terminal_state(seed, actions, store):
    seed(snapshot("W1001"))
    actions.stage("W1001", bin="B-07", associate_id="A100")
    actions.pickup("W1001", associate_id="A100", code="K7Q9MX", oms_confirmed=True)
    store.conn.execute("UPDATE outbox SET status = 'acked'")
    assert seed(snapshot("W1001", version=2, status="cancelled"))["kept_store_state"] == 1
    assert _order(store)["state"] == "PICKED_UP"


def test_echo_of_earlier_step_never_rolls_back(seed, actions, store):
    seed(snapshot("W1001"))
    actions.stage("W1001", bin="B-07", associate_id="A100")
    # The OMS publishes a newer version that does not yet reflect our staging.
    assert seed(snapshot("W1001", version=2, status="released"))["kept_store_state"] == 1
    assert _order(store)["state"] == "READY" and _order(store)["version"] == 2


def test_ready_echo_after_pickup_never_shows_ready(seed, actions, store):
    seed(snapshot("W1001"))
    actions.stage("W1001", bin="B-07", associate_id="A100")
    actions.pickup("W1001", associate_id="A100", code="K7Q9MX", oms_confirmed=True)
    store.conn.execute("UPDATE outbox SET status = 'acked'")
    seed(snapshot("W1001", version=5, status="ready_for_pickup"))
    assert _order(store)["state"] == "PICKED_UP"


def test_arrival_updates_in_place(seed, actions, store):
    seed(snapshot("W1001", fulfillment="curbside"))
    actions.stage("W1001", bin="B-07", associate_id="A100")
    arrival = {"arrived_at": "2026-11-23T16:02:00Z", "bay": "Bay 3", "vehicle": "blue Golf"}
    seed(snapshot("W1001", version=3, status="ready_for_pickup", fulfillment="curbside",
                  arrival=arrival))
    order = _order(store)
    assert (order["state"], order["bin"]) == ("READY", "B-07")
    assert (order["arrival_bay"], order["arrival_vehicle"]) == ("Bay 3", "blue Golf")
    assert order["arrived_at"].startswith("2026-11-23T16:02:00")


def test_every_snapshot_is_audited(seed, store):
    seed(snapshot("W1001"))
    seed(snapshot("W1001"))
    seed(snapshot("W1001", version=2, status="mystery"))
    outcomes = [r[0] for r in store.conn.execute(
        "SELECT outcome FROM received_changes WHERE order_id = 'W1001' ORDER BY id")]
    assert outcomes == ["applied", "older", "quarantined"]


def test_cursor_is_written_with_the_changes(store, settings):
    from agent.orders.ingest import ingest_snapshots

    ingest_snapshots(store, [{"change_id": "c1", "order": snapshot("W1001")}],
                     status_map=settings.status_map, source="feed", sync_state={"cursor": "abc"})
    assert store.conn.execute("SELECT value FROM sync_state WHERE key='cursor'").fetchone()[0] == "abc"
    assert store.conn.execute("SELECT change_id FROM received_changes").fetchone()[0] == "c1"

    class Boom(Exception):
        pass

    def bad():
        yield {"change_id": "c2", "order": snapshot("W1002")}
        raise Boom

    with pytest.raises(Boom):
        ingest_snapshots(store, bad(), status_map=settings.status_map, source="feed",
                         sync_state={"cursor": "def"})
    assert store.conn.execute("SELECT value FROM sync_state WHERE key='cursor'").fetchone()[0] == "abc"
    assert store.conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 1
