"""An event the OMS refused because the order was cancelled online: settled by the agent.

A customer cancels online while an associate picks; the associate stages
before the feed delivers the cancellation. The OMS answers the stage
``conflict`` and sends its snapshot, which says CANCELLED. Nothing is left
for a manager to decide: the cancellation wins (the snapshot is applied:
CANCELLED, a return task for what was picked, the stop on screen), and the
refused event is settled by the agent itself, acknowledged with the OMS's
answer and ``result_code`` ``superseded_by_cancel`` with a message that says
why (shown by `audit`), instead of becoming a dead letter (it has no
``dead_at`` and no ``resolution``, so no dead-letter count includes it).
Such an event never holds the order's later events (its return to the shelf
must reach the OMS).

Only events a cancellation simply overtakes qualify. A pickup refused because
of a cancellation is a real conflict (the customer has the goods) and stays
one for a person.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from config.vocabulary import EventType, OrderState

SUPERSEDED_BY_CANCEL = frozenset({EventType.STAGED, EventType.LINE_SHORT,
                                  EventType.HOLD_EXTENDED})
SETTLED_BY = "store-agent"
SUPERSEDED_CODE = "superseded_by_cancel"


def cancelled_at_oms(event_type: str, result_status: str, oms_status: str | None,
                     status_map: Mapping[str, str]) -> bool:
    """Is this a conflict answer whose snapshot says the order was cancelled online?"""
    return (result_status == "conflict" and event_type in SUPERSEDED_BY_CANCEL
            and oms_status is not None and status_map.get(oms_status) == OrderState.CANCELLED)


def settle(conn: sqlite3.Connection, row: Any, *, oms_status: str, oms_version: int,
           oms_result: str, now: str) -> None:
    """Acknowledge the refused event with the OMS's answer and why the agent settled it."""
    conn.execute(
        "UPDATE outbox SET status = 'acked', acked_at = ?, oms_result = ?, attempts = attempts + 1,"
        " last_error = NULL, result_code = ?, result_message = ? WHERE seq = ?",
        (now, oms_result, SUPERSEDED_CODE,
         f"the OMS answered conflict: the order was cancelled there ({oms_status},"
         f" v{oms_version}); {SETTLED_BY} applied the cancellation, no manager needed",
         row["seq"]))
    # Events made meanwhile flow again unless a dead letter of this order still holds them.
    if conn.execute("SELECT 1 FROM outbox WHERE order_id = ? AND status = 'dead'"
                    " AND resolved_at IS NULL", (row["order_id"],)).fetchone() is None:
        conn.execute("UPDATE outbox SET status = 'pending', next_attempt_at = NULL"
                     " WHERE order_id = ? AND status = 'held'", (row["order_id"],))
