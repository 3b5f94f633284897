"""A modal step: a titled box with a message line; Escape abandons it and changes nothing."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from ui.tui.widgets.footer import KeyFooter
from ui.tui.widgets.plain import Plain


class Dialog(ModalScreen[Any]):
    BINDINGS: ClassVar[list[Any]] = [Binding("escape", "abandon", "Cancel")]
    TITLE_TEXT = ""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Plain(self.TITLE_TEXT, classes="dialog-title")
            yield from self.compose_dialog()
            yield Plain("", classes="dialog-message")
        # The dialog's own keys, over the screen's: F-keys mean what this step makes them mean.
        yield KeyFooter()

    def compose_dialog(self) -> ComposeResult:
        yield from ()

    def say(self, text: str, *, error: bool = False) -> None:
        message = self.query_one(".dialog-message", Static)
        message.update(text)
        message.set_class(error, "-error")
        if error:
            self.app.bell()

    def action_abandon(self) -> None:
        self.dismiss(None)
