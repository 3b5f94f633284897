"""Read models for the command line and the UI: plain dicts with the fields cli.md promises."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from typing import Any

from agent.clock import age_s, iso, utc_now
from agent.errors import UnknownOrderError
from agent.orders.snapshots import CONFLICT_RESOLVED, QUARANTINE_RESOLVED
from agent.store import sync_state
from agent.store.connection import Store
from agent.store.devices import scanners
from agent.store.sync_state import DeviceKind, SyncKey
from config.vocabulary import OPEN_STATES, EventType, OrderState, sql_in

STATES: tuple[OrderState, ...] = tuple(OrderState)
_OPEN_EVENT = "status != 'acked' AND NOT (status = 'dead' AND resolved_at IS NOT NULL)"


def list_orders(store: Store, *, state: str | None = None, no_shows: bool = False,
                now: datetime | None = None) -> list[dict[str, Any]]:
    sql = (
        "SELECT o.order_id, o.state, o.bin, o.version, o.fulfillment, o.customer_name,"
        " o.hold_until, o.arrived_at, o.arrival_bay, o.conflict,"
        f" (SELECT COUNT(*) FROM outbox e WHERE e.order_id = o.order_id AND e.{_OPEN_EVENT})"
        " AS pending_events FROM orders o"
    )
    where, args = [], []
    if state:
        where.append("o.state = ?")
        args.append(state)
    if no_shows:
        # Still open and past the hold the customer was promised.
        where.append(f"o.state IN {sql_in(OPEN_STATES)} AND o.hold_until IS NOT NULL"
                     " AND o.hold_until < ?")
        args.append(iso(now or utc_now()))
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY o.state_changed_at DESC, o.order_id"
    return [dict(r) for r in store.conn.execute(sql, args)]


def _payload(text: str | None) -> object:
    """An event's data or the OMS's answer as stored (JSON), for people and scripts."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _events(conn: sqlite3.Connection, order_id: str) -> list[dict[str, Any]]:
    out = []
    for r in conn.execute(
            "SELECT event_id, seq, type, status, occurred_at, acked_at, attempts, last_error,"
            " dead_kind, result_code, result_message, resolution, resolved_by, data"
            " FROM outbox WHERE order_id = ? ORDER BY seq", (order_id,)):
        event = dict(r)
        event["data"] = _payload(event["data"])  # bin(s), lines, reason, verification
        out.append(event)
    return out


def order_detail(store: Store, order_id: str) -> dict[str, Any]:
    with store.read() as conn:
        row = conn.execute("SELECT * FROM orders WHERE order_id = ?", (order_id,)).fetchone()
        if row is None:
            raise UnknownOrderError(f"order {order_id!r} is not known to this store")
        lines = [
            {**dict(r), "age_restricted": bool(r["age_restricted"])}
            for r in conn.execute(
                "SELECT line_id, sku, gtin, description, quantity, quantity_picked,"
                " quantity_short, quantity_picked_up, quantity_cancelled, quantity_verified,"
                " quantity_returned, location, pick_sequence, age_restricted"
                " FROM order_lines WHERE order_id = ? ORDER BY position",
                (order_id,),
            )
        ]
        bins = [r[0] for r in conn.execute(
            "SELECT bin FROM order_bins WHERE order_id = ? ORDER BY position", (order_id,))]
        shorts = [dict(r) for r in conn.execute(
            "SELECT line_id, sku, quantity, reason, associate_id, recorded_at FROM line_shorts"
            " WHERE order_id = ? ORDER BY id", (order_id,))]
        handoffs = [
            {**dict(r), "bins_scanned": json.loads(r["bins_scanned"]),
             "bins_missing": json.loads(r["bins_missing"]), "lines": json.loads(r["lines"]),
             "complete": bool(r["complete"]),
             "acknowledgment_signed": None if r["acknowledgment_signed"] is None
             else bool(r["acknowledgment_signed"])}
            for r in conn.execute(
                "SELECT handed_over_at, associate_id, verification, collected_by, id_check_type,"
                " bins_scanned, bins_missing, bins_override_by, acknowledgment_signed, lines,"
                " complete FROM handoffs WHERE order_id = ? ORDER BY id", (order_id,))]
        task = conn.execute(
            "SELECT id, state, bin, lines, created_at, done_at, done_by FROM return_tasks"
            " WHERE order_id = ? ORDER BY id DESC LIMIT 1",
            (order_id,),
        ).fetchone()
        events = _events(conn, order_id)
    return {
        "order_id": row["order_id"],
        "state": row["state"],
        "bin": row["bin"],
        "bins": bins,
        "version": row["version"],
        "oms_status": row["oms_status"],
        "alternate_pickup": ({"name": row["alternate_pickup_name"]}
                             if row["alternate_pickup_name"] else None),
        "promised_ready_at": row["promised_ready_at"],
        "fulfillment": row["fulfillment"],
        "customer_name": row["customer_name"],
        "phone_last4": row["phone_last4"],
        "pickup_window": (
            {"start": row["window_start"], "end": row["window_end"]} if row["window_start"] else None
        ),
        "hold_until": row["hold_until"],
        "arrival": (
            {"arrived_at": row["arrived_at"], "bay": row["arrival_bay"],
             "vehicle": row["arrival_vehicle"]}
            if row["arrived_at"] else None
        ),
        "conflict": row["conflict"],
        "received_at": row["received_at"],
        "lines": lines,
        "return_task": (
            None if task is None else {
                "id": task["id"], "state": task["state"], "bin": task["bin"],
                "lines": json.loads(task["lines"]), "created_at": task["created_at"],
                "done_at": task["done_at"], "done_by": task["done_by"],
            }
        ),
        "shorts": shorts,
        "handoffs": handoffs,
        "events": events,
    }


# Audit rows that record a settlement (by a manager or a later snapshot), not a snapshot.
_RESOLUTIONS = {QUARANTINE_RESOLVED: "quarantined snapshot resolved",
                CONFLICT_RESOLVED: "conflict resolved"}


FINDING = "finding:"


def _received(r: sqlite3.Row) -> dict[str, Any]:
    if r["outcome"] in _RESOLUTIONS:
        return {"direction": "resolution", "what": _RESOLUTIONS[r["outcome"]]}
    if r["outcome"].startswith(FINDING):  # written by reconciliation (docs/cli.md, reconcile)
        return {"direction": "reconciliation", "what": r["outcome"][len(FINDING):]}
    return {"direction": "received",
            "what": f"snapshot v{r['version']} ({r['oms_status']})" if r["version"] else "snapshot"}


def _units(lines: list[dict[str, Any]], key: str = "quantity") -> str:
    return ", ".join(f"{ln.get('line_id')} x{ln.get(key)}" for ln in lines)


def event_summary(type_: str, data_json: str) -> str:
    """One line saying what an event carried, by line: what the audit shows for each step."""
    try:
        data = json.loads(data_json)
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    if type_ == EventType.LINE_SHORT:
        return "short: " + ", ".join(f"{ln.get('line_id')} x{ln.get('quantity')}"
                                     f" ({ln.get('reason')})" for ln in data.get("lines", []))
    if type_ == EventType.STAGED:
        bins = data.get("bins") or [data.get("bin")]
        return f"bins {', '.join(map(str, bins))}: " + _units(data.get("lines", []),
                                                              "quantity_picked")
    if type_ == EventType.PICKED_UP:
        parts = [data.get("verification", "")]
        if data.get("lines"):
            parts.append("lines " + _units(data["lines"]))
        if data.get("id_check"):
            parts.append(f"ID {data['id_check'].get('type')}")
        if data.get("collected_by") == "alternate":
            parts.append("collected by the alternate person")
        if data.get("bins_scanned") is not None:
            parts.append(f"bins scanned {', '.join(data['bins_scanned']) or 'none'}")
        return "; ".join(p for p in parts if p)
    if type_ == EventType.RETURNED_TO_SHELF:
        return "returned: " + _units(data.get("lines", []))
    if type_ == EventType.HOLD_EXTENDED:
        return f"hold until {data.get('until')}: {data.get('reason')}"
    if type_ == EventType.CANCELLED:
        return str(data.get("reason", ""))
    return ""


def audit(store: Store, order_id: str) -> list[dict[str, Any]]:
    """Everything that crossed the boundary for one order, oldest first."""
    with store.read() as conn:
        if conn.execute("SELECT 1 FROM orders WHERE order_id = ?", (order_id,)).fetchone() is None \
                and conn.execute("SELECT 1 FROM received_changes WHERE order_id = ?",
                                 (order_id,)).fetchone() is None:
            raise UnknownOrderError(f"order {order_id!r} is not known to this store")
        entries = [
            {"at": r["received_at"], **_received(r), "source": r["source"],
             "outcome": r["outcome"], "detail": r["detail"], "change_id": r["change_id"],
             "version": r["version"], "oms_status": r["oms_status"],
             "oms_updated_at": r["oms_updated_at"]}
            for r in conn.execute(
                "SELECT * FROM received_changes WHERE order_id = ? ORDER BY id", (order_id,))
        ]
        for e in conn.execute("SELECT * FROM outbox WHERE order_id = ? ORDER BY seq", (order_id,)):
            entries.append({
                "at": e["occurred_at"], "direction": "store_event", "what": e["type"],
                "summary": event_summary(e["type"], e["data"]),
                "data": _payload(e["data"]), "oms_result": _payload(e["oms_result"]),
                "event_id": e["event_id"], "seq": e["seq"], "associate_id": e["associate_id"],
                "device_id": e["device_id"], "outcome": e["status"], "attempts": e["attempts"],
                "acked_at": e["acked_at"], "dead_at": e["dead_at"],
                "detail": e["result_message"] or e["last_error"],
                "resolution": e["resolution"], "resolved_by": e["resolved_by"],
            })
    entries.sort(key=lambda x: x["at"])
    return entries


def status(store: Store, *, now: datetime | None = None) -> dict[str, Any]:
    now = now or utc_now()
    with store.read() as conn:
        pending = conn.execute(
            "SELECT COUNT(*), MIN(occurred_at) FROM outbox WHERE status IN ('pending', 'held')"
        ).fetchone()
        dead = conn.execute(
            "SELECT COUNT(*) FROM outbox WHERE status = 'dead' AND resolved_at IS NULL"
        ).fetchone()[0]
        blocked = conn.execute(
            "SELECT COUNT(DISTINCT order_id) FROM outbox WHERE status = 'held'"
            " OR (status = 'dead' AND resolved_at IS NULL)"
        ).fetchone()[0]
        quarantined = conn.execute(
            "SELECT COUNT(*) FROM quarantine WHERE resolved_at IS NULL").fetchone()[0]
        alerts = [dict(r) for r in conn.execute(
            "SELECT id, kind, severity, order_id, message, raised_at, acknowledged_at"
            " FROM alerts WHERE resolved_at IS NULL ORDER BY id")]
        online = sync_state.is_online(conn, now)
        last_feed = sync_state.get(conn, SyncKey.LAST_FEED_SUCCESS_AT)
        counts = dict(conn.execute("SELECT state, COUNT(*) FROM orders GROUP BY state").fetchall())
        open_tasks = conn.execute(
            "SELECT COUNT(*) FROM return_tasks WHERE state = 'OPEN'").fetchone()[0]
        # Printer states are written by the daemon's print worker (agent/printing/queue.py).
        # A failed job stays failed until retried; only a recent one needs attention.
        printer_states = sync_state.device_states(conn, DeviceKind.PRINTER)
        job_counts = {r[0]: (r[1], r[2]) for r in conn.execute(
            "SELECT printer_id, SUM(state IN ('queued', 'printing')),"
            " SUM(state = 'failed' AND updated_at >= ?) FROM print_jobs"
            " WHERE state IN ('queued', 'printing', 'failed') GROUP BY printer_id",
            (iso(now - timedelta(hours=24)),))}
        scanner_states = scanners(conn)
    printers = []
    for printer_id in sorted(set(printer_states) | set(job_counts)):
        st = printer_states.get(printer_id, {})
        queued, failed = job_counts.get(printer_id, (0, 0))
        printers.append({"id": printer_id, "status": st.get("status", "unknown"),
                         "since": st.get("since"), "reason": st.get("reason"),
                         "queued": queued, "failed": failed})
    oldest = age_s(pending[1], now)
    return {
        "online": online,
        "last_feed_success_at": last_feed,
        "outbox": {
            "pending": pending[0],
            "oldest_pending_age_s": None if oldest is None else round(oldest, 3),
            "dead_letters": dead,
            "blocked_orders": blocked,
        },
        "quarantined": quarantined,
        "alerts": alerts,
        "orders": {s: counts.get(s, 0) for s in STATES},
        "open_return_tasks": open_tasks,
        "scanners": scanner_states,
        "printers": printers,
    }


def dead_letters(store: Store) -> list[dict[str, Any]]:
    return [dict(r) for r in store.conn.execute(
        "SELECT event_id, order_id, type, dead_kind AS kind, result_code AS code,"
        " result_message AS message, dead_at, seq FROM outbox"
        " WHERE status = 'dead' AND resolved_at IS NULL ORDER BY seq")]


def quarantined(store: Store) -> list[dict[str, Any]]:
    return [dict(r) for r in store.conn.execute(
        "SELECT id, order_id, reason, received_at, source FROM quarantine"
        " WHERE resolved_at IS NULL ORDER BY id")]
