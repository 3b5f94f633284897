"""Applying OMS order snapshots to the store, under the store's own rules.

The OMS is the source of truth for what the customer did (ordered, cancelled,
arrived); the store is the source of truth for what associates did and have
not yet been acknowledged for. So a snapshot never rolls back a terminal state
or a store action the OMS has not seen yet, and a cancellation that collides
with an unacknowledged pickup is surfaced as a conflict instead of being
resolved silently either way.

Every snapshot received, applied or not, leaves a row in received_changes:
that is the audit an associate reads to see where a signal stopped.

What a snapshot raises, a later one can settle, in the same transaction: a
valid snapshot of an order supersedes the order's quarantined snapshots of
the same or an older version (and so clears the ``quarantine`` and
``unknown_status`` alerts once nothing they name is left), and an OMS that
comes to agree with the store's terminal state settles the order's conflict.
A manager settles the rest by hand (agent/orders/dead_letters.py); either way the
resolution is a row in received_changes too.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from agent.alerts import raise_alert, resolve_alert
from agent.clock import iso
from agent.orders.lines import has_units_in_hand, open_return_task
from config.vocabulary import TERMINAL_STATES, EventType, OrderState
from sync.models import OrderSnapshot
from sync.text import strip_controls

TERMINAL = TERMINAL_STATES
# received_changes outcomes that record a settlement rather than a snapshot.
QUARANTINE_RESOLVED = "quarantine_resolved"
CONFLICT_RESOLVED = "conflict_resolved"
# The OMS status of a quarantined payload, when it is JSON with a string status.
QUARANTINED_STATUS_SQL = "CASE WHEN json_valid(payload) THEN json_extract(payload, '$.status') END"
_RANK = {OrderState.TO_PICK: 0, OrderState.READY: 1, OrderState.PICKED_UP: 2, OrderState.CANCELLED: 2}


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


def _record(conn: sqlite3.Connection, change_id: str | None, source: str, order_id: str | None,
            version: int | None, status: str | None, outcome: str, detail: str | None, now: str,
            oms_updated_at: str | None = None) -> None:
    conn.execute(
        "INSERT INTO received_changes (change_id, source, order_id, version, oms_status, outcome,"
        " detail, received_at, oms_updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (change_id, source, order_id, version, status, outcome, detail, now, oms_updated_at),
    )


def apply_snapshot(
    conn: sqlite3.Connection,
    raw: Any,
    *,
    status_map: Mapping[str, str],
    now: str,
    source: str,
    change_id: str | None = None,
    snapshot: OrderSnapshot | None = None,
) -> ApplyOutcome:
    """Apply one snapshot inside the caller's write transaction.

    ``snapshot``: ``raw`` already validated (the client parses every page), so it is not
    validated a second time; ``raw`` is still what a quarantine keeps.
    """
    if snapshot is not None:
        snap = snapshot
    else:
        try:
            snap = OrderSnapshot.model_validate(raw)
        except ValidationError as exc:
            guess_id = raw.get("order_id") if isinstance(raw, dict) else None
            guess_id = strip_controls(guess_id) if isinstance(guess_id, str) else None
            guess_id = guess_id if guess_id is not None and len(guess_id) <= 64 else None
            return quarantine(conn, raw=raw, source=source, now=now, order_id=guess_id,
                              change_id=change_id,
                              reason=f"invalid snapshot: {describe_validation_error(exc)}")
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
        "SELECT state, version, bin, conflict FROM orders WHERE order_id = ?", (snap.order_id,)
    ).fetchone()
    if current is not None and snap.version <= current["version"]:
        _record(conn, change_id, source, snap.order_id, snap.version, snap.status, "older",
                f"store holds version {current['version']}", now, _iso(snap.updated_at))
        return ApplyOutcome("older", snap.order_id, current["state"])
    if current is None:
        _write_order(conn, snap, state=new_state, now=now, insert=True)
        _record(conn, change_id, source, snap.order_id, snap.version, snap.status, "applied",
                f"new order, {new_state}", now, _iso(snap.updated_at))
        result = ApplyOutcome("applied", snap.order_id, new_state)
    else:
        result = _apply_to_existing(conn, snap, current, new_state, now=now, source=source,
                                    change_id=change_id)
    _supersede_quarantined(conn, snap, now=now, source=source, change_id=change_id)
    return result


def _unacked(conn: sqlite3.Connection, order_id: str) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT type FROM outbox WHERE order_id = ? AND status != 'acked'"
        " AND NOT (status = 'dead' AND resolved_at IS NOT NULL)", (order_id,))]


def _apply_to_existing(conn: sqlite3.Connection, snap: OrderSnapshot, current: sqlite3.Row, new_state: str,
                       *, now: str, source: str, change_id: str | None) -> ApplyOutcome:
    state = current["state"]
    order_id = snap.order_id
    unacked = _unacked(conn, order_id)
    outcome, detail, conflict = "applied", f"{state} -> {new_state}", None
    # The OMS now says what the store did: the conflict has nothing left to settle.
    agreed = bool(current["conflict"]) and new_state == state
    if state in TERMINAL:
        if (state == OrderState.PICKED_UP and new_state == OrderState.CANCELLED
                and EventType.PICKED_UP in unacked):
            outcome, conflict = "conflict", "cancelled at the OMS after the store handed it over"
            detail = conflict
            raise_alert(conn, kind="conflict", key=order_id, order_id=order_id, now=now,
                        severity="critical",
                        message=f"order {order_id} was handed over in store but cancelled at the"
                                " OMS before the pickup reached it: call the customer / manager")
        elif new_state != state:
            outcome, detail = "kept_store_state", f"store keeps {state}; OMS says {new_state}"
        new_state = state
    elif new_state == OrderState.CANCELLED:
        if state == OrderState.TO_PICK and has_units_in_hand(conn, order_id):
            # Cancelled online mid-pick: the picker is stopped by the order's state (every
            # pick action refuses it); what they already picked goes back to the shelf.
            open_return_task(conn, _row(conn, order_id), reason="cancelled_online", now=now)
            raise_alert(conn, kind="cancelled_while_ready", key=order_id, order_id=order_id,
                        now=now, severity="critical",
                        message=f"order {order_id} was CANCELLED online while being picked:"
                                " stop picking; return the picked items to the shelf")
        if state == OrderState.READY:
            open_return_task(conn, _row(conn, order_id), reason="cancelled_online", now=now)
            where = f"bin {current['bin']}" if current["bin"] else "its bin"
            raise_alert(conn, kind="cancelled_while_ready", key=order_id, order_id=order_id,
                        now=now, severity="critical",
                        message=f"order {order_id} was CANCELLED online while READY in {where}:"
                                " do not hand it over; return its items to the shelf")
    elif _RANK[OrderState(new_state)] < _RANK[OrderState(state)] and unacked:
        # The OMS is echoing a step before our own unacknowledged action.
        outcome, detail = "kept_store_state", f"store keeps {state} (unacknowledged store action)"
        new_state = state
    _write_order(conn, snap, state=new_state, now=now, insert=False,
                 state_changed=new_state != state, conflict=conflict)
    _record(conn, change_id, source, order_id, snap.version, snap.status, outcome, detail, now,
            _iso(snap.updated_at))
    if agreed:
        settle_conflict(conn, order_id, source=source, now=now,
                        detail=f"the OMS now agrees: {snap.status} (v{snap.version}) is {state}")
    return ApplyOutcome(outcome, order_id, new_state, detail)


def settle_conflict(conn: sqlite3.Connection, order_id: str, *, detail: str, source: str,
                    now: str) -> None:
    """The store and the OMS no longer disagree about this order, or a manager settled it."""
    conn.execute("UPDATE orders SET conflict = NULL WHERE order_id = ?", (order_id,))
    resolve_alert(conn, kind="conflict", key=order_id, now=now)
    _record(conn, None, source, order_id, None, None, CONFLICT_RESOLVED, detail, now)


def _quarantined_version(payload: str) -> int | None:
    try:
        raw = json.loads(payload)
    except ValueError:
        return None
    version = raw.get("version") if isinstance(raw, dict) else None
    if isinstance(version, str) and version.strip().isdigit():
        version = int(version)  # the snapshot model takes "3" as 3, so the OMS may send it
    return version if isinstance(version, int) and not isinstance(version, bool) else None


def _supersede_quarantined(conn: sqlite3.Connection, snap: OrderSnapshot, *, now: str, source: str,
                           change_id: str | None) -> None:
    """A valid snapshot of version v supersedes the order's quarantined snapshots up to v.

    One whose version cannot be read is left for a manager: it may be newer.
    """
    # quarantine has no index on order_id; the order's audit rows do, and each
    # quarantined snapshot wrote one there, as does each resolution. So most
    # snapshots (nothing of theirs waits) cost one short index range, not a scan.
    if not conn.execute(
            "SELECT COUNT(*) FILTER (WHERE outcome = 'quarantined')"
            f" > COUNT(*) FILTER (WHERE outcome = '{QUARANTINE_RESOLVED}')"
            " FROM received_changes WHERE order_id = ?", (snap.order_id,)).fetchone()[0]:
        return
    # order_id first: rows of other orders are rejected before their payload is read.
    rows = conn.execute("SELECT id, payload FROM quarantine WHERE order_id = ?"
                        " AND resolved_at IS NULL", (snap.order_id,)).fetchall()
    stale = [(r["id"], v) for r in rows
             if (v := _quarantined_version(r["payload"])) is not None and v <= snap.version]
    if stale:
        resolve_quarantined(conn, [qid for qid, _ in stale], now=now, source=source,
                            change_id=change_id, order_id=snap.order_id, version=snap.version,
                            status=snap.status,
                            detail={qid: f"quarantined v{v} superseded by valid v{snap.version}"
                                    for qid, v in stale})


def resolve_quarantined(conn: sqlite3.Connection, ids: list[int], *, now: str, source: str,
                        detail: dict[int, str], order_id: str | None = None,
                        change_id: str | None = None, version: int | None = None,
                        status: str | None = None) -> None:
    """Mark quarantined snapshots resolved, audit each, and clear the alerts nothing holds open."""
    statuses = set()
    for qid in ids:
        row = conn.execute(f"SELECT order_id, {QUARANTINED_STATUS_SQL} FROM quarantine WHERE id = ?",
                           (qid,)).fetchone()
        statuses.add(row[1])
        conn.execute("UPDATE quarantine SET resolved_at = ? WHERE id = ?", (now, qid))
        _record(conn, change_id, source, order_id or row[0], version, status, QUARANTINE_RESOLVED,
                f"quarantine {qid}: {detail[qid]}", now)
    if not conn.execute("SELECT 1 FROM quarantine WHERE resolved_at IS NULL LIMIT 1").fetchone():
        resolve_alert(conn, kind="quarantine", key="snapshots", now=now)
    for oms_status in statuses - {None}:
        if not isinstance(oms_status, str):
            continue
        if not conn.execute(f"SELECT 1 FROM quarantine WHERE resolved_at IS NULL"
                            f" AND {QUARANTINED_STATUS_SQL} = ? LIMIT 1", (oms_status,)).fetchone():
            resolve_alert(conn, kind="unknown_status", key=oms_status[:64], now=now)


def _row(conn: sqlite3.Connection, order_id: str) -> sqlite3.Row:
    row: sqlite3.Row = conn.execute("SELECT * FROM orders WHERE order_id = ?", (order_id,)).fetchone()
    return row


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else iso(moment)


def _hold(conn: sqlite3.Connection, snap: OrderSnapshot) -> str | None:
    """The OMS's hold, unless the store extended it and the OMS has not acknowledged that yet:
    a snapshot from before the extension must not shorten the hold (a false no-show)."""
    oms = _iso(snap.hold_until)
    row = conn.execute(
        "SELECT o.hold_until FROM orders o WHERE o.order_id = ? AND EXISTS (SELECT 1 FROM outbox e"
        " WHERE e.order_id = o.order_id AND e.type = 'order.hold_extended' AND e.status != 'acked')",
        (snap.order_id,)).fetchone()
    if row is None or row[0] is None:
        return oms
    return row[0] if oms is None or row[0] > oms else oms


def _write_order(conn: sqlite3.Connection, snap: OrderSnapshot, *, state: str, now: str, insert: bool,
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
        "hold_until": _iso(snap.hold_until) if insert else _hold(conn, snap),
        "arrived_at": _iso(arrival.arrived_at) if arrival else None,
        "arrival_bay": arrival.bay if arrival else None,
        "arrival_vehicle": arrival.vehicle if arrival else None,
        "alternate_pickup_name": snap.alternate_pickup.name if snap.alternate_pickup else None,
        "promised_ready_at": _iso(snap.promised_ready_at),
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


# What the store itself recorded about a line: kept when a snapshot rewrites the lines.
_STORE_LINE_COLUMNS = ("quantity_picked", "quantity_short", "quantity_verified",
                       "quantity_picked_up", "quantity_returned")


def _write_lines(conn: sqlite3.Connection, snap: OrderSnapshot) -> None:
    kept = {r[0]: r[1:] for r in conn.execute(
        f"SELECT line_id, {', '.join(_STORE_LINE_COLUMNS)} FROM order_lines WHERE order_id = ?",
        (snap.order_id,))}
    conn.execute("DELETE FROM order_lines WHERE order_id = ?", (snap.order_id,))
    rows = []
    for pos, line in enumerate(snap.lines):
        picked, short, verified, picked_up, returned = kept.get(line.line_id, (None, 0, 0, 0, 0))
        rows.append((snap.order_id, line.line_id, pos, line.sku, line.gtin, line.description,
                     line.quantity, picked, line.location, line.pick_sequence,
                     int(line.age_restricted), line.quantity_cancelled, short, verified,
                     # Handed over: the OMS's count once it knows, ours until then.
                     max(picked_up, line.quantity_picked_up), returned))
    conn.executemany(
        "INSERT INTO order_lines (order_id, line_id, position, sku, gtin, description, quantity,"
        " quantity_picked, location, pick_sequence, age_restricted, quantity_cancelled,"
        " quantity_short, quantity_verified, quantity_picked_up, quantity_returned)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
