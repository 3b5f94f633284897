"""Associate actions. Each is one transaction: the state change and its outbox event.

Every check runs inside the BEGIN IMMEDIATE transaction that writes, so a
refusal writes nothing and a check cannot be invalidated by another process
between reading and writing. Nothing returns before COMMIT.
"""

from __future__ import annotations

import hmac
import json
import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from agent.alerts import resolve_alert
from agent.clock import age_s, iso, utc_now
from agent.errors import (
    InvalidActionError,
    OrderCancelledError,
    UnknownAssociateError,
    UnknownOrderError,
    WrongPickupCodeError,
    WrongStateError,
)
from agent.orders.handoff import OfflineVerdict, decide_offline, require_manager
from agent.orders.outbox import ORDER_BLOCKED_SQL, AppendedEvent, append_event
from agent.printing.queue import enqueue_in
from agent.store.connection import Store
from config.settings import Associate, Settings

CANCEL_REASONS = ("customer_refused", "no_show", "item_unavailable", "damaged", "other")


@dataclass(frozen=True)
class ActionResult:
    order_id: str
    state: str
    event: AppendedEvent
    message: str
    verification: str | None = None
    return_task_id: int | None = None


# Everything stage() checks, in one statement: the order, whether its events
# are held back, and its lines (none when the LEFT JOIN finds no line).
_STAGE_READ = (
    f"SELECT o.state, o.bin, o.version, {ORDER_BLOCKED_SQL},"
    " l.position, l.line_id, l.quantity, l.quantity_picked"
    " FROM orders o LEFT JOIN order_lines l ON l.order_id = o.order_id WHERE o.order_id = ?1"
)
# Keyed by (state changes, bin changes): an indexed column left out of SET
# leaves its index pages untouched.
_STAGE_UPDATE = {
    (state, moved): "UPDATE orders SET "
    + ("state = 'READY', " if state else "") + ("bin = :bin, " if moved else "")
    + "state_changed_at = :stamp WHERE order_id = :order_id"
    for state in (False, True) for moved in (False, True)
}


def _one_line(text: str) -> str:
    return " ".join(text.split())


class Actions:
    """The four associate actions, bound to one store and one configuration."""

    def __init__(self, store: Store, settings: Settings, *, device_id: str | None = None):
        self.store = store
        self.settings = settings
        self.device_id = device_id or settings.default_station
        self._bin_re = re.compile(settings.pickup.bin_pattern)

    # --- shared checks ---------------------------------------------------
    def associate(self, associate_id: str) -> Associate:
        found = self.settings.associate(associate_id)
        if found is None:
            raise UnknownAssociateError(f"associate {associate_id!r} is not in the roster")
        return found

    @staticmethod
    def _order(conn: sqlite3.Connection, order_id: str) -> sqlite3.Row:
        row = conn.execute("SELECT * FROM orders WHERE order_id = ?", (order_id,)).fetchone()
        if row is None:
            raise UnknownOrderError(f"order {order_id!r} is not known to this store")
        return row

    @staticmethod
    def _open_task(conn: sqlite3.Connection, order_id: str) -> sqlite3.Row | None:
        return conn.execute(
            "SELECT * FROM return_tasks WHERE order_id = ? AND state = 'OPEN'", (order_id,)
        ).fetchone()

    def _cancelled_message(self, conn: sqlite3.Connection, order: sqlite3.Row) -> str:
        task = self._open_task(conn, order["order_id"])
        where = f"; its items are in bin {order['bin']}" if order["bin"] else ""
        todo = " and must go back to the shelf (return task open)" if task else ""
        return f"order {order['order_id']} was CANCELLED{where}{todo}: do not hand it over"

    def _print(self, conn: sqlite3.Connection, kind: str, order_id: str, payload: dict,
               associate_id: str) -> None:
        """Queue paper for this station's printer in the action's own transaction.

        A station without a printer prints nothing; the action never waits for paper.
        """
        station = next((st for st in self.settings.stations if st.id == self.device_id), None)
        if station is not None and station.printer is not None:
            enqueue_in(conn, self.settings, kind, station.printer, payload, order_id=order_id,
                       created_by=associate_id)

    # --- stage -------------------------------------------------------------
    def stage(
        self,
        order_id: str,
        *,
        bin: str,
        associate_id: str,
        picked: dict[str, int] | None = None,
        now: datetime | None = None,
    ) -> ActionResult:
        bin = bin.strip()
        if not self._bin_re.match(bin):
            raise InvalidActionError(
                f"bin {bin!r} is not a bin id (expected {self.settings.pickup.bin_pattern})"
            )
        self.associate(associate_id)
        stamp = iso(now or utc_now())
        with self.store.write() as conn:
            rows = conn.execute(_STAGE_READ, (order_id,)).fetchall()
            if not rows:
                raise UnknownOrderError(f"order {order_id!r} is not known to this store")
            state, was_bin, version, blocked = rows[0][:4]
            if state == "CANCELLED":
                raise OrderCancelledError(self._cancelled_message(conn, self._order(conn, order_id)))
            if state not in ("TO_PICK", "READY"):
                raise WrongStateError(f"order {order_id} is {state}; only TO_PICK or"
                                      " READY orders can be staged")
            lines = sorted(tuple(r[4:]) for r in rows if r[4] is not None)  # by position
            ordered = {line_id: qty for _, line_id, qty, _ in lines}
            stored = {line_id: was for _, line_id, _, was in lines}
            picked = dict(picked or {})
            unknown = sorted(set(picked) - set(ordered))
            if unknown:
                raise InvalidActionError(f"order {order_id} has no line {', '.join(unknown)}")
            for line_id, qty in picked.items():
                if not 0 <= qty <= ordered[line_id]:
                    raise InvalidActionError(
                        f"line {line_id}: quantity {qty} is outside 0..{ordered[line_id]}"
                    )
            quantities = [(line_id, picked.get(line_id, qty)) for line_id, qty in ordered.items()]
            # Rewriting a value that is already stored still dirties its page
            # (and every index on the column), and each page is WAL written and
            # fsynced at COMMIT: write only what changes.
            changed = [(q, order_id, line_id) for line_id, q in quantities if q != stored[line_id]]
            if changed:
                conn.executemany(
                    "UPDATE order_lines SET quantity_picked = ? WHERE order_id = ? AND line_id = ?",
                    changed,
                )
            conn.execute(_STAGE_UPDATE[state != "READY", was_bin != bin],
                         {"bin": bin, "stamp": stamp, "order_id": order_id})
            event = append_event(
                conn,
                order_id=order_id,
                type="order.staged",
                data={
                    "bin": bin,
                    "lines": [{"line_id": i, "quantity_picked": q} for i, q in quantities],
                },
                occurred_at=stamp,
                associate_id=associate_id,
                device_id=self.device_id,
                based_on_version=version,
                blocked=bool(blocked),
            )
        short = sum(ordered[i] - q for i, q in quantities)
        note = f" (short pick: {short} unit(s) missing)" if short else ""
        moved = " (moved)" if state == "READY" and was_bin != bin else ""
        return ActionResult(order_id, "READY", event, f"order {order_id} staged in bin {bin}"
                            f"{moved}{note}")

    # --- pickup -------------------------------------------------------------
    def pickup(
        self,
        order_id: str,
        *,
        associate_id: str,
        code: str | None,
        oms_confirmed: bool = False,
        confirmed: bool = False,
        override_id: str | None = None,
        now: datetime | None = None,
    ) -> ActionResult:
        """Hand the order over.

        ``oms_confirmed`` says the live check reached the OMS and its answer is
        already applied; otherwise the offline policy decides.
        """
        self.associate(associate_id)
        moment = now or utc_now()
        stamp = iso(moment)
        with self.store.write() as conn:
            order = self._order(conn, order_id)
            if order["state"] == "CANCELLED":
                raise OrderCancelledError(self._cancelled_message(conn, order))
            if order["state"] == "PICKED_UP":
                raise WrongStateError(f"order {order_id} was already picked up"
                                      f" ({order['state_changed_at']})")
            if order["state"] != "READY":
                raise WrongStateError(f"order {order_id} is {order['state']}: stage it in a bin"
                                      " before the handoff")
            if code is not None:
                if not hmac.compare_digest(code.strip().upper().encode(),
                                           order["pickup_code"].upper().encode()):
                    raise WrongPickupCodeError(f"wrong pickup code for order {order_id}")
                verification = "pickup_code"
            elif override_id is None:
                raise WrongPickupCodeError(
                    f"order {order_id}: a pickup code is needed (or a manager's --override-by)"
                )
            else:
                verification = "manager_override"
            if override_id is not None:
                require_manager(self.settings.associate(override_id), override_id)
            verdict: OfflineVerdict | None = None
            if not oms_confirmed:
                verdict = decide_offline(
                    policy=self.settings.pickup.offline_handoff,
                    staleness_s=age_s(_last_heard(conn), moment),
                    max_staleness_min=self.settings.pickup.max_offline_staleness_min,
                    confirmed=confirmed,
                    override_id=override_id,
                )
            conn.execute(
                "UPDATE orders SET state = 'PICKED_UP', state_changed_at = ? WHERE order_id = ?",
                (stamp, order_id),
            )
            event = append_event(
                conn,
                order_id=order_id,
                type="order.picked_up",
                data={"verification": verification, "bin": order["bin"]},
                occurred_at=stamp,
                associate_id=associate_id,
                device_id=self.device_id,
                based_on_version=order["version"],
                override_by=override_id,
            )
            self._print(conn, "receipt", order_id, {
                "store_id": self.settings.store_id, "order_id": order_id,
                "associate": self.associate(associate_id).name, "handed_over_at": stamp,
                "verified_by": verification, "override_manager": override_id,
                "items": _items(conn, order_id),
            }, associate_id)
        offline = f" without OMS confirmation ({verdict.staleness_note})" if verdict else ""
        return ActionResult(order_id, "PICKED_UP", event,
                            f"order {order_id} handed over from bin {order['bin']}{offline}",
                            verification=verification)

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
            if order["state"] not in ("TO_PICK", "READY"):
                raise WrongStateError(f"order {order_id} is {order['state']}; only TO_PICK or"
                                      " READY orders can be cancelled")
            task_id = None
            if order["state"] == "READY":
                task_id = open_return_task(conn, order, reason=reason, now=stamp)
                self._print(conn, "return_slip", order_id, {
                    "store_id": self.settings.store_id, "order_id": order_id,
                    "bin_id": order["bin"] or "-", "reason": reason,
                    "associate": self.associate(associate_id).name, "at": stamp,
                    "items": _items(conn, order_id),
                }, associate_id)
            conn.execute(
                "UPDATE orders SET state = 'CANCELLED', state_changed_at = ? WHERE order_id = ?",
                (stamp, order_id),
            )
            event = append_event(
                conn,
                order_id=order_id,
                type="order.cancelled",
                data={"reason": reason, "note": note},
                occurred_at=stamp,
                associate_id=associate_id,
                device_id=self.device_id,
                based_on_version=order["version"],
            )
        todo = f"; return its items from bin {order['bin']} to the shelf" if task_id else ""
        return ActionResult(order_id, "CANCELLED", event, f"order {order_id} cancelled{todo}",
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
            if order["state"] != "CANCELLED" or task is None:
                raise WrongStateError(f"order {order_id} has no open return-to-shelf task")
            conn.execute(
                "UPDATE return_tasks SET state = 'DONE', done_at = ?, done_by = ? WHERE id = ?",
                (stamp, associate_id, task["id"]),
            )
            conn.execute("UPDATE orders SET bin = NULL WHERE order_id = ?", (order_id,))
            resolve_alert(conn, kind="cancelled_while_ready", key=order_id, now=stamp)
            event = append_event(
                conn,
                order_id=order_id,
                type="order.returned_to_shelf",
                data={"lines": json.loads(task["lines"]), "bin": task["bin"]},
                occurred_at=stamp,
                associate_id=associate_id,
                device_id=self.device_id,
                based_on_version=order["version"],
            )
        return ActionResult(order_id, "CANCELLED", event,
                            f"order {order_id}: items from bin {task['bin']} are back on the shelf",
                            return_task_id=task["id"])


def open_return_task(conn: sqlite3.Connection, order: sqlite3.Row, *, reason: str, now: str) -> int:
    """The items of a staged order must go back: one open task per order."""
    existing = conn.execute(
        "SELECT id FROM return_tasks WHERE order_id = ? AND state = 'OPEN'", (order["order_id"],)
    ).fetchone()
    if existing:
        return existing[0]
    rows = conn.execute(
        "SELECT line_id, quantity, quantity_picked FROM order_lines WHERE order_id = ? ORDER BY position",
        (order["order_id"],),
    ).fetchall()
    # Staged in this store: exactly what was picked (a line the OMS added
    # since was never picked). Staged elsewhere (READY from the OMS, nothing
    # recorded here): the whole order is in the bin.
    staged_here = any(r["quantity_picked"] is not None for r in rows)
    lines = [
        {"line_id": r["line_id"], "quantity": qty}
        for r in rows
        if (qty := (r["quantity_picked"] or 0) if staged_here else r["quantity"])
    ]
    cur = conn.execute(
        "INSERT INTO return_tasks (order_id, state, bin, lines, reason, created_at)"
        " VALUES (?, 'OPEN', ?, ?, ?, ?)",
        (order["order_id"], order["bin"], json.dumps(lines), reason, now),
    )
    return cur.lastrowid


def _items(conn: sqlite3.Connection, order_id: str) -> list[dict]:
    """What went into the bag: the picked quantity where the store staged it."""
    return [
        {"description": r[0], "quantity": r[1], "sku": r[2]}
        for r in conn.execute(
            "SELECT description, COALESCE(quantity_picked, quantity), sku FROM order_lines"
            " WHERE order_id = ? ORDER BY position", (order_id,))
        if r[1]
    ]


def _last_heard(conn: sqlite3.Connection) -> str | None:
    row = conn.execute("SELECT value FROM sync_state WHERE key = 'last_feed_success_at'").fetchone()
    return row[0] if row else None
