"""Picking by item (Store Sync API 1.1): the pick list, scan-to-verify, short picks, hold extension.

Verifying a unit is the picker's progress, kept in ``order_lines.quantity_verified``
in its own transaction so a crash loses no scan; it sends nothing to the OMS. A short
pick (``order.line_short``) and a hold extension (``order.hold_extended``) are events,
each committed with its state change in one BEGIN IMMEDIATE transaction.

Every pick action refuses an order that is no longer TO_PICK; a CANCELLED one with
``OrderCancelledError``, whose message says what the picker already holds must go
back (a cancellation mid-pick opens a return task for it): the picker stops there.

The policy ``[picking] verify`` decides how a unit counts as picked: ``scan`` (every
unit scanned: ``verify_item``), ``quantity`` (a count per line: ``confirm_picked``,
scanning too), ``off`` (either, or neither: staging takes the ordered quantities).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta

from agent.alerts import resolve_alert
from agent.clock import iso, utc_now
from agent.errors import InvalidActionError, OrderCancelledError, WrongItemError, WrongStateError
from agent.orders.base import ActionBase, ActionResult, one_line
from agent.orders.lines import Line, pick_path, read_lines
from agent.orders.outbox import append_event
from agent.orders.states import OrderAction, allows
from config.vocabulary import EventType, OrderState, ShortReason

SHORT_REASONS: tuple[ShortReason, ...] = tuple(ShortReason)


@dataclass(frozen=True)
class PickList:
    """An order's lines in walking order, with what is left of each (read-only view)."""

    order_id: str
    state: str
    version: int
    policy: str
    lines: list[Line]

    @property
    def units_left(self) -> int:
        return sum(line.to_pick for line in self.lines)


@dataclass(frozen=True)
class PickProgress:
    """What one verification did: the line it counted, and what is left on the order."""

    order_id: str
    line_id: str
    verified: int
    wanted: int
    units_left: int
    message: str


class PickingActions(ActionBase):
    # --- reading ------------------------------------------------------------------
    def pick_list(self, order_id: str) -> PickList:
        """The pick list: lines by ``pick_sequence``, else ``location`` (natural order)."""
        with self.store.read() as conn:
            order = self._order(conn, order_id)
            lines = read_lines(conn, order_id)
        return PickList(order_id, order["state"], order["version"], self.settings.picking.verify,
                        pick_path(lines))

    def _picking(self, conn: sqlite3.Connection, order_id: str, what: str) -> sqlite3.Row:
        order = self._order(conn, order_id)
        if order["state"] == OrderState.CANCELLED:
            raise OrderCancelledError(
                f"order {order_id} was CANCELLED: stop picking"
                + ("; take what you picked back to the shelf (return task open)"
                   if self._open_task(conn, order_id) else ""))
        if not allows(OrderAction.PICK, order["state"]):
            raise WrongStateError(f"order {order_id} is {order['state']}: {what} is for orders"
                                  " still TO_PICK")
        return order

    # --- verify -------------------------------------------------------------------
    def verify_item(self, order_id: str, *, code: str, associate_id: str,
                    now: datetime | None = None) -> PickProgress:
        """Count one unit of the line whose GTIN or SKU is ``code``.

        ``WrongItemError`` when no line of the order is this item, or every unit of it is
        already picked or short: the screen rings the bell; nothing changes."""
        self.associate(associate_id)
        code = code.strip()
        if not code or len(code) > 64:
            raise InvalidActionError("scan an item barcode (GTIN) or type its SKU")
        with self.store.write() as conn:
            self._picking(conn, order_id, "scanning items")
            lines = pick_path(read_lines(conn, order_id))
            matching = [ln for ln in lines if ln.matches(code)]
            if not matching:
                raise WrongItemError(f"wrong item: {one_line(code)[:32]} is not on order {order_id}")
            line = next((ln for ln in matching if ln.to_pick > 0), None)
            if line is None:
                done = matching[0]
                raise WrongItemError(
                    f"{done.description[:60]}: all {done.wanted} wanted unit(s) already picked"
                    f" for order {order_id}; put this one back")
            conn.execute("UPDATE order_lines SET quantity_verified = quantity_verified + 1"
                         " WHERE order_id = ? AND line_id = ?", (order_id, line.line_id))
            left = sum(ln.to_pick for ln in lines) - 1
        return PickProgress(order_id, line.line_id, line.verified + 1, line.wanted, left,
                            f"{one_line(line.description)[:60]}: {line.verified + 1} of"
                            f" {line.wanted}; {left} unit(s) left on the order")

    def confirm_picked(self, order_id: str, *, line_id: str, quantity: int, associate_id: str,
                       now: datetime | None = None) -> PickProgress:
        """Set a line's picked count without scanning each unit (policy ``quantity`` or ``off``)."""
        self.associate(associate_id)
        if self.settings.picking.verify == "scan":
            raise InvalidActionError("this store verifies every unit by scan ([picking] verify ="
                                     " \"scan\"): scan the items")
        with self.store.write() as conn:
            self._picking(conn, order_id, "confirming quantities")
            lines = read_lines(conn, order_id)
            line = next((ln for ln in lines if ln.line_id == line_id), None)
            if line is None:
                raise InvalidActionError(f"order {order_id} has no line {one_line(line_id)[:64]}")
            if not 0 <= quantity <= line.wanted:
                raise InvalidActionError(f"line {line_id}: quantity {quantity} is outside"
                                         f" 0..{line.wanted} (ordered less short)")
            conn.execute("UPDATE order_lines SET quantity_verified = ? WHERE order_id = ?"
                         " AND line_id = ?", (quantity, order_id, line_id))
            left = sum(ln.to_pick for ln in lines) - line.to_pick + (line.wanted - quantity)
        return PickProgress(order_id, line_id, quantity, line.wanted, left,
                            f"line {line_id}: {quantity} of {line.wanted} picked; {left} unit(s)"
                            " left on the order")

    # --- short --------------------------------------------------------------------
    def short(self, order_id: str, *, lines: dict[str, int], reason: str, associate_id: str,
              now: datetime | None = None) -> ActionResult:
        """Record units that cannot be picked (``order.line_short``): the OMS lowers the
        store's availability of each SKU at once. Only units not yet picked can be short."""
        if reason not in SHORT_REASONS:
            raise InvalidActionError(f"reason {one_line(reason)[:32]!r} is not one of"
                                     f" {', '.join(SHORT_REASONS)}")
        if not lines:
            raise InvalidActionError("name at least one line: LINE_ID=QTY")
        self.associate(associate_id)
        stamp = iso(now or utc_now())
        with self.store.write() as conn:
            order = self._picking(conn, order_id, "a short pick")
            by_id = {ln.line_id: ln for ln in read_lines(conn, order_id)}
            unknown = sorted(set(lines) - set(by_id))
            if unknown:
                raise InvalidActionError(f"order {order_id} has no line"
                                         f" {one_line(', '.join(unknown))[:100]}")
            for line_id, qty in lines.items():
                if not 1 <= qty <= by_id[line_id].to_pick:
                    raise InvalidActionError(
                        f"line {line_id}: {qty} short is outside 1..{by_id[line_id].to_pick}"
                        " (units neither picked nor already short)")
            conn.executemany(
                "UPDATE order_lines SET quantity_short = quantity_short + ? WHERE order_id = ?"
                " AND line_id = ?", [(qty, order_id, line_id) for line_id, qty in lines.items()])
            event = append_event(
                conn, order_id=order_id, type=EventType.LINE_SHORT,
                data={"lines": [{"line_id": i, "quantity": q, "reason": reason}
                                for i, q in lines.items()]},
                occurred_at=stamp, associate_id=associate_id, device_id=self.device_id,
                based_on_version=order["version"])
            conn.executemany(
                "INSERT INTO line_shorts (order_id, line_id, sku, quantity, reason, event_seq,"
                " associate_id, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(order_id, i, by_id[i].sku, q, reason, event.seq, associate_id, stamp)
                 for i, q in lines.items()])
        units = sum(lines.values())
        return ActionResult(order_id, OrderState.TO_PICK, event,
                            f"order {order_id}: {units} unit(s) recorded short ({reason})")

    # --- hold -----------------------------------------------------------------------
    def extend_hold(self, order_id: str, *, until: datetime, reason: str, associate_id: str,
                    now: datetime | None = None) -> ActionResult:
        """Move the order's hold (``order.hold_extended``), at most ``[pickup]
        max_hold_extension_h`` hours from now, and never earlier than it was."""
        if until.tzinfo is None:
            raise InvalidActionError("--until needs a time zone (e.g. 2026-12-03T18:00:00Z)")
        reason = one_line(reason)
        if not 1 <= len(reason) <= 500:
            raise InvalidActionError("give a reason of 1-500 characters")
        self.associate(associate_id)
        moment = now or utc_now()
        limit = moment + timedelta(hours=self.settings.pickup.max_hold_extension_h)
        if until <= moment:
            raise InvalidActionError("the new hold must end in the future")
        if until > limit:
            raise InvalidActionError(
                f"the hold may end at most {self.settings.pickup.max_hold_extension_h} h from now"
                f" (until {iso(limit)}); ask the OMS for longer")
        stamp, until_text = iso(moment), iso(until)
        with self.store.write() as conn:
            order = self._order(conn, order_id)
            if not allows(OrderAction.EXTEND_HOLD, order["state"]):
                raise WrongStateError(f"order {order_id} is {order['state']}: only open orders"
                                      " have a hold")
            if order["hold_until"] is not None and until_text <= order["hold_until"]:
                raise InvalidActionError(f"order {order_id} is already held until"
                                         f" {order['hold_until']}: give a later time")
            conn.execute("UPDATE orders SET hold_until = ? WHERE order_id = ?",
                         (until_text, order_id))
            resolve_alert(conn, kind="no_show", key=order_id, now=stamp)
            event = append_event(
                conn, order_id=order_id, type=EventType.HOLD_EXTENDED,
                data={"until": until_text, "reason": reason}, occurred_at=stamp,
                associate_id=associate_id, device_id=self.device_id,
                based_on_version=order["version"])
        return ActionResult(order_id, order["state"], event,
                            f"order {order_id} is held until {until_text}")
