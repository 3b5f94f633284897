"""Cancel in the store: a reason from the list, an optional note."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from agent.errors import BusinessRuleError, StoreError
from agent.orders.actions import CANCEL_REASONS
from config.vocabulary import CancelReason
from ui.tui.dialogs.base import Dialog
from ui.tui.fmt import refusal
from ui.tui.widgets.plain import Plain

REASON_TEXT = {
    CancelReason.CUSTOMER_REFUSED: "Customer refused", CancelReason.NO_SHOW: "No-show",
    CancelReason.ITEM_UNAVAILABLE: "Item unavailable", CancelReason.DAMAGED: "Damaged",
    CancelReason.OTHER: "Other",
}


class CancelDialog(Dialog):
    TITLE_TEXT = "Cancel order: pick a reason"

    def __init__(self, detail: dict, *, reason: str | None = None):
        super().__init__()
        self.detail = detail
        self.preset = reason

    def compose_dialog(self) -> ComposeResult:
        yield Plain(f"{self.detail['order_id']} ({self.detail['state']})", classes="dialog-text")
        yield Input(placeholder="note (optional)", id="cancel-note", compact=True, max_length=500)
        yield OptionList(*(Option(REASON_TEXT[r], id=r) for r in CANCEL_REASONS), id="reasons")

    def on_mount(self) -> None:
        reasons = self.query_one("#reasons", OptionList)
        reasons.highlighted = CANCEL_REASONS.index(self.preset) if self.preset else 0
        reasons.focus()

    @on(OptionList.OptionSelected, "#reasons")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        app = self.app
        note = self.query_one("#cancel-note", Input).value.strip() or None
        try:
            result = app.actions.cancel(self.detail["order_id"], reason=event.option.id,
                                        associate_id=app.associate.id, note=note)
        except (BusinessRuleError, StoreError) as exc:  # a store error too: the screen stays up
            self.say(refusal(exc), error=True)
            return
        self.dismiss(f"DONE: {result.message}")
