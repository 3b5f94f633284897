"""Pickup, step 1: the customer's code, scanned from the QR or typed.

The code is checked here, before the dialog closes: a wrong one keeps the
dialog open for another try while the customer is still at the counter.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult

from agent.orders.code_checks import check_order_code
from config.catalogue import msg
from ui.tui.dialogs.base import Dialog
from ui.tui.widgets.plain import Plain
from ui.tui.widgets.scan_input import ScanInput


class PickupCodeDialog(Dialog):
    def __init__(self, detail: dict[str, Any]):
        super().__init__()
        self.detail = detail
        self.TITLE_TEXT = msg("code.title")

    def compose_dialog(self) -> ComposeResult:
        d = self.detail
        yield Plain(f"{d['order_id']} · {d['customer_name']} · bin {d['bin'] or '-'}",
                     classes="dialog-text")
        yield ScanInput(placeholder=msg("code.prompt"), id="code-scan", expect="pickup_code")

    def on_mount(self) -> None:
        self.query_one("#code-scan").focus()

    @on(ScanInput.Scanned)
    def _scanned(self, event: ScanInput.Scanned) -> None:
        event.stop()
        scan = event.scan
        order_id = self.detail["order_id"]
        if scan.kind != "pickup_code":
            self.say(msg("code.not_a_code"), error=True)
        elif scan.order_id not in (None, order_id):
            self.say(msg("code.other_order", other=scan.order_id, order=order_id), error=True)
        elif not (check := check_order_code(self.app.store, self.app.settings, order_id,
                                            scan.pickup_code or scan.value,
                                            station=self.app.device_id)).ok:
            # Counted: a few wrong codes lock this order's (and this station's) code entry.
            self.say(check.message if check.locked_for_s else msg("code.wrong", order=order_id),
                     error=True)
        else:
            self.dismiss(scan.pickup_code or scan.value)
