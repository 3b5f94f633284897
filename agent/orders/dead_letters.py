"""A manager's decisions on what the agent cannot settle alone.

Dead letters: send again, or give up with a reason. Either way the decision
is recorded on the event (who, when, what) and the order's held events are
released in seq order, so the order flows again.

Quarantined snapshots and conflicts: resolved with a reason. The decision is
an audit row in received_changes (who, when, why; ``store-agent audit``
shows it with the order), and the alerts nothing holds open any more are
resolved in the same transaction.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from agent.alerts import resolve_alert
from agent.clock import iso, utc_now
from agent.errors import (
    InvalidActionError,
    NotAManagerError,
    UnknownAssociateError,
    UnknownOrderError,
    WrongStateError,
)
from agent.orders.snapshots import resolve_quarantined, settle_conflict
from agent.store.connection import Store
from config.settings import Settings


def _manager(settings: Settings, associate_id: str) -> None:
    who = settings.associate(associate_id)
    if who is None:
        raise UnknownAssociateError(f"associate {associate_id!r} is not in the roster")
    if who.role != "manager":
        raise NotAManagerError(f"{who.name} ({who.id}) is not a manager")


def _why(text: str, what: str) -> str:
    text = " ".join(text.split())
    if not text:
        raise InvalidActionError(f"{what} needs a reason")
    if len(text) > 500:
        raise InvalidActionError("a reason is at most 500 characters")
    return text


def _dead_event(conn: sqlite3.Connection, event_id: str) -> sqlite3.Row:
    row: sqlite3.Row | None = conn.execute(
        "SELECT seq, order_id FROM outbox WHERE event_id = ? AND status = 'dead'"
        " AND resolved_at IS NULL", (event_id,)).fetchone()
    if row is None:
        raise InvalidActionError(f"{event_id} is not an unresolved dead letter")
    return row


def _release_held(conn: sqlite3.Connection, order_id: str) -> None:
    """Held events go back to pending unless another unresolved dead letter still blocks."""
    still_dead = conn.execute(
        "SELECT 1 FROM outbox WHERE order_id = ? AND status = 'dead' AND resolved_at IS NULL",
        (order_id,)).fetchone()
    if not still_dead:
        conn.execute("UPDATE outbox SET status = 'pending' WHERE order_id = ? AND status = 'held'",
                     (order_id,))


def retry(store: Store, settings: Settings, event_id: str, *, manager_id: str,
          now: datetime | None = None) -> dict[str, Any]:
    _manager(settings, manager_id)
    stamp = iso(now or utc_now())
    with store.write() as conn:
        row = _dead_event(conn, event_id)
        # The event keeps its id and seq: the OMS deduplicates, order is preserved.
        conn.execute(
            "UPDATE outbox SET status = 'pending', attempts = 0,"
            " dead_at = NULL, resolved_by = ?, resolution = 'retried', resolved_at = NULL"
            " WHERE event_id = ?", (manager_id, event_id))
        _release_held(conn, row["order_id"])
        _resolve_if_clear(conn, row["order_id"], stamp)
    return {"event_id": event_id, "order_id": row["order_id"], "status": "pending"}


def discard(store: Store, settings: Settings, event_id: str, *, manager_id: str, reason: str,
            now: datetime | None = None) -> dict[str, Any]:
    reason = " ".join(reason.split())
    if not reason:
        raise InvalidActionError("a discard needs a reason")
    _manager(settings, manager_id)
    stamp = iso(now or utc_now())
    with store.write() as conn:
        row = _dead_event(conn, event_id)
        conn.execute(
            "UPDATE outbox SET resolved_by = ?, resolution = ?, resolved_at = ? WHERE event_id = ?",
            (manager_id, f"discarded: {reason}", stamp, event_id))
        _release_held(conn, row["order_id"])
        _resolve_if_clear(conn, row["order_id"], stamp)
    return {"event_id": event_id, "order_id": row["order_id"], "status": "dead",
            "resolution": f"discarded: {reason}"}


def _resolve_if_clear(conn: sqlite3.Connection, order_id: str, stamp: str) -> None:
    if not conn.execute("SELECT 1 FROM outbox WHERE order_id = ? AND status = 'dead'"
                        " AND resolved_at IS NULL", (order_id,)).fetchone():
        resolve_alert(conn, kind="dead_letter", key=order_id, now=stamp)


def resolve_quarantine(store: Store, settings: Settings, quarantine_id: int, *, manager_id: str,
                       reason: str, now: datetime | None = None) -> dict[str, Any]:
    """A manager has dealt with a quarantined snapshot (fixed at the OMS, or not needed)."""
    reason = _why(reason, "resolving a quarantined snapshot")
    _manager(settings, manager_id)
    stamp = iso(now or utc_now())
    with store.write() as conn:
        row = conn.execute("SELECT order_id FROM quarantine WHERE id = ? AND resolved_at IS NULL",
                           (quarantine_id,)).fetchone()
        if row is None:
            raise InvalidActionError(f"{quarantine_id} is not an unresolved quarantined snapshot")
        resolution = f"resolved by {manager_id}: {reason}"
        resolve_quarantined(conn, [quarantine_id], now=stamp, source="manager",
                            detail={quarantine_id: resolution})
        left = conn.execute("SELECT COUNT(*) FROM quarantine WHERE resolved_at IS NULL").fetchone()[0]
    return {"id": quarantine_id, "order_id": row["order_id"], "resolved_at": stamp,
            "resolved_by": manager_id, "resolution": reason, "quarantined_left": left}


def resolve_conflict(store: Store, settings: Settings, order_id: str, *, manager_id: str,
                     note: str, now: datetime | None = None) -> dict[str, Any]:
    """A manager has settled a conflict between the store and the OMS (customer called, ...)."""
    note = _why(note, "resolving a conflict")
    _manager(settings, manager_id)
    stamp = iso(now or utc_now())
    with store.write() as conn:
        row = conn.execute("SELECT state, conflict FROM orders WHERE order_id = ?",
                           (order_id,)).fetchone()
        if row is None:
            raise UnknownOrderError(f"order {order_id!r} is not known to this store")
        if row["conflict"] is None:
            raise WrongStateError(f"order {order_id} has no conflict to resolve")
        settle_conflict(conn, order_id, source="manager", now=stamp,
                        detail=f"resolved by {manager_id}: {note} (was: {row['conflict']})")
    return {"order_id": order_id, "state": row["state"], "conflict": None,
            "was": row["conflict"], "resolved_at": stamp, "resolved_by": manager_id, "note": note}
