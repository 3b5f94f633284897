"""What every working screen shows: status, alert banner, a message line, the scan field, keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Static

from drivers.scan_parse import Scan
from ui.tui.widgets.banner import AlertBanner
from ui.tui.widgets.footer import KeyFooter
from ui.tui.widgets.plain import Plain
from ui.tui.widgets.scan_input import ScanInput
from ui.tui.widgets.status_bar import StatusBar


class BaseScreen(Screen[Any]):
    """Subclasses compose their body in ``compose_body`` and may claim scans in ``handle_scan``."""

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield AlertBanner(id="banner")
        yield from self.compose_body()
        yield Plain(id="message")
        yield ScanInput(id="scan")
        yield KeyFooter()

    def compose_body(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.app.paint_chrome(self)

    def on_screen_resume(self) -> None:
        self.app.paint_chrome(self)
        self.refresh_data()

    def refresh_data(self) -> None:
        """Re-read what the screen shows; called when the database changed."""

    def handle_scan(self, scan: Scan) -> bool:
        """Claim a scan this screen understands better than the app's routing."""
        return False

    _said_at: datetime | None = None

    def clear_stale(self, older_than: datetime) -> None:
        """Clear the message line if what it says was said before ``older_than``."""
        if self._said_at is not None and self._said_at < older_than:
            self.say("")

    def say(self, text: str, *, error: bool = False) -> None:
        message = self.query_one("#message", Static)
        self._said_at = self.app.clock() if text else None
        if not text and not str(message.content):
            return  # already clear: no redraw
        message.update(text)
        message.set_class(error, "-error")
        message.set_class(not error, "-ok")
        if error:
            self.app.bell()

    @on(ScanInput.Scanned)
    def _scanned(self, event: ScanInput.Scanned) -> None:
        event.stop()
        if not self.handle_scan(event.scan):
            self.app.scans.route(event.scan)
