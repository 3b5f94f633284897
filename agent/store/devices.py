"""Device states shared between processes: the UI owns its station's scanner, the daemon
its printers, and `status`, the heartbeat and metrics read both from here."""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING

from agent.clock import iso
from agent.store import sync_state
from agent.store.connection import Store

if TYPE_CHECKING:
    from drivers.scan_parse import ScanPatterns

SCANNER_PREFIX = "scanner:"


def record_scanner(store: Store, station_id: str, *, state: str, port: str, since, error: str | None
                   ) -> None:
    value = json.dumps({"status": state, "port": port, "since": iso(since), "reason": error})
    with store.write() as conn:
        sync_state.put(conn, **{f"{SCANNER_PREFIX}{station_id}": value})


def scanners(conn: sqlite3.Connection) -> list[dict]:
    out = []
    for key, value in conn.execute("SELECT key, value FROM sync_state WHERE key LIKE 'scanner:%'"
                                   " ORDER BY key"):
        try:
            data = json.loads(value)
        except (TypeError, ValueError):
            continue
        out.append({"id": key[len(SCANNER_PREFIX):], "kind": "scanner", **data})
    return out


def scan_patterns(settings) -> ScanPatterns:
    """The store's label formats from ``[scanning]``; a bin id valid for staging is a bin when expected."""
    # Imported here: biip's GS1 tables cost the daemon and every CLI call ~10 MB they never use.
    from drivers.scan_parse import ScanPatterns
    return ScanPatterns.from_settings(settings.scanning, bin_ids=settings.pickup.bin_pattern)


def serial_terminators(settings) -> bytes:
    return settings.scanning.serial_terminators.encode("ascii")
