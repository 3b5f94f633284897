"""A manager approves: id (or badge) and PIN, checked here; returns the manager's id."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.widgets import Input

from agent.associates.pins import verify_pin
from agent.store.devices import scan_patterns
from drivers.scan_parse import classify
from ui.tui.dialogs.base import Dialog
from ui.tui.widgets.plain import Plain


def check_manager(settings, raw_id: str, pin: str) -> tuple[str | None, str]:
    """(manager id, "") when the PIN is right, else (None, why)."""
    scan = classify(raw_id, scan_patterns(settings), expect="badge")
    ident = scan.value if scan.kind == "badge" else raw_id.strip()
    who = settings.associate(ident)
    if who is None:
        return None, f"{ident!r} is not in the roster"
    if who.role != "manager":
        return None, f"{who.name} ({who.id}) is not a manager"
    if who.pin_hash is None:
        return None, f"{who.id}: no PIN set: ask a manager to run `store-agent associate set-pin {who.id}`"
    if not verify_pin(pin, who.pin_hash.get_secret_value()):
        return None, "wrong PIN"
    return who.id, ""


class ManagerDialog(Dialog):
    TITLE_TEXT = "Manager approval"

    def __init__(self, reason: str):
        super().__init__()
        self.reason = reason.replace(" with --override-by MANAGER", "")

    def compose_dialog(self) -> ComposeResult:
        yield Plain(self.reason, classes="dialog-text")
        yield Input(placeholder="manager id or badge", id="mgr-id", compact=True, classes="scan")
        yield Input(placeholder="manager PIN, Enter", id="mgr-pin", password=True, compact=True,
                    restrict=r"[0-9]*", max_length=12)

    def on_mount(self) -> None:
        self.query_one("#mgr-id").focus()

    @on(Input.Submitted, "#mgr-id")
    def _next(self) -> None:
        self.query_one("#mgr-pin").focus()

    @on(Input.Submitted, "#mgr-pin")
    def _check(self, event: Input.Submitted) -> None:
        manager_id, why = check_manager(self.app.settings, self.query_one("#mgr-id", Input).value,
                                        event.value)
        if manager_id is None:
            event.input.value = ""
            self.say(f"{why}; nothing changed", error=True)
            return
        self.dismiss(manager_id)
