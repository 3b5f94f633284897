"""The key footer: one widget that draws the keys on offer, in one row on a handheld.

Textual's Footer mounts a widget per key and recomposes all of them whenever the
bindings change (every screen switch, every state change of an order), after
the frame: restyling, laying out and drawing a dozen widgets, a large share of
a scan's time (docs/benchmarks.md, "Associate UI"). This footer is one widget
of text (one row when narrow, F1 listing what did not fit; wrapping instead of
scrolling sideways when wide), redrawn in place in the same frame; a click on a
key presses it.
"""

from __future__ import annotations

from textual import events
from textual.content import Content
from textual.geometry import Size
from textual.widget import Widget

HELP_KEY = "f1"
# On one row, what goes first: the way back, the screen's own keys, then the session's.
NARROW_RANK = {"escape": 0, "f8": 2, "f9": 3, "f5": 4, "ctrl+q": 5}
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
            # A handheld gets one row: the way back first, then the screen's keys in order
            # while they fit, and F1 (which lists every key) always last.
            help_key = next((k for k in self._keys if k[0] == HELP_KEY), None)
            room = width - (len(help_key[1]) + 2 + len(help_key[2]) if help_key else 0)
            ordered = sorted((k for k in self._keys if k[0] != HELP_KEY),
                             key=lambda k: NARROW_RANK.get(k[0], 1))
            x = 0
            for key, shown, description, _enabled in ordered:
                length = len(shown) + 1 + len(description)
                if x + length > room:
                    continue
                rows[0].append((x, x + length, key))
                x += length + 1
            if help_key is not None:
                start = min(x, max(0, width - len(help_key[1]) - 1 - len(help_key[2])))
                rows[0].append((start, start + len(help_key[1]) + 1 + len(help_key[2]), HELP_KEY))
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
