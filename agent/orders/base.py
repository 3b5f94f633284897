"""What every associate action shares: the store, the configuration, the station, and
the checks that run inside an action's BEGIN IMMEDIATE transaction.

The actions themselves live by what they do (picking.py, staging.py, pickup.py,
actions.py); ``agent.orders.actions.Actions`` gathers them into one object.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from agent.errors import InvalidActionError, UnknownAssociateError, UnknownOrderError
from agent.orders.outbox import AppendedEvent
from agent.printing.queue import enqueue_in
from agent.store import sync_state
from agent.store.connection import Store
from agent.store.sync_state import SyncKey
from config.settings import Associate, Settings


@dataclass(frozen=True)
class ActionResult:
    order_id: str
    state: str
    event: AppendedEvent
    message: str
    verification: str | None = None
    return_task_id: int | None = None


def one_line(text: str) -> str:
    """Outside text made safe for one line of a screen, a log or paper: no control characters."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


class ActionBase:
    """One store, one configuration, one station (the device every event names)."""

    def __init__(self, store: Store, settings: Settings, *, device_id: str | None = None,
                 print_station: str | None = None):
        self.store = store
        self.settings = settings
        self.device_id = device_id or settings.default_station
        # Whose printer: a handheld session (its own device id) prints at the PC's station.
        self.print_station = print_station or self.device_id

    def associate(self, associate_id: str) -> Associate:
        found = self.settings.associate(associate_id)
        if found is None:
            raise UnknownAssociateError(f"associate {associate_id!r} is not in the roster")
        return found

    @staticmethod
    def _order(conn: sqlite3.Connection, order_id: str) -> sqlite3.Row:
        row: sqlite3.Row | None = conn.execute(
            "SELECT * FROM orders WHERE order_id = ?", (order_id,)).fetchone()
        if row is None:
            raise UnknownOrderError(f"order {order_id!r} is not known to this store")
        return row

    @staticmethod
    def _open_task(conn: sqlite3.Connection, order_id: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = conn.execute(
            "SELECT * FROM return_tasks WHERE order_id = ? AND state = 'OPEN'", (order_id,)
        ).fetchone()
        return row

    def _cancelled_message(self, conn: sqlite3.Connection, order: sqlite3.Row) -> str:
        task = self._open_task(conn, order["order_id"])
        where = f"; its items are in bin {order['bin']}" if order["bin"] else ""
        todo = " and must go back to the shelf (return task open)" if task else ""
        return f"order {order['order_id']} was CANCELLED{where}{todo}: do not hand it over"

    def _print(self, conn: sqlite3.Connection, kind: str, order_id: str, payload: dict[str, Any],
               associate_id: str) -> None:
        """Queue paper for this station's printer in the action's own transaction.

        A station without a printer prints nothing; the action never waits for paper.
        """
        station = self.settings.station_by_id(self.print_station)
        if station is not None and station.printer is not None:
            enqueue_in(conn, self.settings, kind, station.printer, payload, order_id=order_id,
                       created_by=associate_id)

    def _check_bin(self, bin_id: str) -> str:
        bin_id = bin_id.strip()
        if not self.settings.pickup.is_bin_id(bin_id):
            raise InvalidActionError(
                f"bin {one_line(bin_id)[:40]!r} is not a bin id"
                f" (expected {self.settings.pickup.bin_pattern})"
            )
        return bin_id


def last_heard(conn: sqlite3.Connection) -> str | None:
    return sync_state.get(conn, SyncKey.LAST_FEED_SUCCESS_AT)
