"""Exceptions a manager finishes on screen: an order's dead letters (all at once), a conflict
between the store and the OMS, a quarantined snapshot.

A manager logged in on this terminal is not asked for an id and PIN again: the
session already proved who they are. Anyone else approves with a manager's id
(typed or badge) and PIN, as in every other approval.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input

from agent.errors import BusinessRuleError, StoreError
from agent.orders import dead_letters
from config.catalogue import msg
from ui.tui.dialogs.base import Dialog
from ui.tui.dialogs.manager import check_manager
from ui.tui.fmt import refusal
from ui.tui.widgets.plain import Plain


class ManagerDecides(Dialog):
    """Base: who decides (the session's manager, or an id and PIN) and a note or reason."""

    NOTE_KEY = "exception.reason"

    def __init__(self, rows: list[dict[str, Any]] | dict[str, Any]):
        super().__init__()
        self.rows = rows if isinstance(rows, list) else [rows]  # one exception, or an order's
        self.order_id = self.rows[0]["order_id"]

    @property
    def session_manager(self) -> str | None:
        who = self.app.associate
        return who.id if who is not None and who.role == "manager" else None

    def compose_dialog(self) -> ComposeResult:
        yield Plain("\n".join(self.describe(r) for r in self.rows), classes="dialog-text", id="exc-rows")
        yield Input(placeholder=msg("exception.manager_id"), id="dlq-mgr", compact=True, classes="scan")
        yield Input(placeholder=msg("exception.manager_pin"), id="dlq-pin", password=True, compact=True,
                    restrict=r"[0-9]*", max_length=12)
        yield Input(placeholder=msg(self.NOTE_KEY), id="dlq-reason", compact=True, max_length=200)

    def describe(self, row: dict[str, Any]) -> str:
        return f"{row['order_id'] or '-'} · {row['detail']}"

    def on_mount(self) -> None:
        manager = self.session_manager
        for ident in ("#dlq-mgr", "#dlq-pin"):
            self.query_one(ident).display = manager is None
        if manager is not None:
            self.say(msg("exception.as_manager", name=self.app.associate.name))
        self.query_one("#dlq-reason" if manager else "#dlq-mgr").focus()

    @on(Input.Submitted)
    def _next_field(self, event: Input.Submitted) -> None:
        event.stop()
        self.focus_next()

    def decider(self) -> str | None:
        """The manager deciding, or None (and said why) when the approval is not right."""
        if self.session_manager is not None:
            return self.session_manager
        manager_id, why = check_manager(self.app, self.query_one("#dlq-mgr", Input).value,
                                        self.query_one("#dlq-pin", Input).value)
        if manager_id is None:
            self.query_one("#dlq-pin", Input).value = ""
            self.say(f"{why}; nothing changed", error=True)
        return manager_id

    def note(self) -> str:
        return self.query_one("#dlq-reason", Input).value


class DlqDialog(ManagerDecides):
    """Every dead letter of one order, decided together (they hold the order's later events)."""

    NOTE_KEY = "exception.discard_reason"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("f2", "decide('retry')", "Send again"),
                                         Binding("f3", "decide('discard')", "Give up")]

    def __init__(self, rows: list[dict[str, Any]] | dict[str, Any]):
        super().__init__(rows)
        self.TITLE_TEXT = msg("exception.dead_title", count=len(rows), order=self.order_id)

    def action_decide(self, what: str) -> None:
        manager_id = self.decider()
        if manager_id is None:
            return
        app = self.app
        try:
            for row in self.rows:
                if what == "retry":
                    dead_letters.retry(app.store, app.settings, row["id"], manager_id=manager_id)
                else:
                    dead_letters.discard(app.store, app.settings, row["id"], manager_id=manager_id,
                                         reason=self.note())
        except (BusinessRuleError, StoreError) as exc:  # a store error too: the screen stays up
            self.say(refusal(exc), error=True)
            return
        if what == "retry":
            app.watch_retries([row["id"] for row in self.rows], self.order_id)
            self.dismiss(msg("exception.retried", count=len(self.rows), order=self.order_id))
        else:
            self.dismiss(msg("exception.discarded", count=len(self.rows), order=self.order_id))


class ResolveDialog(ManagerDecides):
    """A conflict or a quarantined snapshot: the manager says how it was settled."""

    NOTE_KEY = "exception.how_settled"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("f2", "resolve", "Settled")]

    def __init__(self, row: dict[str, Any]):
        super().__init__([row])
        self.row = row
        self.TITLE_TEXT = msg("exception.conflict_title" if row["kind"] == "conflict"
                              else "exception.quarantine_title", order=row["order_id"] or "-")

    def action_resolve(self) -> None:
        manager_id = self.decider()
        if manager_id is None:
            return
        app, row = self.app, self.row
        try:
            if row["kind"] == "conflict":
                dead_letters.resolve_conflict(app.store, app.settings, row["id"], manager_id=manager_id,
                                              note=self.note())
            else:
                dead_letters.resolve_quarantine(app.store, app.settings, int(row["id"]),
                                                manager_id=manager_id, reason=self.note())
        except (BusinessRuleError, StoreError) as exc:
            self.say(refusal(exc), error=True)
            return
        self.dismiss(msg("exception.settled", order=row["order_id"] or "-"))
