"""Pickup, last step: who, which bin, how many items; one key records the handover.

Shown after the code matched and the live check answered, before anything is
written: the associate reads the customer's name and the bin while the customer
is still at the counter. Nothing here takes focus and there is no scan field,
so neither a scanner's trailing Enter nor a second scan can confirm it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from config.catalogue import msg
from ui.tui.dialogs.base import Dialog
from ui.tui.items import bins_of


def handover_text(detail: dict[str, Any]) -> Text:
    """Customer, bin(s) and item count of ``detail``; the OMS's text stays plain text."""
    lines = detail.get("lines") or []
    t = Text()
    t.append(f"{detail['order_id']}  ", style="bold")
    t.append(detail.get("customer_name") or "", style="bold")
    t.append("\n")
    bins = bins_of(detail)  # every tote of the order
    if bins:
        t.append(msg("handover.bins", bins=", ".join(bins)), style="bold reverse")
    else:
        t.append(msg("handover.no_bin"))
    t.append("\n")
    t.append(msg("handover.items", count=sum(line["quantity"] for line in lines), lines=len(lines)))
    return t


class HandoverDialog(Dialog):
    BINDINGS: ClassVar[list[Binding]] = [Binding("f2", "confirm", "Hand over")]

    def __init__(self, detail: dict[str, Any]):
        super().__init__()
        self.detail = detail
        self.TITLE_TEXT = msg("handover.title")

    def compose_dialog(self) -> ComposeResult:
        yield Static(handover_text(self.detail), classes="dialog-text", id="handover-text")
        yield Static(msg("handover.ask"), classes="dialog-text")

    def action_confirm(self) -> None:
        self.dismiss("confirm")
