"""F1, ? or the command palette: the keys of the screen below and how scans work; and the
question before ctrl+q closes the terminal."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen

from config.catalogue import msg
from ui.tui.dialogs.base import Dialog
from ui.tui.widgets.plain import Plain


def keys_text(screen: Screen[object]) -> Text:
    """The keys on offer on ``screen``, one a line, as its footer would name them."""
    t = Text()
    seen: set[str] = set()
    for _node, binding, enabled, _tooltip in screen.active_bindings.values():
        if not binding.show or not enabled or binding.action in seen:
            continue
        seen.add(binding.action)
        t.append(f"{screen.app.get_key_display(binding):>7}  ", style="bold")
        t.append(f"{binding.description}\n")
    t.rstrip()
    return t


class HelpDialog(Dialog):
    BINDINGS: ClassVar[list[Binding]] = [Binding("f1", "abandon", "Close", show=False)]

    def __init__(self, below: Screen[object]):
        super().__init__()
        self.below = below
        self.TITLE_TEXT = msg("help.title")

    def compose_dialog(self) -> ComposeResult:
        yield Plain(keys_text(self.below), classes="dialog-text", id="help-keys")
        yield Plain(f"{msg('help.scans')}\n{msg('help.list')}\n{msg('help.close')}",
                    classes="dialog-text")


class QuitDialog(Dialog):
    BINDINGS: ClassVar[list[Binding]] = [Binding("f2", "confirm", "Close store-agent")]

    def __init__(self) -> None:
        super().__init__(classes="warn")
        self.TITLE_TEXT = msg("quit.title")

    def compose_dialog(self) -> ComposeResult:
        yield Plain(msg("quit.ask"), classes="dialog-text")

    def action_confirm(self) -> None:
        self.dismiss("quit")
