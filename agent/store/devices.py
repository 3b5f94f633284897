"""Device states shared between processes: the UI owns its station's scanner, the daemon
its printers, and `status`, the heartbeat and metrics read both from here."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import TYPE_CHECKING, Any

from agent.clock import iso
from agent.store import sync_state
from agent.store.connection import Store
from agent.store.sync_state import DeviceKind
from config.settings import Settings

if TYPE_CHECKING:
    from drivers.scan_parse import ScanPatterns

def record_scanner(store: Store, station_id: str, *, state: str, port: str, since: datetime,
                   error: str | None) -> None:
    with store.write() as conn:
        sync_state.put_device(conn, DeviceKind.SCANNER, station_id,
                              {"status": state, "port": port, "since": iso(since), "reason": error})


def scanners(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return [{"id": station_id, "kind": "scanner", **data}
            for station_id, data in sync_state.device_states(conn, DeviceKind.SCANNER).items()]


def scan_patterns(settings: Settings) -> ScanPatterns:
    """The store's label formats from ``[scanning]``; a bin id valid for staging is a bin when expected."""
    # Imported here: biip's GS1 tables cost the daemon and every CLI call ~10 MB they never use.
    from drivers.scan_parse import ScanPatterns
    return ScanPatterns.from_settings(settings.scanning, bin_ids=settings.pickup.bin_pattern)


def serial_terminators(settings: Settings) -> bytes:
    return settings.scanning.serial_terminators.encode("ascii")
