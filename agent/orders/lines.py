"""An order's lines and their quantities (Store Sync API 1.1), read inside a transaction.

Units of one line, as the columns of ``order_lines`` hold them (agent/store/schema.py m004):
``quantity`` ordered; ``quantity_cancelled`` cancelled by the OMS; ``quantity_short``
recorded short here; ``quantity_verified`` scanned or confirmed by the picker;
``quantity_picked`` staged in the bins (None until staged); ``quantity_picked_up``
handed over; ``quantity_returned`` put back on the shelf.

The OMS answers a short pick by cancelling those units (``quantity_cancelled`` in its
next snapshot), so the two usually count the same units: what the order still
wants is ``quantity - max(short, cancelled)``, never less than zero.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from config.vocabulary import OrderState

LINE_COLUMNS = (
    "line_id, position, sku, gtin, description, quantity, quantity_cancelled, quantity_short,"
    " quantity_verified, quantity_picked, quantity_picked_up, quantity_returned, location,"
    " pick_sequence, age_restricted"
)


@dataclass(frozen=True)
class Line:
    line_id: str
    position: int
    sku: str
    gtin: str | None
    description: str
    quantity: int
    cancelled: int
    short: int
    verified: int
    picked: int | None
    picked_up: int
    returned: int
    location: str | None
    pick_sequence: int | None
    age_restricted: bool

    @property
    def wanted(self) -> int:
        """Units the order still wants from the shelf: ordered less short or cancelled."""
        return max(0, self.quantity - max(self.short, self.cancelled))

    @property
    def to_pick(self) -> int:
        """Units neither picked (verified) nor recorded short yet."""
        return max(0, self.wanted - self.verified)

    def remaining_to_hand_over(self) -> int:
        """Units in the bins not handed over yet. Staged elsewhere (READY from the OMS,
        nothing recorded here): what the OMS has not cancelled."""
        staged = self.picked if self.picked is not None else self.quantity - self.cancelled
        return max(0, staged - self.picked_up)

    def matches(self, code: str) -> bool:
        """A scan is this line's item: its GTIN (any length, compared as GTIN-14) or its SKU."""
        code = code.strip()
        if self.gtin is not None and code.isdigit() and len(code) <= 14:
            return code.zfill(14) == self.gtin.zfill(14)
        return code.upper() == self.sku.upper()

    def to_json(self) -> dict[str, Any]:
        return {
            "line_id": self.line_id, "sku": self.sku, "gtin": self.gtin,
            "description": self.description, "quantity": self.quantity,
            "quantity_cancelled": self.cancelled, "quantity_short": self.short,
            "quantity_verified": self.verified, "quantity_picked": self.picked,
            "quantity_picked_up": self.picked_up, "quantity_returned": self.returned,
            "location": self.location, "pick_sequence": self.pick_sequence,
            "age_restricted": self.age_restricted,
        }


def read_lines(conn: sqlite3.Connection, order_id: str) -> list[Line]:
    """The order's lines in the OMS's order (``position``)."""
    return [
        Line(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
             r[13], bool(r[14]))
        for r in conn.execute(
            f"SELECT {LINE_COLUMNS} FROM order_lines WHERE order_id = ? ORDER BY position",
            (order_id,))
    ]


def _natural(text: str | None) -> tuple[Any, ...]:
    # "A2-10" after "A2-9": digits compare as numbers.
    if text is None:
        return ((1,),)
    return tuple((0, int(part)) if part.isdigit() else (0, part.upper())
                 for part in re.split(r"(\d+)", text) if part)


def pick_path(lines: Iterable[Line]) -> list[Line]:
    """The walk through the store: ``pick_sequence``, else ``location`` in natural
    order, else the order's own line order (the contract's rule)."""
    return sorted(lines, key=lambda ln: (ln.pick_sequence is None, ln.pick_sequence or 0,
                                         _natural(ln.location), ln.position))


def units_to_return(lines: Iterable[Line], *, order_state: str) -> list[dict[str, Any]]:
    """What physically is in the store for this order and must go back to the shelf.

    Staged here: what was staged and not handed over. Mid-pick: what the picker holds.
    READY from the OMS with nothing recorded here: everything the OMS still counts.
    Units already returned are never returned twice.
    """
    lines = list(lines)
    staged_here = any(ln.picked is not None for ln in lines)
    picking = any(ln.verified for ln in lines)
    out = []
    for ln in lines:
        if staged_here:
            units = (ln.picked or 0) - ln.picked_up
        elif picking:
            units = ln.verified
        elif order_state == OrderState.READY:
            units = ln.quantity - ln.cancelled - ln.picked_up
        else:
            units = 0
        units -= ln.returned
        if units > 0:
            out.append({"line_id": ln.line_id, "quantity": units})
    return out


def open_return_task(conn: sqlite3.Connection, order: sqlite3.Row, *, reason: str,
                     now: str) -> int:
    """The items of a staged (or half-picked) order must go back: one open task per order."""
    existing = conn.execute(
        "SELECT id FROM return_tasks WHERE order_id = ? AND state = 'OPEN'", (order["order_id"],)
    ).fetchone()
    if existing:
        return int(existing[0])
    lines = units_to_return(read_lines(conn, order["order_id"]), order_state=order["state"])
    cur = conn.execute(
        "INSERT INTO return_tasks (order_id, state, bin, lines, reason, created_at)"
        " VALUES (?, 'OPEN', ?, ?, ?, ?)",
        (order["order_id"], order["bin"], json.dumps(lines), reason, now),
    )
    return int(cur.lastrowid or 0)


def has_units_in_hand(conn: sqlite3.Connection, order_id: str) -> bool:
    """A picker has verified items of this order that are not staged yet (mid-pick)."""
    return conn.execute(
        "SELECT 1 FROM order_lines WHERE order_id = ? AND quantity_verified > 0"
        " AND quantity_picked IS NULL LIMIT 1", (order_id,)).fetchone() is not None


def receipt_items(conn: sqlite3.Connection, order_id: str,
                  handed: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """What went into the bag: ``handed`` units of this handoff, else the picked quantity
    where the store staged it (the whole line where it did not)."""
    out = []
    for ln in read_lines(conn, order_id):
        qty = handed.get(ln.line_id, 0) if handed is not None else (
            ln.picked if ln.picked is not None else ln.quantity)
        if qty:
            out.append({"description": ln.description, "quantity": qty, "sku": ln.sku})
    return out


def short_items(conn: sqlite3.Connection, order_id: str) -> list[dict[str, Any]]:
    """What the customer does not get, and why, for the receipt."""
    return [
        {"description": r[0], "quantity": r[1], "sku": r[2], "reason": r[3]}
        for r in conn.execute(
            "SELECT l.description, SUM(s.quantity), l.sku, group_concat(DISTINCT s.reason)"
            " FROM line_shorts s JOIN order_lines l"
            " ON l.order_id = s.order_id AND l.line_id = s.line_id"
            " WHERE s.order_id = ? GROUP BY s.line_id ORDER BY l.position", (order_id,))
    ]
