"""Login: scan a badge or type an associate id, then the PIN.

The id step accepts any id and asks for a PIN: whether the id exists, has a PIN
or belongs to a manager is told by nobody (agent.associates.pin_check answers
"wrong id or PIN" for all of them), so a terminal cannot be used to list the
roster. The name appears in the status bar once the PIN was right.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Input, Static

from agent.associates.pin_check import check_pin
from agent.errors import StoreError
from config.catalogue import msg
from drivers.scan_parse import classify
from ui.tui.widgets.footer import KeyFooter
from ui.tui.widgets.plain import Plain
from ui.tui.widgets.status_bar import StatusBar


class LoginScreen(Screen[Any]):
    BINDINGS: ClassVar[list[Any]] = [Binding("escape", "another_id", "Another id", show=False)]

    def __init__(self, note: str | None = None):
        super().__init__()
        self.note = note

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with Vertical(id="login-box"):
            yield Plain("store-agent: log in", id="login-title")
            yield Plain("Scan your badge or type your associate id, then Enter.", classes="hint")
            yield Input(placeholder="associate id", id="login-id", compact=True, classes="scan")
            yield Input(placeholder="PIN", id="login-pin", password=True, compact=True,
                        restrict=r"[0-9]*", max_length=12)
            yield Plain(self.note or "", id="message")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#login-pin").display = False
        self.query_one("#login-id").focus()
        self.query_one(StatusBar).show(self.app.status, station=self.app.station_id, associate=None)

    def _say(self, text: str, *, error: bool = True) -> None:
        message = self.query_one("#message", Static)
        message.update(text)
        message.set_class(error, "-error")
        if error:
            self.app.bell()

    def _reset(self, text: str, *, error: bool = True) -> None:
        pin = self.query_one("#login-pin", Input)
        pin.value = ""
        pin.display = False
        ident = self.query_one("#login-id", Input)
        ident.value = ""
        ident.focus()
        self._say(text, error=error)

    def action_another_id(self) -> None:
        """Esc at the PIN: the badge or id was the wrong one; start again."""
        if self.query_one("#login-pin", Input).display:
            self._reset("", error=False)

    @on(Input.Submitted, "#login-id")
    def _id_entered(self, event: Input.Submitted) -> None:
        raw = event.value.strip()
        if not raw:
            return
        scan = classify(raw, self.app.scan_patterns, expect="badge")
        associate_id = (scan.value if scan.kind == "badge" else raw)[:64]
        event.input.value = associate_id
        pin = self.query_one("#login-pin", Input)
        pin.display = True
        pin.focus()
        self._say(msg("login.pin", who=associate_id), error=False)

    @on(Input.Submitted, "#login-pin")
    def _pin_entered(self, event: Input.Submitted) -> None:
        associate_id = self.query_one("#login-id", Input).value.strip()
        if not associate_id:
            self._reset(msg("login.first"))
            return
        # Counted per id across every terminal: a few tries, then a lockout and an alert.
        try:
            check = check_pin(self.app.store, self.app.settings, associate_id, event.value,
                              where=f"station {self.app.station_id}")
        except StoreError as exc:  # the disk or the database: said here, the screen stays up
            event.input.value = ""
            self._say(str(exc))
            return
        if check.associate is None:
            event.input.value = ""
            self._say(f"{check.message}; try again" if check.locked_for_s is None else check.message)
            return
        self.app.login(check.associate)
