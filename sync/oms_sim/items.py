"""The reference OMS's side of Store Sync API 1.1: line quantities and the store's stock.

Pure functions over the stored snapshot dicts (never edited in place: each returns
new line dicts) and the store's availability table, called by ``SimState`` under
its lock. A short pick lowers the store's availability of the SKU at once and
cancels those units on the order (``quantity_cancelled``); a return to shelf
raises it; a partial pickup counts ``quantity_picked_up`` and leaves the order
``ready_for_pickup`` until every unit not cancelled is handed over.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from sync.models import (
    Event,
    HoldExtendedData,
    LineShortData,
    PickedUpData,
    ReturnedData,
    to_rfc3339,
)

DEFAULT_AVAILABILITY = 1000
"""What the store has of a SKU it never counted: enough that tests see every change."""


@dataclass
class Stock:
    """Per-SKU availability of one store, and a log of every change (for benchmarks)."""

    available: dict[str, int] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)
    default: int = DEFAULT_AVAILABILITY

    def of(self, sku: str) -> int:
        return self.available.get(sku, self.default)

    def change(self, sku: str, delta: int, *, event_id: str, reason: str) -> None:
        # Never below zero: a store cannot have fewer than none on the shelf.
        self.available[sku] = max(0, self.of(sku) + delta)
        self.log.append({"event_id": event_id, "sku": sku, "delta": delta, "reason": reason,
                         "available": self.available[sku], "at": time.time()})
        del self.log[:-20_000]

    def report(self, skus: list[str] | None) -> list[dict[str, Any]]:
        wanted = skus if skus else sorted(self.available)
        return [{"sku": sku, "available": self.of(sku)} for sku in wanted]


def _open_units(line: dict[str, Any]) -> int:
    return int(line["quantity"]) - int(line.get("quantity_cancelled") or 0) - int(
        line.get("quantity_picked_up") or 0)


def line_problem(order: dict[str, Any], event: Event) -> str | None:
    """Why a 1.1 event's lines do not fit the order (rejected, bad_line), or None."""
    data = event.data
    if not (isinstance(data, LineShortData) or (isinstance(data, PickedUpData) and data.lines)):
        return None
    asked = [(ln.line_id, ln.quantity) for ln in data.lines or ()]
    by_id = {line["line_id"]: line for line in order["lines"]}
    for line_id, quantity in asked:
        line = by_id.get(line_id)
        if line is None:
            return f"no line {line_id} in order {order['order_id']}"
        if quantity > _open_units(line):
            return f"line {line_id}: {quantity} is more than the {_open_units(line)} still open"
    return None


def apply(order: dict[str, Any], event: Event, stock: Stock, status_after: str | None,
          ) -> dict[str, Any]:
    """The fields of the order's next snapshot that a 1.1 event changes (status included)."""
    data = event.data
    event_id = str(event.event_id)
    sku_of = {line["line_id"]: line["sku"] for line in order["lines"]}
    if isinstance(data, LineShortData):
        short = {ln.line_id: ln.quantity for ln in data.lines}
        for line_id, quantity in short.items():
            stock.change(sku_of[line_id], -quantity, event_id=event_id, reason="line_short")
        return {"lines": [
            {**line, "quantity_cancelled": int(line.get("quantity_cancelled") or 0)
             + short[line["line_id"]]} if line["line_id"] in short else line
            for line in order["lines"]]}
    if isinstance(data, ReturnedData):
        for ln in data.lines:
            if ln.quantity and ln.line_id in sku_of:
                stock.change(sku_of[ln.line_id], ln.quantity, event_id=event_id,
                             reason="returned_to_shelf")
        return {}
    if isinstance(data, HoldExtendedData):
        return {"hold_until": to_rfc3339(data.until)}
    if isinstance(data, PickedUpData):
        handed = ({ln.line_id: ln.quantity for ln in data.lines} if data.lines
                  else {line["line_id"]: _open_units(line) for line in order["lines"]})
        lines = [
            {**line, "quantity_picked_up": int(line.get("quantity_picked_up") or 0)
             + handed[line["line_id"]]} if handed.get(line["line_id"]) else line
            for line in order["lines"]]
        done = all(_open_units(line) <= 0 for line in lines)
        return {"lines": lines, "status": status_after if done else order["status"]}
    return {}
