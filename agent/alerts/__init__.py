"""Alerts: deduplicated by (kind, key); raised and resolved inside the caller's transaction."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import timedelta

from agent.clock import iso, parse_iso

# A condition that clears and returns within this time is the same alert, not
# news: one that flaps (a rejected batch beside an accepted one, a read that
# works while writes are refused) is reopened instead of raised again, as long
# as its resolution has not been announced yet.
FLAP_WINDOW_S = 120.0


def raise_alert(
    conn: sqlite3.Connection,
    *,
    kind: str,
    key: str,
    message: str,
    now: str,
    order_id: str | None = None,
    severity: str = "warning",
) -> int:
    """Open an alert, or refresh the message of the one already open for (kind, key)."""
    row = conn.execute(
        "SELECT id FROM alerts WHERE kind = ? AND key = ? AND resolved_at IS NULL", (kind, key)
    ).fetchone()
    if row:
        conn.execute("UPDATE alerts SET message = ? WHERE id = ?", (message, row[0]))
        return int(row[0])
    since = iso(parse_iso(now) - timedelta(seconds=FLAP_WINDOW_S))
    recent = conn.execute(
        "SELECT id FROM alerts WHERE kind = ? AND key = ? AND resolved_at >= ?"
        " AND resolved_notified_at IS NULL ORDER BY id DESC LIMIT 1", (kind, key, since)).fetchone()
    if recent:
        conn.execute("UPDATE alerts SET resolved_at = NULL, message = ? WHERE id = ?",
                     (message, recent[0]))
        return int(recent[0])
    # uuid: the id a receiver deduplicates on. The rowid is not enough: a restored
    # backup or a reinstall hands out the same rowids again.
    cur = conn.execute(
        "INSERT INTO alerts (kind, key, order_id, severity, message, raised_at, uuid)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (kind, key, order_id, severity, message, now, str(uuid.uuid4())),
    )
    return int(cur.lastrowid or 0)


def resolve_alert(conn: sqlite3.Connection, *, kind: str, key: str, now: str) -> None:
    conn.execute(
        "UPDATE alerts SET resolved_at = ? WHERE kind = ? AND key = ? AND resolved_at IS NULL",
        (now, kind, key),
    )


def acknowledge_alert(conn: sqlite3.Connection, alert_id: int, associate_id: str, now: str) -> bool:
    """Someone has seen it: every terminal stops ringing. Resolution stays with whoever fixes it.

    Returns False when the alert was already acknowledged (by another terminal) or is unknown.
    """
    cur = conn.execute(
        "UPDATE alerts SET acknowledged_at = ?, acknowledged_by = ?"
        " WHERE id = ? AND acknowledged_at IS NULL",
        (now, associate_id, alert_id),
    )
    return cur.rowcount == 1
