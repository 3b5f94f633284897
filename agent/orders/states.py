"""Which associate action each order state allows: the one rule the actions enforce and the
screens ask before they offer a key (the words themselves are in ``config.vocabulary``)."""

from __future__ import annotations

from enum import StrEnum

from config.vocabulary import OPEN_STATES, OrderState


class OrderAction(StrEnum):
    PICK = "pick"                    # scan items and record short lines
    STAGE = "stage"
    PICKUP = "pickup"                # whole or partial handoff
    CANCEL = "cancel"
    EXTEND_HOLD = "extend_hold"
    RETURN_TO_SHELF = "return_to_shelf"


_ALLOWED_IN: dict[OrderAction, tuple[OrderState, ...]] = {
    # Picking ends with staging; a staged order is moved by staging again, not re-picked.
    OrderAction.PICK: (OrderState.TO_PICK,),
    # Staging again moves a READY order to another bin.
    OrderAction.STAGE: OPEN_STATES,
    OrderAction.PICKUP: (OrderState.READY,),
    OrderAction.CANCEL: OPEN_STATES,
    # Only an open order has a hold to extend.
    OrderAction.EXTEND_HOLD: OPEN_STATES,
    # Only a cancelled order's staged items go back, and only while their task is open.
    OrderAction.RETURN_TO_SHELF: (OrderState.CANCELLED,),
}


def allows(action: OrderAction, state: str | None, *, return_task_open: bool = False) -> bool:
    """May ``action`` run on an order in ``state``? (``return_task_open``: it has an open task.)"""
    if state not in _ALLOWED_IN[action]:
        return False
    return return_task_open if action is OrderAction.RETURN_TO_SHELF else True


def allowed_actions(state: str | None, *, return_task_open: bool = False) -> frozenset[OrderAction]:
    return frozenset(a for a in OrderAction if allows(a, state, return_task_open=return_task_open))
