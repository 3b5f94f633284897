"""Pickup, step 1: the customer's code, scanned from the QR or typed."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.widgets import Static

from ui.tui.dialogs.base import Dialog
from ui.tui.widgets.scan_input import ScanInput


class PickupCodeDialog(Dialog):
    TITLE_TEXT = "Pickup: scan the customer's code"

    def __init__(self, detail: dict):
        super().__init__()
        self.detail = detail

    def compose_dialog(self) -> ComposeResult:
        d = self.detail
        yield Static(f"{d['order_id']} · {d['customer_name']} · bin {d['bin'] or '-'}",
                     classes="dialog-text")
        yield ScanInput(placeholder="pickup code or QR, Enter", id="code-scan", expect="pickup_code")

    def on_mount(self) -> None:
        self.query_one("#code-scan").focus()

    @on(ScanInput.Scanned)
    def _scanned(self, event: ScanInput.Scanned) -> None:
        event.stop()
        scan = event.scan
        if scan.kind == "pickup_code" and scan.order_id in (None, self.detail["order_id"]):
            self.dismiss(scan.pickup_code)
        elif scan.kind == "pickup_code":
            self.say(f"that code is for order {scan.order_id}, not {self.detail['order_id']};"
                     " nothing changed", error=True)
        else:
            self.say(f"not a pickup code ({scan.kind}: {scan.value or scan.reason}); nothing changed",
                     error=True)
