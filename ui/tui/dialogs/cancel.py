"""Cancel in the store: a reason from the list (none chosen for you), an optional note,
then one more key to confirm: a cancellation cannot be taken back."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from agent.errors import BusinessRuleError, StoreError
from agent.orders.actions import CANCEL_REASONS
from config.catalogue import msg
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
    BINDINGS: ClassVar[list[Binding]] = [Binding("f2", "confirm", "Confirm")]

    def __init__(self, detail: dict[str, Any], *, reason: str | None = None):
        super().__init__()
        self.detail = detail
        self.hint = reason  # a no-show is suggested in words, never chosen for the associate
        self.reason: str | None = None
        self.TITLE_TEXT = msg("cancel.title")

    def compose_dialog(self) -> ComposeResult:
        d = self.detail
        yield Plain(f"{d['order_id']} · {d.get('customer_name') or ''}", classes="dialog-text")
        yield OptionList(*(Option(REASON_TEXT[r], id=r) for r in CANCEL_REASONS), id="reasons")
        yield Input(placeholder=msg("cancel.note"), id="cancel-note", compact=True, max_length=500)

    def on_mount(self) -> None:
        reasons = self.query_one("#reasons", OptionList)
        reasons.highlighted = None
        reasons.focus()
        if self.hint == "no_show":
            self.say(msg("cancel.hint_no_show"))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "confirm":
            return self.reason is not None
        return True

    @on(OptionList.OptionSelected, "#reasons")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.reason = event.option.id
        self.say(msg("cancel.confirm", order=self.detail["order_id"],
                     reason=REASON_TEXT[CancelReason(self.reason or CancelReason.OTHER)]))
        self.refresh_bindings()
        self.query_one("#cancel-note", Input).focus()

    @on(Input.Submitted, "#cancel-note")
    def _note_done(self, event: Input.Submitted) -> None:
        event.stop()  # Enter in the note does not cancel: F2 does

    def action_confirm(self) -> None:
        if self.reason is None:
            return
        app = self.app
        note = self.query_one("#cancel-note", Input).value.strip() or None
        try:
            result = app.actions.cancel(self.detail["order_id"], reason=self.reason,
                                        associate_id=app.associate.id, note=note)
        except (BusinessRuleError, StoreError) as exc:  # a store error too: the screen stays up
            self.say(refusal(exc), error=True)
            return
        self.dismiss(f"DONE: {result.message}")
