"""Pickup codes typed or scanned, counted: a code hands over a package, so guessing one
must be slow, visible and stopped.

Every wrong code counts against its order (``security.code_max_failures_per_order``)
and against the station it was typed at (``code_max_failures_per_station``);
a code that matches no order at all, typed on the queue, counts against the
station. At the limit the order's or the station's code entry is locked (longer
each time) and an alert is raised. A manager's override still hands an order
over. The counts are in the store (agent.associates.attempts): every terminal,
serve-ui session and the CLI share them.
"""

from __future__ import annotations

import hmac
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime

from agent.associates import attempts
from agent.clock import utc_now
from agent.store.connection import Store
from config import Settings


@dataclass(frozen=True)
class CodeCheck:
    ok: bool
    message: str = ""
    locked_for_s: int | None = None
    matches: list[dict[str, str]] = field(default_factory=list)
    """For a search: the orders with this code (order_id, state, state_changed_at)."""


def _locked_message(lock: attempts.Lock, now: datetime) -> str:
    seconds = lock.seconds_left(now)
    if lock.policy.scope == "code_order":
        return (f"too many wrong pickup codes for order {lock.subject}: code entry is locked"
                f" for {seconds} s; a manager can approve the handoff")
    return (f"too many wrong pickup codes at station {lock.subject}: code entry is locked"
            f" for {seconds} s; a manager has been alerted")


def _first_lock(conn: sqlite3.Connection, subjects: list[tuple[attempts.Policy, str]],
                now: datetime) -> attempts.Lock | None:
    for policy, subject in subjects:
        lock = attempts.locked(conn, policy, subject, now)
        if lock is not None:
            return lock
    return None


def check_order_code(store: Store, settings: Settings, order_id: str, code: str, *,
                     station: str, now: datetime | None = None) -> CodeCheck:
    """Is ``code`` the pickup code of ``order_id``? A wrong one for a READY order is counted
    (and may lock); a locked order or station refuses even the right one."""
    now = now or utc_now()
    per_order, per_station = attempts.code_policies(settings)
    subjects = [(per_order, order_id), (per_station, station)]
    with store.write() as conn:
        row = conn.execute("SELECT pickup_code, state FROM orders WHERE order_id = ?",
                           (order_id,)).fetchone()
        right = row is not None and hmac.compare_digest(
            code.strip().upper().encode(), str(row[0]).upper().encode())
        if row is None or row[1] != "READY":
            # Only an order that could be handed over is worth guessing; the handoff of any
            # other refuses with its own reason (a cancelled order still shows the STOP).
            return CodeCheck(right, "" if right else f"wrong pickup code for order {order_id}")
        lock = _first_lock(conn, subjects, now)
        if lock is not None:
            return CodeCheck(False, _locked_message(lock, now), lock.seconds_left(now))
        if right:
            for policy, subject in subjects:
                attempts.record_success(conn, policy, subject, now)
            return CodeCheck(True)
        new_locks = [attempts.record_failure(conn, policy, subject, now, where=f"station {station}")
                     for policy, subject in subjects]
    lock = next((lk for lk in new_locks if lk is not None), None)
    if lock is not None:
        return CodeCheck(False, _locked_message(lock, now), lock.seconds_left(now))
    return CodeCheck(False, f"wrong pickup code for order {order_id}")


def find_by_code(store: Store, settings: Settings, code: str, *, station: str,
                 now: datetime | None = None) -> CodeCheck:
    """Every order whose pickup code is ``code`` (READY first, then CANCELLED, TO_PICK,
    PICKED_UP; newest first within). No match counts against the station."""
    now = now or utc_now()
    _per_order, per_station = attempts.code_policies(settings)
    with store.write() as conn:
        lock = attempts.locked(conn, per_station, station, now)
        if lock is not None:
            return CodeCheck(False, _locked_message(lock, now), lock.seconds_left(now))
        matches = [dict(r) for r in conn.execute(
            "SELECT order_id, state, state_changed_at FROM orders WHERE UPPER(pickup_code) = ?"
            " ORDER BY CASE state WHEN 'READY' THEN 0 WHEN 'CANCELLED' THEN 1"
            " WHEN 'TO_PICK' THEN 2 ELSE 3 END, state_changed_at DESC, order_id",
            (code.strip().upper(),))]
        if matches:
            if matches[0]["state"] == "READY":
                # Only a code of an order waiting for its customer clears the count: one's
                # own, already collected code cannot be typed between guesses to reset it.
                attempts.record_success(conn, per_station, station, now)
            return CodeCheck(True, matches=matches)
        new_lock = attempts.record_failure(conn, per_station, station, now, where=f"station {station}")
    if new_lock is not None:
        return CodeCheck(False, _locked_message(new_lock, now), new_lock.seconds_left(now))
    return CodeCheck(False, "")
