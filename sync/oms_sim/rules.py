"""The reference OMS's rules for an event: which status it may act on, what it checks, what it
changes (the store's state lives in ``state``; line quantities and stock in ``items``)."""

from __future__ import annotations

from typing import Any

from config.vocabulary import EventType
from sync.models import Event, PickedLine, ReturnedData, StagedData
from sync.oms_sim import items
from sync.oms_sim.store import StoreSim

OPEN_STATUSES = frozenset({"released", "ready_for_pickup"})
# event type -> (statuses it may act on, status afterwards; None keeps the status)
TRANSITIONS: dict[EventType, tuple[frozenset[str], str | None]] = {
    EventType.STAGED: (OPEN_STATUSES, "ready_for_pickup"),
    EventType.PICKED_UP: (OPEN_STATUSES, "picked_up"),
    EventType.CANCELLED: (OPEN_STATUSES, "cancelled"),
    EventType.RETURNED_TO_SHELF: (frozenset({"cancelled"}), None),
    # API 1.1. A short pick is a fact about the shelf, true whatever became of the order
    # since (cancelled online while the picker looked): accepted in any status, so the
    # stock signal is never a dead letter holding the order's return behind it.
    EventType.LINE_SHORT: (frozenset({*OPEN_STATUSES, "picked_up", "cancelled"}), None),
    EventType.HOLD_EXTENDED: (OPEN_STATUSES, None),  # API 1.1
}
# Events whose effect goes beyond the status: line quantities, stock (oms_sim/items.py).
ITEM_EVENTS = frozenset({EventType.LINE_SHORT, EventType.RETURNED_TO_SHELF, EventType.HOLD_EXTENDED,
                         EventType.PICKED_UP})


def decide(store: StoreSim, event: Event, event_id: str, now: str
           ) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The answer to one event, and the order's new snapshot when it was accepted (to publish)."""

    def answer(status: str, code: str | None = None, message: str | None = None,
               order: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any] | None]:
        # ``order`` is a stored snapshot: shared, never edited (see state's module docstring).
        result = {"event_id": event_id, "status": status, "code": code, "message": message,
                  "order": order}
        return result, None

    if event_id in store.applied:
        return answer("duplicate")
    order = store.orders.get(event.order_id)
    if order is None:
        return answer("rejected", "unknown_order", f"no order {event.order_id} in this store")
    if event.based_on_version > order["version"]:
        return answer("rejected", "future_version", "based_on_version is newer than the order")
    problem = line_problem(order, event) or items.line_problem(order, event)
    if problem:
        return answer("rejected", "bad_line", problem)
    applied_seq = store.max_seq.get(event.order_id)
    if applied_seq is not None and event.seq < applied_seq:
        store.ordering_violations.append(
            {
                "order_id": event.order_id,
                "event_id": event_id,
                "seq": event.seq,
                "after_seq": applied_seq,
            }
        )
    allowed_from, status_after = TRANSITIONS[event.type]
    if order["status"] not in allowed_from:
        message = f"{event.type} cannot apply to an order that is {order['status']}"
        return answer("conflict", "wrong_state", message, order)
    store.applied.add(event_id)
    store.max_seq[event.order_id] = max(event.seq, applied_seq or event.seq)
    # A new top-level dict; lines, customer... are shared with the previous version.
    snapshot = {**order, "status": status_after or order["status"], "version": order["version"] + 1,
                "updated_at": now}
    if event.type in ITEM_EVENTS:
        snapshot.update(items.apply(order, event, store.stock, status_after))
    return {"event_id": event_id, "status": "accepted", "code": None, "message": None,
            "order": None}, snapshot


def line_problem(order: dict[str, Any], event: Event) -> str | None:
    data = event.data
    lines = data.lines if isinstance(data, StagedData | ReturnedData) else ()
    if not lines:
        return None
    ordered = {line["line_id"]: line["quantity"] for line in order["lines"]}
    for line in lines:
        # Not getattr with a default: a missing attribute goes through pydantic's slow __getattr__.
        quantity = line.quantity_picked if isinstance(line, PickedLine) else line.quantity
        if line.line_id not in ordered:
            return f"no line {line.line_id} in order {order['order_id']}"
        if quantity > ordered[line.line_id]:
            return f"line {line.line_id}: {quantity} is more than the {ordered[line.line_id]} ordered"
    return None
