"""Applying OMS order snapshots to the store, under the store's own rules.

The OMS is the source of truth for what the customer did (ordered, cancelled,
arrived); the store is the source of truth for what associates did and have
not yet been acknowledged for. So a snapshot never rolls back a terminal state
or a store action the OMS has not seen yet, and a cancellation that collides
with an unacknowledged pickup is surfaced as a conflict instead of being
resolved silently either way.

Every snapshot received, applied or not, leaves a row in received_changes:
that is the audit an associate reads to see where a signal stopped.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from agent.actions import open_return_task
from agent.alerts import raise_alert
from agent.clock import iso
from sync.models import OrderSnapshot

TERMINAL = ("PICKED_UP", "CANCELLED")
_RANK = {"TO_PICK": 0, "READY": 1, "PICKED_UP": 2, "CANCELLED": 2}


@dataclass(frozen=True)
class ApplyOutcome:
    outcome: str  # applied, kept_store_state, conflict, older, quarantined
    order_id: str | None
    state: str | None = None
    detail: str | None = None


def describe_validation_error(exc: ValidationError) -> str:
    """Where and what, never the offending value (it may be a pickup code)."""
    parts = []
    for err in exc.errors(include_input=False, include_url=False)[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "(body)"
        parts.append(f"{loc}: {err['msg']}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def quarantine(
    conn: sqlite3.Connection, *, raw: Any, reason: str, source: str, now: str,
    order_id: str | None, change_id: str | None = None,
) -> ApplyOutcome:
    try:
        payload = json.dumps(raw, default=str)[:100_000]
    except (TypeError, ValueError):
        payload = repr(raw)[:100_000]
    conn.execute(
        "INSERT INTO quarantine (order_id, reason, payload, source, received_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (order_id, reason, payload, source, now),
    )
    _record(conn, change_id, source, order_id, None, None, "quarantined", reason, now)
    raise_alert(conn, kind="quarantine", key="snapshots", now=now,
                message="OMS snapshots were quarantined: see `store-agent quarantine list`")
    return ApplyOutcome("quarantined", order_id, detail=reason)


def _record(conn, change_id, source, order_id, version, status, outcome, detail, now) -> None:
    conn.execute(
        "INSERT INTO received_changes (change_id, source, order_id, version, oms_status, outcome,"
        " detail, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (change_id, source, order_id, version, status, outcome, detail, now),
    )


def apply_snapshot(
    conn: sqlite3.Connection,
    raw: Any,
    *,
    status_map: dict[str, str],
    now: str,
    source: str,
    change_id: str | None = None,
) -> ApplyOutcome:
    """Apply one snapshot inside the caller's write transaction."""
    guess_id = raw.get("order_id") if isinstance(raw, dict) else None
    guess_id = guess_id if isinstance(guess_id, str) and len(guess_id) <= 64 else None
    try:
        snap = OrderSnapshot.model_validate(raw)
    except ValidationError as exc:
        return quarantine(conn, raw=raw, reason=f"invalid snapshot: {describe_validation_error(exc)}",
                          source=source, now=now, order_id=guess_id, change_id=change_id)
    new_state = status_map.get(snap.status)
    if new_state is None:
        raise_alert(conn, kind="unknown_status", key=snap.status[:64], now=now,
                    order_id=snap.order_id,
                    message=f"the OMS sent status {snap.status[:64]!r}, which the status map does"
                            " not know: add it to [status_map] (its orders are quarantined)")
        return quarantine(conn, raw=raw, source=source, now=now, order_id=snap.order_id,
                          change_id=change_id,
                          reason=f"OMS status {snap.status!r} is not in the status map")
    current = conn.execute(
        "SELECT state, version, bin FROM orders WHERE order_id = ?", (snap.order_id,)
    ).fetchone()
    if current is not None and snap.version <= current["version"]:
        _record(conn, change_id, source, snap.order_id, snap.version, snap.status, "older",
                f"store holds version {current['version']}", now)
        return ApplyOutcome("older", snap.order_id, current["state"])
    if current is None:
        _write_order(conn, snap, state=new_state, now=now, insert=True)
        _record(conn, change_id, source, snap.order_id, snap.version, snap.status, "applied",
                f"new order, {new_state}", now)
        return ApplyOutcome("applied", snap.order_id, new_state)
    return _apply_to_existing(conn, snap, current, new_state, now=now, source=source,
                              change_id=change_id)


def _unacked(conn: sqlite3.Connection, order_id: str) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT type FROM outbox WHERE order_id = ? AND status != 'acked'"
        " AND NOT (status = 'dead' AND resolved_at IS NOT NULL)", (order_id,))]


def _apply_to_existing(conn, snap: OrderSnapshot, current, new_state: str, *, now, source,
                       change_id) -> ApplyOutcome:
    state = current["state"]
    order_id = snap.order_id
    unacked = _unacked(conn, order_id)
    outcome, detail, conflict = "applied", f"{state} -> {new_state}", None
    if state in TERMINAL:
        if state == "PICKED_UP" and new_state == "CANCELLED" and "order.picked_up" in unacked:
            outcome, conflict = "conflict", "cancelled at the OMS after the store handed it over"
            detail = conflict
            raise_alert(conn, kind="conflict", key=order_id, order_id=order_id, now=now,
                        severity="critical",
                        message=f"order {order_id} was handed over in store but cancelled at the"
                                " OMS before the pickup reached it: call the customer / manager")
        elif new_state != state:
            outcome, detail = "kept_store_state", f"store keeps {state}; OMS says {new_state}"
        new_state = state
    elif new_state == "CANCELLED":
        if state == "READY":
            open_return_task(conn, _row(conn, order_id), reason="cancelled_online", now=now)
            where = f"bin {current['bin']}" if current["bin"] else "its bin"
            raise_alert(conn, kind="cancelled_while_ready", key=order_id, order_id=order_id,
                        now=now, severity="critical",
                        message=f"order {order_id} was CANCELLED online while READY in {where}:"
                                " do not hand it over; return its items to the shelf")
    elif _RANK[new_state] < _RANK[state] and unacked:
        # The OMS is echoing a step before our own unacknowledged action.
        outcome, detail = "kept_store_state", f"store keeps {state} (unacknowledged store action)"
        new_state = state
    _write_order(conn, snap, state=new_state, now=now, insert=False,
                 state_changed=new_state != state, conflict=conflict)
    _record(conn, change_id, source, order_id, snap.version, snap.status, outcome, detail, now)
    return ApplyOutcome(outcome, order_id, new_state, detail)


def _row(conn: sqlite3.Connection, order_id: str) -> sqlite3.Row:
    return conn.execute("SELECT * FROM orders WHERE order_id = ?", (order_id,)).fetchone()


def _iso(moment) -> str | None:
    return None if moment is None else iso(moment)


def _write_order(conn, snap: OrderSnapshot, *, state: str, now: str, insert: bool,
                 state_changed: bool = True, conflict: str | None = None) -> None:
    window = snap.pickup_window
    arrival = snap.arrival
    fields = {
        "version": snap.version,
        "oms_status": snap.status,
        "state": state,
        "fulfillment": snap.fulfillment,
        "customer_name": snap.customer.name,
        "phone_last4": snap.customer.phone_last4,
        "pickup_code": snap.pickup_code,
        "window_start": _iso(window.start) if window else None,
        "window_end": _iso(window.end) if window else None,
        "hold_until": _iso(snap.hold_until),
        "arrived_at": _iso(arrival.arrived_at) if arrival else None,
        "arrival_bay": arrival.bay if arrival else None,
        "arrival_vehicle": arrival.vehicle if arrival else None,
        "snapshot": snap.model_dump_json(),
        "updated_at": _iso(snap.updated_at),
        "received_at": now,
    }
    if state_changed:
        fields["state_changed_at"] = now
    if conflict:
        fields["conflict"] = conflict
    if insert:
        fields["order_id"] = snap.order_id
        cols = ", ".join(fields)
        conn.execute(f"INSERT INTO orders ({cols}) VALUES ({', '.join('?' * len(fields))})",
                     list(fields.values()))
    else:
        sets = ", ".join(f"{k} = ?" for k in fields)
        conn.execute(f"UPDATE orders SET {sets} WHERE order_id = ?",
                     [*fields.values(), snap.order_id])
    _write_lines(conn, snap)


def _write_lines(conn, snap: OrderSnapshot) -> None:
    picked = dict(conn.execute(
        "SELECT line_id, quantity_picked FROM order_lines WHERE order_id = ?", (snap.order_id,)))
    conn.execute("DELETE FROM order_lines WHERE order_id = ?", (snap.order_id,))
    conn.executemany(
        "INSERT INTO order_lines (order_id, line_id, position, sku, gtin, description, quantity,"
        " quantity_picked) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (snap.order_id, line.line_id, pos, line.sku, line.gtin, line.description,
             line.quantity, picked.get(line.line_id))
            for pos, line in enumerate(snap.lines)
        ],
    )
