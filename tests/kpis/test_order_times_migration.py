"""A store upgraded to the KPI times keeps what its audit trail already knew about each order."""

from __future__ import annotations

import sqlite3

from sqlite_utils import Database

from agent.store import schema
from agent.store.connection import Store


def _legacy(path) -> None:
    """A database as the version before order_times left it, with three orders' history."""
    conn = sqlite3.connect(path, isolation_level=None)
    schema.MIGRATIONS.apply(Database(conn), stop_before="m004_order_times")
    snap = '{"promised_ready_at": null}'
    for order_id, state, changed in (("W1", "PICKED_UP", "2026-11-23T10:40:00.000Z"),
                                     ("W2", "CANCELLED", "2026-11-23T11:00:00.000Z"),
                                     ("W3", "TO_PICK", "2026-11-23T10:30:00.000Z")):
        conn.execute(
            "INSERT INTO orders (order_id, version, oms_status, state, fulfillment, customer_name,"
            " pickup_code, snapshot, updated_at, received_at, state_changed_at)"
            " VALUES (?, 1, 'x', ?, 'pickup', 'Ann', 'K7Q9', ?, ?, ?, ?)",
            (order_id, state, snap, changed, changed, changed))
    for order_id, at in (("W1", "2026-11-23T10:00:00.000Z"), ("W1", "2026-11-23T10:20:00.000Z"),
                         ("W2", "2026-11-23T10:05:00.000Z"), ("W3", "2026-11-23T10:30:00.000Z")):
        conn.execute("INSERT INTO received_changes (source, order_id, outcome, received_at)"
                     " VALUES ('feed', ?, 'applied', ?)", (order_id, at))
    for seq, (order_id, kind, at, who, data) in enumerate((
            ("W1", "order.staged", "2026-11-23T10:12:00.000Z", "A100", "{}"),
            ("W1", "order.picked_up", "2026-11-23T10:40:00.000Z", "M1", "{}"),
            ("W2", "order.staged", "2026-11-23T10:15:00.000Z", "A100", "{}"),
            ("W2", "order.cancelled", "2026-11-23T11:00:00.000Z", "A100", '{"reason": "no_show"}')),
            start=1):
        conn.execute("INSERT INTO outbox (seq, event_id, order_id, type, data, occurred_at, associate_id,"
                     " device_id, based_on_version) VALUES (?, ?, ?, ?, ?, ?, ?, 'pc', 1)",
                     (seq, f"e{seq}", order_id, kind, data, at, who))
    conn.execute("INSERT INTO return_tasks (order_id, state, lines, reason, created_at)"
                 " VALUES ('W2', 'OPEN', '[]', 'no_show', '2026-11-23T11:00:00.000Z')")
    conn.close()


def test_upgrade_fills_order_times_from_the_audit_trail(tmp_path):
    path = tmp_path / "agent.db"
    _legacy(path)
    with Store(path) as store:  # applies m004 and later
        rows = {r["order_id"]: dict(r) for r in store.conn.execute("SELECT * FROM order_times")}
    assert rows["W1"] == {
        "order_id": "W1", "released_at": "2026-11-23T10:00:00.000Z",  # the first snapshot
        "promised_ready_at": None, "ready_at": "2026-11-23T10:12:00.000Z", "staged_by": "A100",
        "arrived_at": None, "picked_up_at": "2026-11-23T10:40:00.000Z", "picked_up_by": "M1",
        "cancelled_at": None, "cancelled_from": None, "cancel_reason": None}
    assert (rows["W2"]["cancelled_at"], rows["W2"]["cancelled_from"], rows["W2"]["cancel_reason"]) == (
        "2026-11-23T11:00:00.000Z", "READY", "no_show")  # it had a return task: it was READY
    assert (rows["W3"]["released_at"], rows["W3"]["ready_at"]) == ("2026-11-23T10:30:00.000Z", None)
