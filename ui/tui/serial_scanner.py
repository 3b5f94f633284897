"""A station's serial, USB-CDC or Bluetooth scanner, feeding the same path as wedge typing.

The reader thread (drivers.scanner_serial) never touches the UI: frames and
state changes cross into the app with call_from_thread, where a frame is
classified and posted from the current screen's scan field, exactly as if it
had been typed there. The state is also written to the database so `status`,
the heartbeat and other terminals can see an unplugged scanner.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from textual.app import App

from agent.store.connection import Store
from agent.store.devices import record_scanner, serial_terminators
from config.settings import Settings
from drivers.errors import DeviceError
from drivers.scanner_serial import ScannerStatus, SerialScanner

log = logging.getLogger(__name__)


class StationScanner:
    def __init__(self, app: App[Any], port: str, station_id: str, db_path: str | Path, *,
                 terminators: bytes = b"\r\n") -> None:
        self.app = app
        self.station_id = station_id
        self.db_path = db_path
        self.status_text = "starting"
        self.scanner = SerialScanner(port, self._frame, on_status=self._status, terminators=terminators)

    def start(self) -> None:
        self.scanner.start()

    def stop(self) -> None:
        self.scanner.stop()

    # --- reader thread ----------------------------------------------------------
    def _frame(self, text: str) -> None:
        self.app.call_from_thread(self._deliver, text)

    def _status(self, status: ScannerStatus) -> None:
        try:
            with Store(self.db_path) as store:
                record_scanner(store, self.station_id, state=status.state, port=status.port,
                               since=status.since, error=status.last_error)
        except Exception as exc:  # the scanner keeps working even if the status cannot be saved
            log.warning("scanner status not recorded: %s", exc)
        if status.state == "stopped":
            return  # reported by stop() on the app's own thread, as the app closes: nothing to show
        self.app.call_from_thread(self._show_status, str(status))

    # --- UI thread ----------------------------------------------------------------
    def _deliver(self, text: str) -> None:
        from textual.widgets import Input

        from ui.tui.widgets.scan_input import ScanInput

        fields = list(self.app.screen.query(ScanInput))
        if fields:
            # Classified as the field would classify typed text: the store's patterns, the kind it awaits.
            field = fields[0]
            field.post_message(ScanInput.Scanned(field.classify(text), field))
            return
        # A badge field that is a plain Input (login, a manager's approval): the frame is
        # entered there as if typed, then Enter, so a badge on the serial scanner works
        # exactly like one on a wedge.
        plain = [f for f in self.app.screen.query("Input.scan") if isinstance(f, Input)]
        if plain:
            badge_field = plain[0]
            badge_field.value = text
            badge_field.focus()
            badge_field.post_message(Input.Submitted(badge_field, text))
        else:
            self.app.bell()  # a screen that takes no scans (STOP, a confirmation): ignored

    def _show_status(self, text: str) -> None:
        self.status_text = text
        if text.startswith("disconnected"):
            self.app.bell()
            self.app.notify(f"scanner {text}", severity="error", timeout=8, markup=False)


def start_station_scanner(app: App[Any], settings: Settings, station_id: str) -> StationScanner | None:
    station = settings.station_by_id(station_id)
    if station is None or station.scanner == "keyboard":
        return None
    try:
        scanner = StationScanner(app, station.scanner, station_id, settings.storage.path,
                                 terminators=serial_terminators(settings))
        scanner.start()
    except DeviceError as exc:
        app.notify(f"scanner {station.scanner}: {exc}", severity="error", markup=False)
        return None
    return scanner
