"""The handoff: ``order.picked_up``, whole or partial, with its evidence (API 1.1).

Refused, changing nothing, unless: the pickup code matches (or a manager overrides);
every bin of an order staged in several bins is scanned (or a manager waives the
missing ones, recorded); an age-restricted line handed over has an ID check; an
alternate collector is the person the order names (and shows an ID, if the store
says so); the signed acknowledgment is confirmed (if the store asks for one); and
the offline policy allows it when the OMS could not be asked.

A partial pickup (``lines``) hands over fewer units than are staged: the order stays
READY with ``quantity_picked_up`` counted per line; the last handoff makes it
PICKED_UP. Each handoff leaves a row in ``handoffs``: the store's record of the evidence.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from agent.clock import age_s, iso, utc_now
from agent.errors import (
    BinNotScannedError,
    ConfirmationNeededError,
    IdCheckNeededError,
    InvalidActionError,
    OrderCancelledError,
    WrongPickupCodeError,
    WrongStateError,
)
from agent.orders.base import ActionBase, ActionResult, last_heard, one_line
from agent.orders.code_checks import check_order_code
from agent.orders.handoff import OfflineVerdict, decide_offline, require_manager
from agent.orders.lines import read_lines, receipt_items, short_items
from agent.orders.outbox import append_event
from agent.orders.states import OrderAction, allows
from config.vocabulary import EventType, IdCheckType, OrderState, Verification

ID_CHECK_TYPES: tuple[IdCheckType, ...] = tuple(IdCheckType)


class PickupActions(ActionBase):
    def pickup(
        self,
        order_id: str,
        *,
        associate_id: str,
        code: str | None,
        oms_confirmed: bool = False,
        confirmed: bool = False,
        override_id: str | None = None,
        bins_override_by: str | None = None,
        lines: dict[str, int] | None = None,
        scanned_bins: Sequence[str] = (),
        id_check: str | None = None,
        collected_by: str = "customer",
        acknowledgment_signed: bool = False,
        now: datetime | None = None,
    ) -> ActionResult:
        """Hand the order over, or ``lines`` of it ({line_id: units}).

        ``oms_confirmed`` says the live check reached the OMS and its answer is already
        applied; otherwise the offline policy decides. ``override_id`` (a manager) stands
        in for a missing pickup code, for missing bin scans and for the offline policy;
        ``bins_override_by`` (a manager) waives missing bin scans only.
        """
        if id_check is not None and id_check not in ID_CHECK_TYPES:
            raise InvalidActionError(f"ID check {one_line(id_check)[:32]!r} is not one of"
                                     f" {', '.join(ID_CHECK_TYPES)}")
        if collected_by not in ("customer", "alternate"):
            raise InvalidActionError("collected by: customer or alternate")
        self.associate(associate_id)
        scanned = [one_line(b).upper() for b in scanned_bins]
        moment = now or utc_now()
        stamp = iso(moment)
        if code is not None:
            # Counted in a transaction of its own: the refusal below must not roll the count back.
            check = check_order_code(self.store, self.settings, order_id, code,
                                     station=self.device_id, now=moment)
            if check.locked_for_s is not None:
                raise WrongPickupCodeError(check.message)
        with self.store.write() as conn:
            order = self._order(conn, order_id)
            if order["state"] == OrderState.CANCELLED:
                raise OrderCancelledError(self._cancelled_message(conn, order))
            if order["state"] == OrderState.PICKED_UP:
                raise WrongStateError(f"order {order_id} was already picked up"
                                      f" ({order['state_changed_at']})")
            if not allows(OrderAction.PICKUP, order["state"]):
                raise WrongStateError(f"order {order_id} is {order['state']}: stage it in a bin"
                                      " before the handoff")
            if code is not None:
                if not hmac.compare_digest(code.strip().upper().encode(),
                                           order["pickup_code"].upper().encode()):
                    raise WrongPickupCodeError(f"wrong pickup code for order {order_id}")
                verification = Verification.PICKUP_CODE
            elif override_id is None:
                raise WrongPickupCodeError(
                    f"order {order_id}: a pickup code is needed (or a manager's --override-by)")
            else:
                verification = Verification.MANAGER_OVERRIDE
            if override_id is not None:
                require_manager(self.settings.associate(override_id), override_id)
            if bins_override_by is not None:
                require_manager(self.settings.associate(bins_override_by), bins_override_by)
            bins_waived_by = bins_override_by or override_id

            all_lines = read_lines(conn, order_id)
            remaining = {ln.line_id: ln.remaining_to_hand_over() for ln in all_lines}
            handed = self._handed(order_id, lines, remaining)
            rest = {i: remaining[i] - handed.get(i, 0) for i in remaining}
            complete = not any(rest.values())
            partial_before = any(ln.picked_up for ln in all_lines)

            bins = [r[0] for r in conn.execute(
                "SELECT bin FROM order_bins WHERE order_id = ? ORDER BY position", (order_id,))]
            # A scan may come in another case than the label was staged with.
            known = {b.upper() for b in bins}
            strangers = [b for b in scanned if b not in known]
            if strangers:
                raise BinNotScannedError(
                    f"bin {strangers[0][:32]} is not one of order {order_id}'s bins"
                    f" ({', '.join(bins) or 'none recorded'}): wrong tote?")
            missing = [b for b in bins if b.upper() not in scanned] if len(bins) > 1 else []
            if missing and bins_waived_by is None:
                raise BinNotScannedError(
                    f"order {order_id} is in {len(bins)} bins; scan {', '.join(missing)} too"
                    " (every tote goes to the customer), or a manager overrides")

            restricted = [ln.line_id for ln in all_lines
                          if ln.age_restricted and handed.get(ln.line_id)]
            if restricted and id_check is None:
                raise IdCheckNeededError(
                    f"line {', '.join(restricted)} of order {order_id} is age-restricted:"
                    " check the customer's ID and record its type")
            if collected_by == "alternate":
                if not self.settings.handoff.allow_alternate:
                    raise InvalidActionError("this store hands orders only to the customer")
                if not order["alternate_pickup_name"]:
                    raise InvalidActionError(f"order {order_id} names no alternate pickup person")
                if self.settings.handoff.id_check_for_alternate and id_check is None:
                    raise IdCheckNeededError(
                        f"{one_line(order['alternate_pickup_name'])[:60]} collects for the"
                        " customer: check their ID and record its type")
            needs_ack = self.settings.handoff.signed_acknowledgment
            if needs_ack and not acknowledgment_signed:
                raise ConfirmationNeededError(
                    "this store asks the customer to sign the printed acknowledgment:"
                    " confirm it is signed (--signed)")

            verdict: OfflineVerdict | None = None
            if not oms_confirmed:
                verdict = decide_offline(
                    policy=self.settings.pickup.offline_handoff,
                    staleness_s=age_s(last_heard(conn), moment),
                    max_staleness_min=self.settings.pickup.max_offline_staleness_min,
                    confirmed=confirmed,
                    override_id=override_id,
                )
            new_state = OrderState.PICKED_UP if complete else OrderState.READY
            conn.executemany(
                "UPDATE order_lines SET quantity_picked_up = quantity_picked_up + ?"
                " WHERE order_id = ? AND line_id = ?",
                [(q, order_id, i) for i, q in handed.items()])
            if complete:
                conn.execute("UPDATE orders SET state = ?, state_changed_at = ? WHERE order_id = ?",
                             (OrderState.PICKED_UP, stamp, order_id))
            data: dict[str, Any] = {"verification": verification, "bin": order["bin"],
                                    "collected_by": collected_by}
            if lines is not None or partial_before or not complete:
                data["lines"] = [{"line_id": i, "quantity": q} for i, q in handed.items()]
            if id_check is not None:
                data["id_check"] = {"type": id_check}
            if scanned or len(bins) > 1:
                data["bins_scanned"] = [b for b in bins if b.upper() in scanned]
            if needs_ack:
                data["acknowledgment"] = {"printed": True, "signed": True}
            event = append_event(
                conn, order_id=order_id, type=EventType.PICKED_UP, data=data, occurred_at=stamp,
                associate_id=associate_id, device_id=self.device_id,
                based_on_version=order["version"], override_by=override_id or (
                    bins_waived_by if missing else None))
            conn.execute(
                "INSERT INTO handoffs (order_id, event_seq, verification, collected_by,"
                " id_check_type, bins_scanned, bins_missing, bins_override_by,"
                " acknowledgment_signed, lines, complete, associate_id, handed_over_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (order_id, event.seq, verification, collected_by, id_check,
                 json.dumps([b for b in bins if b.upper() in scanned]), json.dumps(missing),
                 bins_waived_by if missing else None, (1 if acknowledgment_signed else 0)
                 if needs_ack else None,
                 json.dumps([{"line_id": i, "quantity": q} for i, q in handed.items()]),
                 int(complete), associate_id, stamp))
            self._print(conn, "receipt", order_id, {
                "store_id": self.settings.store_id, "order_id": order_id,
                "associate": self.associate(associate_id).name, "handed_over_at": stamp,
                "locale": self.settings.ui.locale,
                "verified_by": verification, "override_manager": override_id,
                "items": receipt_items(conn, order_id, handed),
                "short": short_items(conn, order_id),
                "still_to_collect": sum(rest.values()),
                "collected_by": (one_line(order["alternate_pickup_name"] or "")
                                 if collected_by == "alternate" else None),
                "id_check": id_check, "signature": needs_ack,
            }, associate_id)
        offline = f" without OMS confirmation ({verdict.staleness_note})" if verdict else ""
        where = ", ".join(bins) if bins else order["bin"]
        what = "handed over" if complete else (
            f"partly handed over ({sum(rest.values())} unit(s) still to collect; it stays READY)")
        return ActionResult(order_id, new_state, event,
                            f"order {order_id} {what} from bin {where}{offline}",
                            verification=verification)

    @staticmethod
    def _handed(order_id: str, lines: dict[str, int] | None,
                remaining: dict[str, int]) -> dict[str, int]:
        if lines is None:
            handed = {i: q for i, q in remaining.items() if q}
        else:
            unknown = sorted(set(lines) - set(remaining))
            if unknown:
                raise InvalidActionError(f"order {order_id} has no line"
                                         f" {one_line(', '.join(unknown))[:100]}")
            for line_id, qty in lines.items():
                if not 1 <= qty <= remaining[line_id]:
                    raise InvalidActionError(
                        f"line {line_id}: {qty} is outside 1..{remaining[line_id]}"
                        " (staged and not yet handed over)")
            handed = dict(lines)
        if not handed and lines is not None:
            raise WrongStateError(f"order {order_id}: nothing staged is left to hand over")
        # No lines asked for and none left (staged with nothing picked): the handoff
        # closes the order, as in version 1.
        return handed
