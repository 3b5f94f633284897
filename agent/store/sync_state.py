"""Small key/value facts about sync and devices, kept in SQLite so every process sees them.

Every key is named here (``SyncKey``) or is a device's state under its kind's
prefix (``printer:<id>``, ``scanner:<id>``); ``get``/``put`` refuse any other
key, so a typo fails in tests instead of writing a fact nobody reads. Nothing
else in the code touches the ``sync_state`` table: read and write through the
accessors below.

"Online" is defined once, here (``is_online``): the last OMS call succeeded
*and* it was recent, so a stopped daemon never leaves the store claiming to be
online.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from agent.clock import age_s


class SyncKey(StrEnum):
    ONLINE = "online"                              # "1"/"0": did the last OMS call succeed?
    LAST_CONTACT_AT = "last_contact_at"            # when the OMS last answered
    LAST_ERROR = "last_error"                      # why the last OMS call failed (clipped)
    CREDENTIALS_REJECTED = "credentials_rejected"  # "1": the sender's last call got 401/403
    CURSOR = "cursor"                              # the change feed's position
    LAST_FEED_SUCCESS_AT = "last_feed_success_at"  # the offline handoff policy's "last heard"
    LAST_CHANGE_AT = "last_change_at"              # last feed page that carried a change
    RECONCILE_REQUESTED = "reconcile_requested"    # "1": run a reconciliation soon (410, F5)
    LAST_RECONCILE_AT = "last_reconcile_at"
    MISMATCHES_LAST_HOUR = "mismatches_last_hour"
    LAST_BACKUP_AT = "last_backup_at"
    LAST_BACKUP_PATH = "last_backup_path"
    LAST_OFFSITE_BACKUP_AT = "last_offsite_backup_at"  # a backup last reached its second place
    LAST_OFFSITE_ERROR = "last_offsite_error"
    DAEMON_STARTED_AT = "daemon_started_at"
    SCHEMA_MIGRATED_BY = "schema_migrated_by"      # the release that last migrated the schema
    PURGED_ACKED_EVENTS = "purged_acked_events"    # retention counters (metrics)
    PURGED_DEAD_EVENTS = "purged_dead_events"


class DeviceKind(StrEnum):
    """Device states live under ``<kind>:<device id>``, as JSON."""

    PRINTER = "printer"
    SCANNER = "scanner"


# Longer than the longest long-poll (30 s) plus a request deadline, so a
# healthy idle daemon never flickers offline.
ONLINE_WINDOW_S = 90.0

_KEYS = frozenset(SyncKey)
_KINDS = frozenset(DeviceKind)


def _checked(key: str) -> str:
    if key in _KEYS:
        return key
    kind, sep, device_id = key.partition(":")
    if sep and device_id and kind in _KINDS:
        return key
    raise ValueError(f"sync_state has no key {key!r}: name it in agent.store.sync_state")


def put(conn: sqlite3.Connection, **values: str | None) -> None:
    """Set keys (None stores NULL: the fact is known to be absent, e.g. no last error)."""
    for key, value in values.items():
        conn.execute(
            "INSERT INTO sync_state (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (_checked(key), value),
        )


def put_all(conn: sqlite3.Connection, values: Mapping[str, str | None]) -> None:
    put(conn, **dict(values))


def get(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM sync_state WHERE key = ?", (_checked(key),)).fetchone()
    return row[0] if row else None


def get_all(conn: sqlite3.Connection) -> dict[str, str | None]:
    """Every named fact (device states excluded: see ``device_states``), in one read."""
    rows = conn.execute("SELECT key, value FROM sync_state").fetchall()
    return {key: value for key, value in rows if key in _KEYS}


def delete(conn: sqlite3.Connection, key: str) -> None:
    conn.execute("DELETE FROM sync_state WHERE key = ?", (_checked(key),))


def add(conn: sqlite3.Connection, key: SyncKey, n: int) -> None:
    """Add ``n`` to a counter."""
    if n:
        put(conn, **{key: str(int(get(conn, key) or 0) + n)})


def flag(conn: sqlite3.Connection, key: SyncKey) -> bool:
    return get(conn, key) == "1"


# --- online -------------------------------------------------------------------


def mark_online(conn: sqlite3.Connection, now: str) -> None:
    """The OMS answered: online, contact now, no error."""
    put(conn, online="1", last_contact_at=now, last_error=None)


def mark_offline(conn: sqlite3.Connection, error: str) -> bool:
    """The OMS could not be used. Returns whether the store was online until now."""
    was_online = reported_online(conn)
    put(conn, online="0", last_error=error[:500])
    return was_online


def reported_online(conn: sqlite3.Connection) -> bool:
    """What the last OMS call said, however old (the daemon's own view while it runs)."""
    return flag(conn, SyncKey.ONLINE)


def is_online(conn: sqlite3.Connection, now: datetime) -> bool:
    """Online for everybody who reports it (status, metrics, screens): the last OMS call succeeded
    and the OMS answered within ``ONLINE_WINDOW_S``."""
    return online_from(get_all(conn), now)


def online_from(facts: Mapping[str, str | None], now: datetime) -> bool:
    """``is_online`` on facts already read with ``get_all`` (one read for a whole report)."""
    return facts.get(SyncKey.ONLINE) == "1" and reachable(facts.get(SyncKey.LAST_CONTACT_AT), now)


def reachable(last_contact_at: str | None, now: datetime) -> bool:
    """Did the OMS answer within the online window?"""
    contact = age_s(last_contact_at, now)
    return contact is not None and contact <= ONLINE_WINDOW_S


# --- device states ----------------------------------------------------------------


def put_device(conn: sqlite3.Connection, kind: DeviceKind, device_id: str, state: Mapping[str, Any]
               ) -> None:
    put(conn, **{f"{kind}:{device_id}": json.dumps(dict(state))})


def device_state(conn: sqlite3.Connection, kind: DeviceKind, device_id: str) -> dict[str, Any]:
    """The stored state, or {} when there is none or it cannot be read."""
    return _loads(get(conn, f"{kind}:{device_id}")) or {}


def device_states(conn: sqlite3.Connection, kind: DeviceKind) -> dict[str, dict[str, Any]]:
    """``{device id: state}`` for every stored device of ``kind``, by id; unreadable ones skipped."""
    prefix = f"{kind}:"
    out = {}
    for key, value in conn.execute(
            "SELECT key, value FROM sync_state WHERE key >= ? AND key < ? ORDER BY key",
            (prefix, prefix[:-1] + chr(ord(":") + 1))):
        state = _loads(value)
        if state is not None:
            out[key[len(prefix):]] = state
    return out


def delete_device(conn: sqlite3.Connection, kind: DeviceKind, device_id: str) -> None:
    delete(conn, f"{kind}:{device_id}")


def _loads(value: str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        data = json.loads(value)
    except (TypeError, ValueError):
        return None
    return data if isinstance(data, dict) else None
