"""The scan field: where keyboard-wedge scanners type. Every screen that takes scans has one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual import on
from textual.message import Message
from textual.widgets import Input

from drivers.scan_parse import DEFAULT_PATTERNS, ExpectKind, Scan, classify


class ScanInput(Input):
    """Classifies what was typed on Enter and posts ``Scanned``; the text is cleared at once
    so the next scan starts clean even if handling it takes a moment.

    A scanner types a dozen keys in one burst. The app hands printable keys to
    ``take`` instead of sending each through the widget tree: they are inserted
    together once the app has read the keys already queued (or before the next
    key that is not a character), so a burst costs one edit instead of one per
    character, and Enter goes straight to ``submit``.
    """

    @dataclass
    class Scanned(Message):
        scan: Scan
        input: ScanInput

    @dataclass
    class EmptyEnter(Message):
        """Enter with nothing typed: the screen may take it as "open what is highlighted"."""

        input: ScanInput

    def __init__(self, placeholder: str = "scan or type, Enter", *, expect: ExpectKind | None = None,
                 **kwargs: Any) -> None:
        kwargs.setdefault("classes", "scan")
        super().__init__(placeholder=placeholder, compact=True, **kwargs)
        self._typed: list[str] = []
        self.expect = expect
        """The kind this field waits for; it wins when the text fits its pattern (drivers.scan_parse)."""

    def classify(self, raw: str) -> Scan:
        """What ``raw`` is for this field: the store's [scanning] patterns and the kind it awaits."""
        return classify(raw, getattr(self.app, "scan_patterns", DEFAULT_PATTERNS), expect=self.expect)

    @property
    def pending(self) -> bool:
        """Characters taken and not yet inserted (a burst in flight)."""
        return bool(self._typed)

    def take(self, character: str) -> None:
        """A printable key for this field; inserted with the rest of its burst."""
        if not self._typed:
            # Through this field's own queue: after a focus change that selects its text,
            # and, for a burst, after the keys the app has already read.
            self.call_later(self.flush)
        self._typed.append(character)

    def flush(self) -> None:
        """Insert what was typed and not yet inserted, as one edit."""
        if not self._typed:
            return
        text = "".join(self._typed)
        self._typed.clear()
        if not self.is_attached:
            return
        self._restart_blink()
        selection = self.selection
        if selection.is_empty:
            self.insert_text_at_cursor(text)
        else:
            self.replace(text, *selection)

    def submit(self) -> None:
        """Enter: classify what was typed, clear the field, post ``Scanned``.

        The app calls this for Enter directly, so a burst goes from the keys to the
        scan without the text being drawn in the field first.
        """
        if self.value:
            self.flush()
            raw = self.value
            self.value = ""
        else:  # a scanner's burst into an empty field: the field never changes
            raw = "".join(self._typed)
            self._typed.clear()
        if raw.strip():
            self.post_message(self.Scanned(self.classify(raw), self))
        else:
            self.post_message(self.EmptyEnter(self))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.submit()
