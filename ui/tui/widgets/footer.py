"""The key footer, which wraps onto rows on a handheld instead of scrolling sideways."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer

NARROW_COLUMNS = 3


class KeyFooter(Footer):
    def __init__(self) -> None:
        super().__init__(compact=True, show_command_palette=False)

    def compose(self) -> ComposeResult:
        yield from super().compose()
        # Footer sets one grid column per key inline; on a narrow screen that
        # squeezes every label, so three columns and as many rows as needed.
        if self.screen.has_class("-narrow"):
            self.styles.grid_size_columns = NARROW_COLUMNS
