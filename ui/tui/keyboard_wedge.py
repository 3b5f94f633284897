"""A keyboard-wedge scanner types into whatever has focus: steer its keys to the scan field.

A USB scanner in keyboard mode is a very fast typist. Its burst must land in
the scan field in order whatever the associate last touched, must never press
a button on a screen without a scan field, and must leave a dialog's own
field (a PIN, a note, a code) alone.
"""

from __future__ import annotations

import time
from typing import Any

from textual import events
from textual.app import App
from textual.css.query import NoMatches
from textual.widgets import Input

from ui.tui.widgets.scan_input import ScanInput

# After a burst was dropped (no scan field on screen), its Enter arrives this soon.
TRAILING_ENTER_S = 0.5


class KeyboardWedge:
    def __init__(self, app: App[Any]):
        self.app = app
        self._dropped_at = 0.0

    def asks_for_help(self, event: events.Key) -> bool:
        """``?`` is help when it cannot be the start of a scan: pressed in an empty scan field."""
        focused = self.app.focused
        return (event.character == "?" and isinstance(focused, ScanInput) and not focused.value
                and not focused.pending)

    def passes(self, event: events.Key) -> bool:
        """Steer one key; False swallows it (handed to the scan field, or dropped).

        Runs before the key is forwarded, so focus moves synchronously and the
        rest of a fast scanner burst lands in the scan field in order. Characters
        for a scan field are handed to it directly and inserted as one edit per
        burst (see ScanInput). A focused Input keeps its keys, so dialogs that ask
        for a PIN, a note or a code still work.
        """
        focused = self.app.focused
        if isinstance(focused, ScanInput):
            if event.is_printable:
                focused.take(event.character or "")
                return False
            if event.key == "enter":
                focused.submit()
                return False
            focused.flush()  # Backspace, arrows: after the characters typed before them
            return True
        if isinstance(focused, Input):
            return True
        if event.is_printable:
            screen = self.app.screen
            try:
                field = screen.query("Input.scan").first()
            except NoMatches:
                # No scan field here (a confirmation, the STOP): drop the burst,
                # and its trailing Enter below, so a scan never presses a button.
                self._dropped_at = time.monotonic()
                return False
            screen.set_focus(field)
            if isinstance(field, ScanInput):
                field.take(event.character or "")
                return False
            return True
        return not (event.key == "enter" and time.monotonic() - self._dropped_at < TRAILING_ENTER_S)
