"""A dead letter: a manager sends it again, or gives it up with a reason."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Button, Input

from agent.errors import BusinessRuleError, StoreError
from agent.orders import dead_letters
from ui.tui.dialogs.base import Dialog
from ui.tui.dialogs.manager import check_manager
from ui.tui.fmt import refusal
from ui.tui.widgets.plain import Plain


class DlqDialog(Dialog):
    TITLE_TEXT = "Dead letter: manager decides"
    BINDINGS: ClassVar[list] = [Binding("f2", "decide('retry')", "Retry"),
                                Binding("f3", "decide('discard')", "Discard")]

    def __init__(self, row: dict):
        super().__init__()
        self.row = row

    def compose_dialog(self) -> ComposeResult:
        r = self.row
        yield Plain(f"{r['order_id']} · {r['what']}\n{r['detail']}", classes="dialog-text")
        yield Input(placeholder="manager id or badge", id="dlq-mgr", compact=True, classes="scan")
        yield Input(placeholder="manager PIN", id="dlq-pin", password=True, compact=True,
                    restrict=r"[0-9]*", max_length=12)
        yield Input(placeholder="reason (needed to discard)", id="dlq-reason", compact=True,
                    max_length=200)
        with Horizontal(classes="dialog-buttons"):
            yield Button("Retry F2", id="retry", compact=True)
            yield Button("Discard F3", id="discard", variant="error", compact=True)

    def on_mount(self) -> None:
        for button in self.query(Button):
            button.can_focus = False
        self.query_one("#dlq-mgr").focus()

    @on(Input.Submitted)
    def _next_field(self, event: Input.Submitted) -> None:
        event.stop()
        self.focus_next()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_decide(event.button.id)

    def action_decide(self, what: str) -> None:
        manager_id, why = check_manager(self.app, self.query_one("#dlq-mgr", Input).value,
                                        self.query_one("#dlq-pin", Input).value)
        if manager_id is None:
            self.query_one("#dlq-pin", Input).value = ""
            self.say(f"{why}; nothing changed", error=True)
            return
        event_id = self.row["id"]
        try:
            if what == "retry":
                dead_letters.retry(self.app.store, self.app.settings, event_id, manager_id=manager_id)
                done = f"DONE: dead letter of {self.row['order_id']} will be sent again"
            else:
                reason = self.query_one("#dlq-reason", Input).value
                dead_letters.discard(self.app.store, self.app.settings, event_id,
                                     manager_id=manager_id, reason=reason)
                done = f"DONE: dead letter of {self.row['order_id']} discarded by {manager_id}"
        except (BusinessRuleError, StoreError) as exc:  # a store error too: the screen stays up
            self.say(refusal(exc), error=True)
            return
        self.dismiss(done)
