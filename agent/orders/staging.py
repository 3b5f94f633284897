"""Staging an order into one or more bins (totes): ``order.staged``.

One bin per tote; every bin goes in ``order_bins`` (position = n of the label "n of m")
and in the event's ``bins`` (API 1.1), the first also in ``bin`` for version-1 readers
and in ``orders.bin``. Staging again replaces the set of bins (a move).

What is staged per line, unless the caller says (``picked``): what the picker verified
when the pick was tracked item by item, else what the order still wants (ordered less
short or cancelled; cli.md: "all lines in full, less units already recorded short"). A
tracked pick under a ``scan`` or ``quantity`` policy cannot stage more than was
verified, nor leave units that were neither picked nor recorded short.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from agent.clock import iso, utc_now
from agent.errors import InvalidActionError, OrderCancelledError, UnknownOrderError, WrongStateError
from agent.orders.base import ActionBase, ActionResult, one_line
from agent.orders.lines import read_lines
from agent.orders.outbox import ORDER_BLOCKED_SQL, append_event
from agent.orders.states import OrderAction, allows
from config.vocabulary import EventType, OrderState

MAX_BINS = 50


class StagingActions(ActionBase):
    def stage(
        self,
        order_id: str,
        *,
        bin: str | None = None,
        bins: Sequence[str] | None = None,
        associate_id: str,
        picked: dict[str, int] | None = None,
        now: datetime | None = None,
    ) -> ActionResult:
        """Stage the order in ``bins`` (or the one ``bin``); the order becomes READY."""
        wanted_bins = list(bins) if bins else ([bin] if bin is not None else [])
        if not wanted_bins:
            raise InvalidActionError("name at least one bin")
        if len(wanted_bins) > MAX_BINS:
            raise InvalidActionError(f"at most {MAX_BINS} bins per order")
        all_bins = [self._check_bin(b) for b in wanted_bins]
        if len(set(all_bins)) != len(all_bins):
            raise InvalidActionError("a bin is named twice: one bin per tote")
        self.associate(associate_id)
        stamp = iso(now or utc_now())
        with self.store.write() as conn:
            row = conn.execute(f"SELECT state, bin, version, {ORDER_BLOCKED_SQL} FROM orders"
                               " WHERE order_id = ?1", (order_id,)).fetchone()
            if row is None:
                raise UnknownOrderError(f"order {order_id!r} is not known to this store")
            state, was_bin, version, blocked = row
            if state == OrderState.CANCELLED:
                raise OrderCancelledError(self._cancelled_message(conn, self._order(conn, order_id)))
            if not allows(OrderAction.STAGE, state):
                raise WrongStateError(f"order {order_id} is {state}; only TO_PICK or"
                                      " READY orders can be staged")
            lines = read_lines(conn, order_id)
            by_id = {ln.line_id: ln for ln in lines}
            picked = dict(picked or {})
            unknown = sorted(set(picked) - set(by_id))
            if unknown:
                raise InvalidActionError(f"order {order_id} has no line"
                                         f" {one_line(', '.join(unknown))[:100]}")
            tracked = (state == OrderState.TO_PICK and self.settings.picking.verify != "off"
                       and any(ln.verified for ln in lines))
            quantities: list[tuple[str, int]] = []
            for ln in lines:
                # min: the OMS may have lowered the line below what was already picked.
                default = min(ln.verified, ln.wanted) if tracked else ln.wanted
                qty = picked.get(ln.line_id, default)
                low, high = ln.picked_up, ln.wanted
                if tracked:
                    high = min(high, ln.verified)
                if not low <= qty <= high:
                    raise InvalidActionError(
                        f"line {ln.line_id}: quantity {qty} is outside {low}..{high}"
                        + (" (picked so far)" if tracked else " (ordered less short)"))
                if tracked and qty < ln.wanted and ln.verified < ln.wanted:
                    raise InvalidActionError(
                        f"line {ln.line_id}: {ln.wanted - ln.verified} unit(s) neither picked nor"
                        " recorded short: pick them or record them short first")
                quantities.append((ln.line_id, qty))
            changed = [(q, order_id, i) for i, q in quantities if q != by_id[i].picked]
            if changed:
                conn.executemany("UPDATE order_lines SET quantity_picked = ? WHERE order_id = ?"
                                 " AND line_id = ?", changed)
            sets = f"state = '{OrderState.READY}', " if state != OrderState.READY else ""
            sets += "bin = :bin, " if was_bin != all_bins[0] else ""
            conn.execute(f"UPDATE orders SET {sets}state_changed_at = :stamp"
                         " WHERE order_id = :order_id",
                         {"bin": all_bins[0], "stamp": stamp, "order_id": order_id})
            stored_bins = [r[0] for r in conn.execute(
                "SELECT bin FROM order_bins WHERE order_id = ? ORDER BY position", (order_id,))]
            if stored_bins != all_bins:  # staging again into the same totes writes nothing here
                conn.execute("DELETE FROM order_bins WHERE order_id = ?", (order_id,))
                conn.executemany(
                    "INSERT INTO order_bins (order_id, bin, position, staged_at, staged_by)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [(order_id, b, n, stamp, associate_id) for n, b in enumerate(all_bins, 1)])
            event = append_event(
                conn, order_id=order_id, type=EventType.STAGED,
                data={"bin": all_bins[0], "bins": all_bins,
                      "lines": [{"line_id": i, "quantity_picked": q} for i, q in quantities]},
                occurred_at=stamp, associate_id=associate_id, device_id=self.device_id,
                based_on_version=version, blocked=bool(blocked))
            if self.settings.picking.print_bin_labels:
                for n, b in enumerate(all_bins, 1):
                    self._print(conn, "bin_label", order_id, {
                        "bin_id": b, "store_id": self.settings.store_id, "order_id": order_id,
                        "n": n, "of": len(all_bins)}, associate_id)
        short = sum(by_id[i].quantity - by_id[i].cancelled - q for i, q in quantities)
        note = f" (short pick: {short} unit(s) missing)" if short > 0 else ""
        moved = " (moved)" if state == OrderState.READY and was_bin != all_bins[0] else ""
        where = f"bin {all_bins[0]}" if len(all_bins) == 1 else f"bins {', '.join(all_bins)}"
        return ActionResult(order_id, OrderState.READY, event,
                            f"order {order_id} staged in {where}{moved}{note}")
