"""Read models for the associate UI: the work queue, and what a scan points at.

One read transaction per call, so the counts and the rows of a queue agree
with each other even while the daemon writes. Sections list at most ``limit``
rows each (the counts are always whole): a screen shows the first few hundred,
and a search narrows the rest.
"""

from __future__ import annotations

import hmac
import json
import sqlite3
from datetime import datetime
from typing import Any

from agent.clock import iso, utc_now
from agent.store.connection import Store
from config.vocabulary import OPEN_STATES, OrderState, sql_in

SECTIONS = ("to_pick", "ready", "arrived", "returns", "no_shows", "exceptions")
_OPEN = f"o.state IN {sql_in(OPEN_STATES)}"
_ORDER_COLS = ("o.order_id, o.state, o.bin, o.fulfillment, o.customer_name, o.hold_until,"
               " o.window_start, o.window_end, o.arrived_at, o.arrival_bay, o.arrival_vehicle,"
               " o.conflict")


def _search_clause(search: str | None) -> tuple[str, tuple[Any, ...]]:
    if not search:
        return "", ()
    like = f"%{search.strip()}%"
    return (" AND (o.order_id LIKE ? OR o.customer_name LIKE ? OR IFNULL(o.bin, '') LIKE ?)",
            (like, like, like))


def _section(conn: sqlite3.Connection, where: str, order_by: str, args: tuple[Any, ...], search: str | None,
             limit: int) -> tuple[int, int, list[dict[str, Any]]]:
    """(whole count, count matching the search, rows matching it)."""
    extra, sargs = _search_clause(search)
    count = conn.execute(f"SELECT COUNT(*) FROM orders o WHERE {where}", args).fetchone()[0]
    base = f"FROM orders o WHERE {where}{extra}"
    matching = conn.execute(f"SELECT COUNT(*) {base}", args + sargs).fetchone()[0] if extra else count
    rows = [dict(r) for r in conn.execute(
        f"SELECT {_ORDER_COLS} {base} ORDER BY {order_by} LIMIT ?", (*args, *sargs, limit))]
    return count, matching, rows


def queue(store: Store, *, search: str | None = None, now: datetime | None = None,
          limit: int = 300) -> dict[str, dict[str, Any]]:
    """``{section: {"count": n, "matching": m, "rows": [...]}}`` for every section in SECTIONS.

    ``count`` is always the whole section: a search narrows the rows, never the
    counts on the tabs, so a search cannot hide three waiting cars. ``matching``
    is how many of them the search finds.
    """
    stamp = iso(now or utc_now())
    out: dict[str, dict[str, Any]] = {}
    with store.read() as conn:
        specs = {
            "to_pick": (f"o.state = '{OrderState.TO_PICK}'",
                        "o.window_start IS NULL, o.window_start, o.order_id", ()),
            "ready": (f"o.state = '{OrderState.READY}'", "o.bin, o.order_id", ()),
            "arrived": (f"{_OPEN} AND o.arrived_at IS NOT NULL", "o.arrived_at", ()),
            "no_shows": (f"{_OPEN} AND o.hold_until IS NOT NULL AND o.hold_until < ?",
                         "o.hold_until", (stamp,)),
        }
        for name, (where, order_by, args) in specs.items():
            count, matching, rows = _section(conn, where, order_by, args, search, limit)
            out[name] = {"count": count, "matching": matching, "rows": rows}
        extra, sargs = _search_clause(search)
        open_tasks = conn.execute("SELECT COUNT(*) FROM return_tasks WHERE state = 'OPEN'").fetchone()[0]
        tasks = [dict(r) for r in conn.execute(
            "SELECT t.id AS task_id, t.order_id, t.bin, t.lines, t.reason, t.created_at,"
            " o.customer_name FROM return_tasks t JOIN orders o ON o.order_id = t.order_id"
            f" WHERE t.state = 'OPEN'{extra} ORDER BY t.created_at", sargs)]
        for t in tasks:
            t["lines"] = json.loads(t["lines"])
        out["returns"] = {"count": open_tasks, "matching": len(tasks), "rows": tasks[:limit]}
        everything = _exceptions(conn, None)
        found = _exceptions(conn, search) if search else everything
        out["exceptions"] = {"count": everything["count"], "matching": found["count"],
                             "rows": found["rows"]}
    return out


def _exceptions(conn: sqlite3.Connection, search: str | None) -> dict[str, Any]:
    needle = (search or "").strip().upper()
    rows: list[dict[str, Any]] = []
    for r in conn.execute(
            "SELECT event_id, order_id, type, dead_kind, result_code, result_message, dead_at"
            " FROM outbox WHERE status = 'dead' AND resolved_at IS NULL ORDER BY seq"):
        rows.append({"kind": "dead_letter", "id": r["event_id"], "order_id": r["order_id"],
                     "what": f"{r['type']} {r['dead_kind']}",
                     "detail": f"{r['result_code'] or ''} {r['result_message'] or ''}".strip(),
                     "at": r["dead_at"]})
    for r in conn.execute("SELECT order_id, conflict, received_at FROM orders"
                          " WHERE conflict IS NOT NULL ORDER BY order_id"):
        rows.append({"kind": "conflict", "id": r["order_id"], "order_id": r["order_id"],
                     "what": "conflict", "detail": r["conflict"], "at": r["received_at"]})
    for r in conn.execute("SELECT id, order_id, reason, received_at, source FROM quarantine"
                          " WHERE resolved_at IS NULL ORDER BY id"):
        rows.append({"kind": "quarantine", "id": str(r["id"]), "order_id": r["order_id"],
                     "what": f"quarantined ({r['source']})", "detail": r["reason"],
                     "at": r["received_at"]})
    if needle:
        rows = [r for r in rows if needle in (r["order_id"] or "").upper()]
    return {"count": len(rows), "rows": rows}


def order_in_bin(store: Store, bin_id: str) -> str | None:
    """The order a bin holds: the READY one, else a cancelled one still waiting to go back."""
    row = store.conn.execute(
        "SELECT order_id FROM orders WHERE bin = ?1 AND state IN (?2, ?3)"
        " ORDER BY state = ?2 DESC, state_changed_at DESC LIMIT 1",
        (bin_id, OrderState.READY, OrderState.CANCELLED)).fetchone()
    return row[0] if row else None


def ready_orders_with_code(store: Store, code: str) -> list[str]:
    """READY orders whose pickup code is ``code``: codes are short, so more than one may match."""
    return [r[0] for r in store.conn.execute(
        "SELECT order_id FROM orders WHERE state = ? AND UPPER(pickup_code) = ?"
        " ORDER BY order_id", (OrderState.READY, code.strip().upper()))]


# A code scanned anywhere: the order it most likely means first. A READY order is the
# handover; a cancelled one must stop it; one still to pick or already gone is told as such.
_CODE_RANK = (f"CASE state WHEN '{OrderState.READY}' THEN 0 WHEN '{OrderState.CANCELLED}' THEN 1"
              f" WHEN '{OrderState.TO_PICK}' THEN 2 ELSE 3 END")


def orders_with_code(store: Store, code: str) -> list[dict[str, Any]]:
    """Every order, in any state, whose pickup code is ``code``: ``[{order_id, state,
    state_changed_at}]``, READY first, then CANCELLED, TO_PICK, PICKED_UP (newest first within)."""
    return [dict(r) for r in store.conn.execute(
        "SELECT order_id, state, state_changed_at FROM orders WHERE UPPER(pickup_code) = ?"
        f" ORDER BY {_CODE_RANK}, state_changed_at DESC, order_id", (code.strip().upper(),))]


def code_matches(store: Store, order_id: str, code: str) -> bool:
    """Is ``code`` this order's pickup code? (Case-folded, compared in constant time.)"""
    row = store.conn.execute("SELECT pickup_code FROM orders WHERE order_id = ?", (order_id,)).fetchone()
    if row is None:
        return False
    return hmac.compare_digest(code.strip().upper().encode(), str(row[0]).upper().encode())


def open_alerts(store: Store, kinds: tuple[str, ...] | None = ("cancelled_while_ready",), *,
                include_acknowledged: bool = False) -> list[dict[str, Any]]:
    """Open alerts, critical first, then oldest first.

    By default the open, unacknowledged alerts every terminal must show and
    ring for. ``kinds=None`` returns every kind; ``include_acknowledged=True``
    also the ones someone has seen but nobody has fixed yet (an alerts list).
    Each row: ``{id, kind, key, order_id, severity, message, raised_at,
    acknowledged_at, acknowledged_by}``.
    """
    where: list[str] = ["resolved_at IS NULL"]
    args: list[Any] = []
    if not include_acknowledged:
        where.append("acknowledged_at IS NULL")
    if kinds is not None:
        where.append(f"kind IN ({', '.join('?' for _ in kinds)})")
        args.extend(kinds)
    return [dict(r) for r in store.conn.execute(
        "SELECT id, kind, key, order_id, severity, message, raised_at, acknowledged_at,"
        f" acknowledged_by FROM alerts WHERE {' AND '.join(where)}"
        " ORDER BY severity = 'critical' DESC, id", args)]
