"""Appending events to the outbox, inside the transaction of the action that caused them."""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from dataclasses import dataclass

EVENT_TYPES = (
    "order.staged",
    "order.picked_up",
    "order.cancelled",
    "order.returned_to_shelf",
)


def uuid7() -> str:
    """A time-ordered UUID (RFC 9562 version 7).

    Random v4 ids land on a random leaf of the event_id index, dirtying one
    more page per action; v7 ids append to the rightmost leaf.
    """
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))


@dataclass(frozen=True)
class AppendedEvent:
    event_id: str
    seq: int
    status: str


def order_is_blocked(conn: sqlite3.Connection, order_id: str) -> bool:
    """A dead letter not yet resolved, or events already held, hold the order's later events."""
    return (
        conn.execute(
            "SELECT 1 FROM outbox WHERE order_id = ? AND"
            " ((status = 'dead' AND resolved_at IS NULL) OR status = 'held') LIMIT 1",
            (order_id,),
        ).fetchone()
        is not None
    )


def append_event(
    conn: sqlite3.Connection,
    *,
    order_id: str,
    type: str,
    data: dict,
    occurred_at: str,
    associate_id: str,
    device_id: str,
    based_on_version: int,
    override_by: str | None = None,
) -> AppendedEvent:
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}")
    # The id is minted once, here, and stored: every retry sends the same one.
    event_id = uuid7()
    status = "held" if order_is_blocked(conn, order_id) else "pending"
    cur = conn.execute(
        "INSERT INTO outbox (event_id, order_id, type, data, occurred_at, associate_id,"
        " device_id, based_on_version, override_by, status)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            event_id,
            order_id,
            type,
            json.dumps(data, separators=(",", ":")),
            occurred_at,
            associate_id,
            device_id,
            based_on_version,
            override_by,
            status,
        ),
    )
    return AppendedEvent(event_id=event_id, seq=cur.lastrowid, status=status)
