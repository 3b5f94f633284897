"""The product's words, each defined once: store order states, event types, reasons.

They live in the lowest layer, next to the error root, for the same reason: the
configuration (the status map names store states), the wire (``sync.models``),
the store (schema CHECK constraints), the order rules and the screens all use
them, and each layer may only import downwards. A ``StrEnum`` member *is* its
string, so values read from SQLite or JSON compare equal without conversion.

Which action each state allows is a rule, not a word: ``agent.orders.states``.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class OrderState(StrEnum):
    """Where an order is in the store (the contract's status map targets)."""

    TO_PICK = "TO_PICK"
    READY = "READY"
    PICKED_UP = "PICKED_UP"
    CANCELLED = "CANCELLED"


# Still the store's to work on: picking, or staged and waiting for the customer.
OPEN_STATES: tuple[OrderState, ...] = (OrderState.TO_PICK, OrderState.READY)
# Nothing more happens to the order itself (a return task may still be open).
TERMINAL_STATES: tuple[OrderState, ...] = (OrderState.PICKED_UP, OrderState.CANCELLED)


class EventType(StrEnum):
    """What the store tells the OMS (Store Sync API, events; v1.1 added the last two)."""

    STAGED = "order.staged"
    PICKED_UP = "order.picked_up"
    CANCELLED = "order.cancelled"
    RETURNED_TO_SHELF = "order.returned_to_shelf"
    LINE_SHORT = "order.line_short"
    HOLD_EXTENDED = "order.hold_extended"


class CancelReason(StrEnum):
    """Why the store cancels an order (``order.cancelled``)."""

    CUSTOMER_REFUSED = "customer_refused"
    NO_SHOW = "no_show"
    ITEM_UNAVAILABLE = "item_unavailable"
    DAMAGED = "damaged"
    OTHER = "other"


class ShortReason(StrEnum):
    """Why units of a line cannot be picked (``order.line_short``, v1.1)."""

    NOT_FOUND = "not_found"
    DAMAGED = "damaged"
    EXPIRED = "expired"
    OTHER = "other"


class Verification(StrEnum):
    """How a handoff was verified (``order.picked_up``)."""

    PICKUP_CODE = "pickup_code"
    MANAGER_OVERRIDE = "manager_override"


class CollectedBy(StrEnum):
    """Who collected the order (``order.picked_up``, v1.1)."""

    CUSTOMER = "customer"
    ALTERNATE = "alternate"


class IdCheckType(StrEnum):
    """The document seen at an age-restricted handoff (``order.picked_up``, v1.1)."""

    DRIVERS_LICENSE = "drivers_license"
    PASSPORT = "passport"
    NATIONAL_ID = "national_id"
    OTHER = "other"


def sql_in(values: Iterable[StrEnum]) -> str:
    """``('TO_PICK', 'READY')``: a list for SQL ``IN``, built from the enum, never retyped.

    Only ever enum members (fixed identifiers with no quote in them) go here, so
    inlining them is safe; use it for CHECK constraints in new migrations and for
    fixed filters in queries."""
    members = list(values)
    for member in members:
        if not isinstance(member, StrEnum) or "'" in member.value:
            raise ValueError(f"sql_in takes enum members, got {member!r}")
    return "(" + ", ".join(f"'{member.value}'" for member in members) + ")"


def check_in(column: str, values: Iterable[StrEnum]) -> str:
    """``CHECK (state IN ('TO_PICK', ...))`` for a new migration's column."""
    if not column.isidentifier():
        raise ValueError(f"not a column name: {column!r}")
    return f"CHECK ({column} IN {sql_in(values)})"
