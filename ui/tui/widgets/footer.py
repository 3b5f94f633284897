"""The key footer: one widget that draws the keys on offer, in rows of three on a handheld.

Textual's Footer mounts a widget per key and recomposes all of them whenever the
bindings change (every screen switch, every state change of an order), after
the frame: restyling, laying out and drawing a dozen widgets, a large share of
a scan's time (docs/benchmarks.md, "Associate UI"). This footer is one widget
of text (three columns a row when narrow, wrapping instead of scrolling
sideways), redrawn in place in the same frame; a click on a key presses it.
"""

from __future__ import annotations

from textual import events
from textual.content import Content
from textual.geometry import Size
from textual.widget import Widget

NARROW_COLUMNS = 3
KEY_STYLE = "bold $footer-key-foreground"
DISABLED_STYLE = "dim"

Key = tuple[str, str, str, bool]  # key, how it is shown, description, enabled


class KeyFooter(Widget):
    DEFAULT_CSS = """
    KeyFooter {
        height: auto;
        background: $footer-background;
        color: $footer-description-foreground;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self._keys: tuple[Key, ...] = ()
        self._layout: tuple[tuple[tuple[Key, ...], int], list[list[tuple[int, int, str]]]] | None = None

    def on_mount(self) -> None:
        self._keys = self._active_keys()
        self.screen.bindings_updated_signal.subscribe(self, lambda _screen: self.sync())

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _active_keys(self) -> tuple[Key, ...]:
        """One key per action, in the order Textual's Footer shows them."""
        keys: list[Key] = []
        seen: set[str] = set()
        get_display = self.app.get_key_display
        for _node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            keys.append((binding.key, get_display(binding), binding.description, enabled))
        return tuple(keys)

    def sync(self) -> None:
        """Show the keys on offer now; a screen calls this when it knows they changed."""
        keys = self._active_keys()
        if keys != self._keys:
            rows = len(self._rows(self.size.width))
            self._keys = keys
            self.refresh(layout=len(self._rows(self.size.width)) != rows)

    def _narrow(self, width: int) -> bool:
        return width < 60 or self.screen.has_class("-narrow")

    def _rows(self, width: int) -> list[list[tuple[int, int, str]]]:
        """Where each key goes: rows of (start, end, key); cached per key set and width."""
        if self._layout is not None and self._layout[0] == (self._keys, width):
            return self._layout[1]
        rows: list[list[tuple[int, int, str]]] = [[]]
        if self._narrow(width):
            cell = max(1, width // NARROW_COLUMNS)
            for i, (key, shown, description, _enabled) in enumerate(self._keys):
                if i and i % NARROW_COLUMNS == 0:
                    rows.append([])
                start = (i % NARROW_COLUMNS) * cell
                rows[-1].append((start, start + min(cell, len(shown) + 1 + len(description)), key))
        else:
            x = 0
            for key, shown, description, _enabled in self._keys:
                length = len(shown) + 1 + len(description)
                if x and x + length > width:
                    rows.append([])
                    x = 0
                rows[-1].append((x, x + length, key))
                x += length + 1
        self._layout = ((self._keys, width), rows)
        return rows

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._rows(width))

    def render(self) -> Content:
        width = self.size.width
        by_key = {key: (shown, description, enabled) for key, shown, description, enabled in self._keys}
        lines: list[Content] = []
        for row in self._rows(width):
            parts: list[str | tuple[str, str]] = []
            x = 0
            for start, end, key in row:
                shown, description, enabled = by_key[key]
                parts.append(" " * (start - x))
                label = f"{shown} {description}"[: end - start]
                parts.append((label[: len(shown)], KEY_STYLE if enabled else DISABLED_STYLE))
                parts.append((label[len(shown):], "" if enabled else DISABLED_STYLE))
                x = end
            lines.append(Content.assemble(*parts))
        return Content("\n").join(lines)

    def on_click(self, event: events.Click) -> None:
        rows = self._rows(self.size.width)
        if 0 <= event.y < len(rows):
            for start, end, key in rows[event.y]:
                if start <= event.x < end:
                    event.stop()
                    self.app.simulate_key(key)
                    return
