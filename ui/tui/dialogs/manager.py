"""A manager approves: id (or badge) and PIN, checked here; returns the manager's id."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.widgets import Input

from agent.associates.pin_check import check_pin
from agent.store.devices import scan_patterns
from config.catalogue import msg
from drivers.scan_parse import classify
from ui.tui.dialogs.base import Dialog
from ui.tui.widgets.plain import Plain


def check_manager(app: Any, raw_id: str, pin: str) -> tuple[str | None, str]:
    """(manager id, "") when the PIN is a manager's, else (None, why): one message for an
    unknown id, someone who is not a manager and a wrong PIN, counted towards a lockout."""
    scan = classify(raw_id, scan_patterns(app.settings), expect="badge")
    ident = scan.value if scan.kind == "badge" else raw_id.strip()
    check = check_pin(app.store, app.settings, ident, pin, manager=True,
                      where=f"station {app.station_id}")
    if check.associate is None:
        return None, check.message
    return check.associate.id, ""


class ManagerDialog(Dialog):
    TITLE_TEXT = msg("manager.title")

    def __init__(self, reason: str):
        super().__init__()
        self.reason = reason.replace(" with --override-by MANAGER", "")

    def compose_dialog(self) -> ComposeResult:
        yield Plain(self.reason, classes="dialog-text")
        yield Input(placeholder=msg("exception.manager_id"), id="mgr-id", compact=True, classes="scan")
        yield Input(placeholder=msg("exception.manager_pin"), id="mgr-pin", password=True, compact=True,
                    restrict=r"[0-9]*", max_length=12)

    def on_mount(self) -> None:
        self.query_one("#mgr-id").focus()

    @on(Input.Submitted, "#mgr-id")
    def _next(self) -> None:
        self.query_one("#mgr-pin").focus()

    @on(Input.Submitted, "#mgr-pin")
    def _check(self, event: Input.Submitted) -> None:
        manager_id, why = check_manager(self.app, self.query_one("#mgr-id", Input).value,
                                        event.value)
        if manager_id is None:
            event.input.value = ""
            self.say(f"{why}; nothing changed", error=True)
            return
        self.dismiss(manager_id)
