"""The red STOP: impossible to misread, and it does not go away by itself."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Button

from config.catalogue import msg
from ui.tui.widgets.plain import Plain


class StopScreen(Screen[str | None]):
    BINDINGS: ClassVar[list[Any]] = [
        Binding("f2", "understood", "Understood"),
        Binding("f6", "return_shelf", "Return to shelf"),
    ]

    def __init__(self, message: str, detail: dict[str, Any]):
        super().__init__(classes="stop")
        self.message = message
        self.detail = detail

    def compose(self) -> ComposeResult:
        d = self.detail
        task = d.get("return_task") or {}
        with Vertical(id="stop-box"):
            yield Plain(msg("stop.title"), id="stop-title")
            yield Plain(msg("stop.sub"), id="stop-sub")
            yield Plain(msg("stop.order", order=d.get("order_id")), classes="stop-line")
            if d.get("bin") or task.get("bin"):
                yield Plain(msg("stop.bin", bin=d.get("bin") or task.get("bin")),
                            classes="stop-line")
            if task.get("state") == "OPEN":
                yield Plain(msg("stop.task"),
                            classes="stop-line")
            yield Plain(self.message, id="stop-message")
            yield Button(msg("stop.ok"), id="stop-ok", compact=True)
            if task.get("state") == "OPEN":
                yield Button(msg("stop.return"), id="stop-return", compact=True)

    def on_mount(self) -> None:
        # Not focusable: a scanner's trailing Enter must not dismiss the STOP.
        for button in self.query(Button):
            button.can_focus = False
        self.app.bell()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss("return" if event.button.id == "stop-return" else None)

    def action_understood(self) -> None:
        self.dismiss(None)

    def action_return_shelf(self) -> None:
        if (self.detail.get("return_task") or {}).get("state") == "OPEN":
            self.dismiss("return")
