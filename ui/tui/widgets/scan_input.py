"""The scan field: where keyboard-wedge scanners type. Every screen that takes scans has one."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.message import Message
from textual.widgets import Input

from drivers.scan_parse import Scan, classify


class ScanInput(Input):
    """Classifies what was typed on Enter and posts ``Scanned``; the text is cleared at once
    so the next scan starts clean even if handling it takes a moment."""

    @dataclass
    class Scanned(Message):
        scan: Scan
        input: ScanInput

    def __init__(self, placeholder: str = "scan or type, Enter", **kwargs):
        kwargs.setdefault("classes", "scan")
        super().__init__(placeholder=placeholder, compact=True, **kwargs)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        raw = event.value
        self.value = ""
        if raw.strip():
            self.post_message(self.Scanned(classify(raw), self))
