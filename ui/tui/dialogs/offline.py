"""The OMS cannot confirm the order: the associate reads how stale the store's copy is."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Button

from config.catalogue import msg
from ui.tui.dialogs.base import Dialog
from ui.tui.widgets.plain import Plain


class OfflineWarnDialog(Dialog):
    TITLE_TEXT = msg("offline.title")
    BINDINGS: ClassVar[list[Any]] = [
        Binding("f2", "confirm", "Confirm"),
        Binding("f3", "manager", "Manager"),
    ]

    def __init__(self, warning: str):
        super().__init__(classes="warn")
        self.warning = warning.replace(" with --yes", "").replace("Confirm the handoff", "Confirm")

    def compose_dialog(self) -> ComposeResult:
        yield Plain(self.warning, classes="dialog-text")
        with Horizontal(classes="dialog-buttons"):
            yield Button(msg("offline.confirm"), id="confirm", variant="warning", compact=True)
            yield Button(msg("offline.manager"), id="manager", compact=True)
            yield Button(msg("offline.back"), id="abandon", compact=True)

    def on_mount(self) -> None:
        # A scanner's trailing Enter must not confirm a handoff: no button takes focus.
        for button in self.query(Button):
            button.can_focus = False

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None if event.button.id == "abandon" else event.button.id)

    def action_confirm(self) -> None:
        self.dismiss("confirm")

    def action_manager(self) -> None:
        self.dismiss("manager")
