"""Printers and scanners: a printer the daemon owns is reported as the daemon last saw it;
otherwise each device is asked for its status and let go again."""

from __future__ import annotations

import os
import socket
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from agent.ops.checks import FAIL, PASS, WARN, Check
from agent.store import sync_state
from agent.store.daemon_lock import daemon_running
from agent.store.sync_state import DeviceKind
from config.errors import StoreAgentError
from config.settings import Printer, Settings
from drivers.printer_transport import PRINTABLE, PrinterStatus, make_transport
from drivers.scanner_serial import open_port


def printer_states(settings: Settings) -> dict[str, dict[str, Any]]:
    """What the daemon last saw of each printer, when it runs ({} when it does not)."""
    try:
        daemon_up = daemon_running(Path(settings.storage.path))
    except OSError:  # the daemon check says why
        daemon_up = False
    return _daemon_printer_states(settings) if daemon_up else {}


def _daemon_printer_states(settings: Settings) -> dict[str, Any]:
    db = Path(settings.storage.path)
    try:
        conn = sqlite3.connect(f"file:{quote(str(db.resolve()))}?mode=rw", uri=True, timeout=5)
        try:
            return sync_state.device_states(conn, DeviceKind.PRINTER)
        finally:
            conn.close()
    except (sqlite3.Error, ValueError):
        return {}


def _printer_fix(status: str, kind: str) -> str:
    return {
        "paper_out": "load a paper roll",
        "paper_near_end": "change the paper roll soon",
        "cover_open": "close the printer cover",
        "offline": "clear the printer's error (cutter jam, feed button) or power-cycle it",
        "not_answering": "power-cycle the printer; check the cable and that nothing else holds it",
    }.get(status, "check the cable or network and the address in [[printers]]"
          + ("; add the service user to group dialout (serial) or lp" if kind != "network" else ""))


def check_printer(printer: Printer, seen: dict[str, Any] | None) -> Check:
    name = f"printer:{printer.id}"
    if seen and seen.get("status") not in (None, "unknown"):
        status, how = seen["status"], f"as seen by the daemon since {seen.get('since')}"
    else:
        try:
            status = make_transport(printer.kind, printer.address).status().value
        except StoreAgentError as exc:
            return Check(name, FAIL, f"{printer.address}: {exc}", "fix the printer's kind and address")
        how = "asked just now"
    if status == PrinterStatus.READY:
        return Check(name, PASS, f"{printer.address} ready ({how})")
    result = WARN if status in PRINTABLE else FAIL
    return Check(name, result, f"{printer.address}: {status.replace('_', ' ')} ({how})",
                 _printer_fix(status, printer.kind))


def check_scanner(station_id: str, scanner: str) -> Check:
    name = f"scanner:{station_id}"
    if scanner == "keyboard":
        return Check(name, PASS, "keyboard-wedge scanner: nothing to check")
    if "://" in scanner:
        parts = urlsplit(scanner)
        try:
            socket.create_connection((parts.hostname, parts.port), timeout=2).close()
        except (OSError, TypeError, ValueError) as exc:
            return Check(name, FAIL, f"{scanner}: cannot connect ({exc})",
                         "check the scanner bridge is on and the URL in [[stations]]")
        return Check(name, PASS, f"{scanner} answers")
    if not os.path.exists(scanner):
        return Check(name, FAIL, f"{scanner} is not present",
                     "plug the scanner in; check the udev rule that names it and the path in"
                     " [[stations]]")
    try:
        open_port(scanner, exclusive=False).close()
    except StoreAgentError as exc:
        return Check(name, FAIL, f"{scanner}: {exc}",
                     "add the service user to group dialout: usermod -aG dialout store-agent")
    return Check(name, PASS, f"{scanner} opens")
