"""Appending events to the outbox, inside the transaction of the action that caused them."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from config.vocabulary import EventType

_EVENT_TYPES = frozenset(EventType)  # a member equals its string, so plain str values match too


def uuid7() -> str:
    """A time-ordered UUID (RFC 9562 version 7).

    Random v4 ids land on a random leaf of the event_id index, dirtying one
    more page per action; v7 ids append to the rightmost leaf.
    """
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    # What str(uuid.UUID(int=value)) gives, without building the object: this
    # runs on every associate action.
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# json.dumps(data, separators=...) builds a new encoder on every call; one
# shared encoder gives the same text for about 4 µs less per action.
_compact_json = json.JSONEncoder(separators=(",", ":")).encode


@dataclass(frozen=True)
class AppendedEvent:
    event_id: str
    seq: int
    status: str


# A dead letter not yet resolved, or events already held, hold the order's
# later events. An SQL expression (the order id bound as ?1) so an action can
# read it in the same SELECT as the order itself.
ORDER_BLOCKED_SQL = (
    "EXISTS (SELECT 1 FROM outbox WHERE order_id = ?1 AND"
    " ((status = 'dead' AND resolved_at IS NULL) OR status = 'held'))"
)
_BLOCKED_QUERY = f"SELECT {ORDER_BLOCKED_SQL}"


def order_is_blocked(conn: sqlite3.Connection, order_id: str) -> bool:
    return bool(conn.execute(_BLOCKED_QUERY, (order_id,)).fetchone()[0])


def append_event(
    conn: sqlite3.Connection,
    *,
    order_id: str,
    type: EventType,
    data: dict[str, Any],
    occurred_at: str,
    associate_id: str,
    device_id: str,
    based_on_version: int,
    override_by: str | None = None,
    blocked: bool | None = None,
) -> AppendedEvent:
    """Insert one event; ``blocked`` is ORDER_BLOCKED_SQL's answer when the caller
    already read it in this same transaction (None: ask the database)."""
    if type not in _EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}")
    # The id is minted once, here, and stored: every retry sends the same one.
    event_id = uuid7()
    if blocked is None:
        blocked = order_is_blocked(conn, order_id)
    status = "held" if blocked else "pending"
    cur = conn.execute(
        "INSERT INTO outbox (event_id, order_id, type, data, occurred_at, associate_id,"
        " device_id, based_on_version, override_by, status)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            event_id,
            order_id,
            type,
            _compact_json(data),
            occurred_at,
            associate_id,
            device_id,
            based_on_version,
            override_by,
            status,
        ),
    )
    assert cur.lastrowid is not None  # an INSERT into a rowid table always has one
    return AppendedEvent(event_id=event_id, seq=cur.lastrowid, status=status)
