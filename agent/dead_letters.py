"""A manager's decisions on dead letters: send again, or give up with a reason.

Either way the decision is recorded on the event (who, when, what) and the
order's held events are released in seq order, so the order flows again.
"""

from __future__ import annotations

from datetime import datetime

from agent.alerts import resolve_alert
from agent.clock import iso, utc_now
from agent.errors import InvalidActionError, NotAManagerError, UnknownAssociateError
from agent.store import Store
from config.settings import Settings


def _manager(settings: Settings, associate_id: str) -> None:
    who = settings.associate(associate_id)
    if who is None:
        raise UnknownAssociateError(f"associate {associate_id!r} is not in the roster")
    if who.role != "manager":
        raise NotAManagerError(f"{who.name} ({who.id}) is not a manager")


def _dead_event(conn, event_id: str):
    row = conn.execute(
        "SELECT seq, order_id FROM outbox WHERE event_id = ? AND status = 'dead'"
        " AND resolved_at IS NULL", (event_id,)).fetchone()
    if row is None:
        raise InvalidActionError(f"{event_id} is not an unresolved dead letter")
    return row


def _release_held(conn, order_id: str) -> None:
    """Held events go back to pending unless another unresolved dead letter still blocks."""
    still_dead = conn.execute(
        "SELECT 1 FROM outbox WHERE order_id = ? AND status = 'dead' AND resolved_at IS NULL",
        (order_id,)).fetchone()
    if not still_dead:
        conn.execute("UPDATE outbox SET status = 'pending', next_attempt_at = NULL"
                     " WHERE order_id = ? AND status = 'held'", (order_id,))


def retry(store: Store, settings: Settings, event_id: str, *, manager_id: str,
          now: datetime | None = None) -> dict:
    _manager(settings, manager_id)
    stamp = iso(now or utc_now())
    with store.write() as conn:
        row = _dead_event(conn, event_id)
        # The event keeps its id and seq: the OMS deduplicates, order is preserved.
        conn.execute(
            "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = NULL,"
            " dead_at = NULL, resolved_by = ?, resolution = 'retried', resolved_at = NULL"
            " WHERE event_id = ?", (manager_id, event_id))
        _release_held(conn, row["order_id"])
        _resolve_if_clear(conn, row["order_id"], stamp)
    return {"event_id": event_id, "order_id": row["order_id"], "status": "pending"}


def discard(store: Store, settings: Settings, event_id: str, *, manager_id: str, reason: str,
            now: datetime | None = None) -> dict:
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


def _resolve_if_clear(conn, order_id: str, stamp: str) -> None:
    if not conn.execute("SELECT 1 FROM outbox WHERE order_id = ? AND status = 'dead'"
                        " AND resolved_at IS NULL", (order_id,)).fetchone():
        resolve_alert(conn, kind="dead_letter", key=order_id, now=stamp)
