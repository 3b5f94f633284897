"""Stage: optionally scan each item to check the lines, then scan the bin."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from agent.errors import BusinessRuleError
from ui.tui.dialogs.base import Dialog
from ui.tui.widgets.plain import Plain
from ui.tui.widgets.scan_input import ScanInput


def _gtin14(gtin: str | None) -> str | None:
    return gtin.zfill(14) if gtin else None


class StageDialog(Dialog):
    TITLE_TEXT = "Stage: scan items (optional), then the bin"
    BINDINGS: ClassVar[list] = [Binding("f3", "skip_check", "Skip item check")]

    def __init__(self, detail: dict, *, first_gtin: str | None = None):
        super().__init__()
        self.detail = detail
        self.verified = {line["line_id"]: 0 for line in detail["lines"]}
        self.first_gtin = first_gtin

    def compose_dialog(self) -> ComposeResult:
        yield Plain(id="stage-lines", classes="dialog-text")
        yield ScanInput(placeholder="item or bin barcode, Enter", id="stage-scan", expect="bin")

    def on_mount(self) -> None:
        self._paint()
        self.query_one("#stage-scan").focus()
        if self.first_gtin:
            self._verify(self.first_gtin)

    def _paint(self) -> None:
        t = Text(f"{self.detail['order_id']} · {self.detail['customer_name']}\n")
        for line in self.detail["lines"]:
            done = self.verified[line["line_id"]]
            full = done >= line["quantity"]
            mark = "✓" if full else ("…" if done else " ")
            t.append(f"{mark} {done}/{line['quantity']} {line['description']}\n",
                     style="green" if full else "")
        t.append("F3 skips the item check", style="dim")
        self.query_one("#stage-lines", Static).update(t)

    def _checking(self) -> bool:
        return any(self.verified.values())

    def _missing(self) -> int:
        return sum(line["quantity"] - self.verified[line["line_id"]] for line in self.detail["lines"])

    def _verify(self, gtin: str) -> None:
        lines = [ln for ln in self.detail["lines"] if _gtin14(ln["gtin"]) == gtin]
        if not lines:
            self.say(f"item {gtin} is not on order {self.detail['order_id']}: put it back",
                     error=True)
            return
        line = next((ln for ln in lines if self.verified[ln["line_id"]] < ln["quantity"]), None)
        if line is None:
            self.say(f"item {gtin}: already scanned as many as ordered", error=True)
            return
        self.verified[line["line_id"]] += 1
        self._paint()
        left = self._missing()
        self.say(f"{line['description']} ✓; " + (f"{left} item(s) to go" if left else
                                                  "all items checked: scan the bin"))

    def action_skip_check(self) -> None:
        self.verified = dict.fromkeys(self.verified, 0)
        self._paint()
        self.say("item check skipped: scan the bin")

    @on(ScanInput.Scanned)
    def _scanned(self, event: ScanInput.Scanned) -> None:
        event.stop()
        scan = event.scan
        if scan.kind == "product":
            self._verify(scan.gtin)
        elif scan.kind == "bin":
            self._stage(scan.value)
        else:
            self.say(f"not an item or a bin ({scan.kind}: {scan.value or scan.reason});"
                     " nothing changed", error=True)

    def _stage(self, bin_id: str) -> None:
        if self._checking() and self._missing():
            self.say(f"{self._missing()} item(s) not checked yet: scan them, or F3 to skip the"
                     " check", error=True)
            return
        app = self.app
        try:
            result = app.actions.stage(self.detail["order_id"], bin=bin_id,
                                       associate_id=app.associate.id)
        except BusinessRuleError as exc:
            self.say(f"{exc}; nothing changed", error=True)
            return
        self.dismiss(f"DONE: {result.message}")
