"""How long each open order and each waiting curbside customer has waited, against its target.

An order's clock starts when it was released to the store (the first
snapshot the store received of it as TO_PICK) and runs until it is READY.
Its target is the time the OMS promised the customer (``promised_ready_at``,
Store Sync API 1.1) when the snapshot has one, else release +
``[sla] ready_within_min``. It is ``nearing`` from ``[sla] nearing_min``
before the target and ``late`` from the target on.

A checked-in curbside customer's clock starts at check-in and runs until the
handoff; past ``[sla] curbside_wait_min`` the wait is ``late``.

Pure functions of the database and ``now``: screens call them on every
refresh and tests drive ``now`` instead of waiting.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from agent.clock import parse_iso, utc_now
from agent.store.connection import Store
from config.settings import SlaSettings
from config.vocabulary import OPEN_STATES, OrderState, sql_in

TimerState = Literal["on_time", "nearing", "late"]
# Most urgent first, for sorting and for "the worst of these".
URGENCY: dict[str, int] = {"late": 0, "nearing": 1, "on_time": 2}


@dataclass(frozen=True)
class OrderTimer:
    """One open (TO_PICK) order's clock."""

    order_id: str
    state: TimerState
    started_at: datetime       # released to the store
    target_at: datetime        # promised_ready_at, else started_at + ready_within_min
    target_source: Literal["promised", "sla"]
    waited_s: float            # now - started_at
    remaining_s: float         # target_at - now; negative once late
    fulfillment: str           # pickup or curbside

    @property
    def late_by_s(self) -> float:
        return max(0.0, -self.remaining_s)


@dataclass(frozen=True)
class ArrivalTimer:
    """One checked-in curbside customer's wait, until the handoff."""

    order_id: str
    state: TimerState
    arrived_at: datetime
    waited_s: float
    remaining_s: float         # until [sla] curbside_wait_min; negative once late
    bay: str | None
    vehicle: str | None
    order_state: str           # TO_PICK or READY: is the order even ready to go out?


def classify(remaining_s: float, sla: SlaSettings) -> TimerState:
    if remaining_s <= 0:
        return "late"
    if remaining_s <= sla.nearing_min * 60:
        return "nearing"
    return "on_time"


def order_timer(order_id: str, *, released_at: str, promised_ready_at: str | None, now: datetime,
                sla: SlaSettings, fulfillment: str = "pickup") -> OrderTimer:
    """The timer of one order from its stored times (RFC 3339 strings)."""
    started = parse_iso(released_at)
    source: Literal["promised", "sla"]
    if promised_ready_at:
        target, source = parse_iso(promised_ready_at), "promised"
    else:
        target, source = started + timedelta(minutes=sla.ready_within_min), "sla"
    remaining = (target - now).total_seconds()
    return OrderTimer(order_id=order_id, state=classify(remaining, sla), started_at=started,
                      target_at=target, target_source=source,
                      waited_s=max(0.0, (now - started).total_seconds()), remaining_s=remaining,
                      fulfillment=fulfillment)


# An order the store first heard of already past TO_PICK has no release time:
# its clock starts when the store heard of it (received_at of the first snapshot).
_OPEN_ORDERS_SQL = (
    "SELECT o.order_id, o.fulfillment, COALESCE(t.released_at, o.received_at) AS released_at,"
    " COALESCE(t.promised_ready_at, json_extract(o.snapshot, '$.promised_ready_at'))"
    " AS promised_ready_at"
    " FROM orders o LEFT JOIN order_times t ON t.order_id = o.order_id"
    f" WHERE o.state = '{OrderState.TO_PICK}'"
)


def open_order_timers(conn: Store | sqlite3.Connection, sla: SlaSettings, *,
                      now: datetime | None = None) -> list[OrderTimer]:
    """Every TO_PICK order's timer, most urgent first (earliest target, then order id)."""
    now = now or utc_now()
    db = conn.conn if isinstance(conn, Store) else conn
    timers = [order_timer(r["order_id"], released_at=r["released_at"],
                          promised_ready_at=r["promised_ready_at"], now=now, sla=sla,
                          fulfillment=r["fulfillment"])
              for r in db.execute(_OPEN_ORDERS_SQL)]
    timers.sort(key=lambda t: (t.target_at, t.order_id))
    return timers


def timers_by_order(conn: Store | sqlite3.Connection, sla: SlaSettings, *,
                    now: datetime | None = None) -> dict[str, OrderTimer]:
    """The same timers keyed by order id, for a screen that draws rows in its own order."""
    return {t.order_id: t for t in open_order_timers(conn, sla, now=now)}


def arrival_timers(conn: Store | sqlite3.Connection, sla: SlaSettings, *,
                   now: datetime | None = None) -> list[ArrivalTimer]:
    """Every checked-in customer whose order is still open, longest wait first."""
    now = now or utc_now()
    db = conn.conn if isinstance(conn, Store) else conn
    limit_s = sla.curbside_wait_min * 60
    out = []
    for r in db.execute("SELECT order_id, state, arrived_at, arrival_bay, arrival_vehicle"
                        f" FROM orders WHERE state IN {sql_in(OPEN_STATES)}"
                        " AND arrived_at IS NOT NULL ORDER BY arrived_at, order_id"):
        arrived = parse_iso(r["arrived_at"])
        waited = max(0.0, (now - arrived).total_seconds())
        remaining = limit_s - waited
        state: TimerState = "late" if remaining <= 0 else (
            "nearing" if remaining <= min(60.0, limit_s / 2) else "on_time")
        out.append(ArrivalTimer(order_id=r["order_id"], state=state, arrived_at=arrived,
                                waited_s=waited, remaining_s=remaining, bay=r["arrival_bay"],
                                vehicle=r["arrival_vehicle"], order_state=r["state"]))
    return out


def describe(timer: OrderTimer | ArrivalTimer) -> str:
    """'12 min', '-3 min' (late by 3): a short label for a queue column."""
    minutes = round(timer.remaining_s / 60)
    return f"{minutes} min" if minutes >= 0 else f"{-minutes} min late"
