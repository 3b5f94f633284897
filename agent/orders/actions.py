"""Associate actions. Each is one transaction: the state change and its outbox event.

Every check runs inside the BEGIN IMMEDIATE transaction that writes, so a
refusal writes nothing and a check cannot be invalidated by another process
between reading and writing. Nothing returns before COMMIT.

``Actions`` gathers them: picking (picking.py: pick list, scan-to-verify, short
pick, hold extension), staging (staging.py), the handoff (pickup.py), and here
cancel and return to shelf.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from agent.alerts import resolve_alert
from agent.clock import iso, utc_now
from agent.errors import InvalidActionError, WrongStateError
from agent.orders.base import ActionResult
from agent.orders.lines import has_units_in_hand, open_return_task, read_lines
from agent.orders.outbox import append_event
from agent.orders.picking import PickingActions
from agent.orders.pickup import PickupActions
from agent.orders.staging import StagingActions
from agent.orders.states import OrderAction, allows
from config.vocabulary import CancelReason, EventType, OrderState
from sync.models import ID_CHECK_TYPES, SHORT_REASONS

__all__ = ["CANCEL_REASONS", "ID_CHECK_TYPES", "SHORT_REASONS", "ActionResult", "Actions",
           "open_return_task"]

CANCEL_REASONS: tuple[CancelReason, ...] = tuple(CancelReason)


class Actions(PickingActions, StagingActions, PickupActions):
    """Every associate action, bound to one store and one configuration."""

    # --- cancel -------------------------------------------------------------
    def cancel(
        self,
        order_id: str,
        *,
        reason: str,
        associate_id: str,
        note: str | None = None,
        now: datetime | None = None,
    ) -> ActionResult:
        if reason not in CANCEL_REASONS:
            raise InvalidActionError(f"reason {reason!r} is not one of {', '.join(CANCEL_REASONS)}")
        if note is not None and len(note) > 500:
            raise InvalidActionError("a note is at most 500 characters")
        self.associate(associate_id)
        stamp = iso(now or utc_now())
        with self.store.write() as conn:
            order = self._order(conn, order_id)
            if not allows(OrderAction.CANCEL, order["state"]):
                raise WrongStateError(f"order {order_id} is {order['state']}; only TO_PICK or"
                                      " READY orders can be cancelled")
            task_id = None
            if order["state"] == OrderState.READY or has_units_in_hand(conn, order_id):
                task_id = open_return_task(conn, order, reason=reason, now=stamp)
                self._print(conn, "return_slip", order_id, {
                    "store_id": self.settings.store_id, "order_id": order_id,
                    "bin_id": order["bin"] or "-", "reason": reason,
                    "associate": self.associate(associate_id).name, "at": stamp,
                    "items": _task_items(conn, order_id, task_id), "note": note,
                    "locale": self.settings.ui.locale,
                }, associate_id)
            conn.execute(
                "UPDATE orders SET state = ?, state_changed_at = ? WHERE order_id = ?",
                (OrderState.CANCELLED, stamp, order_id),
            )
            event = append_event(
                conn,
                order_id=order_id,
                type=EventType.CANCELLED,
                data={"reason": reason, "note": note},
                occurred_at=stamp,
                associate_id=associate_id,
                device_id=self.device_id,
                based_on_version=order["version"],
            )
        where = f" from bin {order['bin']}" if order["bin"] else ""
        todo = f"; return its items{where} to the shelf" if task_id else ""
        return ActionResult(order_id, OrderState.CANCELLED, event, f"order {order_id} cancelled{todo}",
                            return_task_id=task_id)

    # --- return to shelf ------------------------------------------------------
    def return_to_shelf(
        self, order_id: str, *, associate_id: str, now: datetime | None = None
    ) -> ActionResult:
        self.associate(associate_id)
        stamp = iso(now or utc_now())
        with self.store.write() as conn:
            order = self._order(conn, order_id)
            task = self._open_task(conn, order_id)
            if task is None or not allows(OrderAction.RETURN_TO_SHELF, order["state"],
                                          return_task_open=True):
                raise WrongStateError(f"order {order_id} has no open return-to-shelf task")
            conn.execute(
                "UPDATE return_tasks SET state = 'DONE', done_at = ?, done_by = ? WHERE id = ?",
                (stamp, associate_id, task["id"]),
            )
            returned = json.loads(task["lines"])
            conn.executemany(
                "UPDATE order_lines SET quantity_returned = quantity_returned + ?"
                " WHERE order_id = ? AND line_id = ?",
                [(r["quantity"], order_id, r["line_id"]) for r in returned])
            conn.execute("UPDATE orders SET bin = NULL WHERE order_id = ?", (order_id,))
            conn.execute("DELETE FROM order_bins WHERE order_id = ?", (order_id,))
            resolve_alert(conn, kind="cancelled_while_ready", key=order_id, now=stamp)
            event = append_event(
                conn,
                order_id=order_id,
                type=EventType.RETURNED_TO_SHELF,
                data={"lines": returned, "bin": task["bin"]},
                occurred_at=stamp,
                associate_id=associate_id,
                device_id=self.device_id,
                based_on_version=order["version"],
            )
        return ActionResult(order_id, OrderState.CANCELLED, event,
                            f"order {order_id}: items from bin {task['bin']} are back on the shelf",
                            return_task_id=task["id"])


def _task_items(conn: sqlite3.Connection, order_id: str, task_id: int) -> list[dict[str, Any]]:
    """The return slip's items: exactly what the return task says goes back."""
    units = json.loads(conn.execute("SELECT lines FROM return_tasks WHERE id = ?",
                                    (task_id,)).fetchone()[0])
    by_id = {ln.line_id: ln for ln in read_lines(conn, order_id)}
    return [{"description": by_id[u["line_id"]].description, "quantity": u["quantity"],
             "sku": by_id[u["line_id"]].sku} for u in units if u["line_id"] in by_id]
