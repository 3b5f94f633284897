"""Return to shelf: scan the bin, see the items, confirm they are back."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Button

from agent.errors import BusinessRuleError, StoreError
from config.catalogue import msg
from ui.tui.dialogs.base import Dialog
from ui.tui.fmt import refusal
from ui.tui.widgets.plain import Plain
from ui.tui.widgets.scan_input import ScanInput


class ReturnDialog(Dialog):
    TITLE_TEXT = msg("return.title")
    BINDINGS: ClassVar[list[Any]] = [Binding("f2", "confirm", "Items are back")]

    def __init__(self, detail: dict[str, Any]):
        super().__init__()
        self.detail = detail
        self.return_task = detail.get("return_task") or {}
        self.bin_ok = not self.return_task.get("bin")  # nothing to scan when the order had no bin
        # The associate came here by scanning this very bin: asking for it again is a wasted scan.
        self.bin_scanned_to_open = False

    def compose_dialog(self) -> ComposeResult:
        names = {line["line_id"]: line["description"] for line in self.detail["lines"]}
        t = Text(f"{self.detail['order_id']}: from bin {self.return_task.get('bin') or '-'}\n")
        for item in self.return_task.get("lines", []):
            t.append(f"  {item['quantity']} × {names.get(item['line_id'], item['line_id'])}\n")
        yield Plain(t, classes="dialog-text")
        yield ScanInput(placeholder=msg("return.prompt"), id="return-scan", expect="bin")
        yield Button(msg("return.done_key"), id="return-confirm", compact=True, disabled=not self.bin_ok)

    def on_mount(self) -> None:
        self.query_one("#return-confirm").can_focus = False
        self.query_one("#return-scan").focus()
        bin_id = self.return_task.get("bin")
        if bin_id and self.app.scans.recently_scanned_bin(bin_id, self.detail["order_id"]):
            self.bin_ok = self.bin_scanned_to_open = True
            self.query_one("#return-confirm", Button).disabled = False
            self.say(msg("return.bin_already", bin=bin_id))

    @on(ScanInput.Scanned)
    def _scanned(self, event: ScanInput.Scanned) -> None:
        event.stop()
        scan = event.scan
        if scan.kind == "bin" and scan.value == self.return_task.get("bin"):
            self.bin_ok = True
            self.query_one("#return-confirm", Button).disabled = False
            self.say(msg("return.bin_ok", bin=scan.value))
        elif scan.kind == "bin":
            self.say(msg("return.bin_wrong", bin=scan.value, right=self.return_task.get("bin")), error=True)
        else:
            self.say(msg("return.not_a_bin"), error=True)

    @on(Button.Pressed, "#return-confirm")
    def _pressed(self) -> None:
        self.action_confirm()

    def action_confirm(self) -> None:
        if not self.bin_ok:
            self.say(msg("return.bin_first", bin=self.return_task.get("bin")), error=True)
            return
        app = self.app
        try:
            result = app.actions.return_to_shelf(self.detail["order_id"], associate_id=app.associate.id)
        except (BusinessRuleError, StoreError) as exc:  # a store error too: the screen stays up
            self.say(refusal(exc), error=True)
            return
        self.dismiss(f"DONE: {result.message}")
