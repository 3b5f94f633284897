"""Alerts: deduplicated by (kind, key); raised and resolved inside the caller's transaction."""

from __future__ import annotations

import sqlite3


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
        return row[0]
    cur = conn.execute(
        "INSERT INTO alerts (kind, key, order_id, severity, message, raised_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (kind, key, order_id, severity, message, now),
    )
    return cur.lastrowid


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
