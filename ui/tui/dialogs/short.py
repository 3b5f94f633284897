"""One line of a pick: record units short with a reason, or confirm a count (policy ``quantity``)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from agent.errors import BusinessRuleError, OrderCancelledError, StoreError
from config.catalogue import msg
from config.vocabulary import ShortReason
from ui.tui.dialogs.base import Dialog
from ui.tui.fmt import refusal
from ui.tui.items import SHORT_REASON_TEXT, SHORT_REASONS, Line, port
from ui.tui.widgets.plain import Plain


def _line_text(line: Line) -> Text:
    # Plain Text: the description and location come from the OMS.
    return Text(msg("short.line", where=line.location or "-", item=line.description,
                    left=line.to_pick, wanted=line.wanted))


def _count(raw: str, most: int) -> int | None:
    return int(raw) if raw.isdigit() and 1 <= int(raw) <= most else None


class ShortDialog(Dialog):
    """How many are missing (default: all still to pick) and why, then one Enter records it.

    The count field keeps the focus (digits go there); ↑/↓ move the reason. One Enter,
    not two steps: on a handheld there is no Tab, and a second Enter typed before the
    focus moved would otherwise land in the wrong place.
    """

    TITLE_TEXT = msg("short.title")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "reason(-1)", "Previous reason", show=False),
        Binding("down", "reason(1)", "Next reason", show=False),
    ]

    def __init__(self, order_id: str, line: Line):
        super().__init__()
        self.order_id = order_id
        self.line = line

    def compose_dialog(self) -> ComposeResult:
        yield Plain(_line_text(self.line), classes="dialog-text")
        yield Input(str(self.line.to_pick), id="short-qty", compact=True, restrict=r"[0-9]*",
                    max_length=4)
        yield OptionList(*(Option(msg(SHORT_REASON_TEXT[r]), id=r) for r in SHORT_REASONS),
                         id="short-reasons")
        yield Plain(msg("short.hint"), classes="dim")

    def on_mount(self) -> None:
        reasons = self.query_one("#short-reasons", OptionList)
        reasons.can_focus = False
        reasons.highlighted = 0
        self.query_one("#short-qty").focus()

    def action_reason(self, step: int) -> None:
        reasons = self.query_one("#short-reasons", OptionList)
        reasons.highlighted = ((reasons.highlighted or 0) + step) % len(SHORT_REASONS)

    @on(Input.Submitted, "#short-qty")
    def _submitted(self) -> None:
        highlighted = self.query_one("#short-reasons", OptionList).highlighted or 0
        self._record(SHORT_REASONS[highlighted])

    @on(OptionList.OptionSelected, "#short-reasons")
    def _clicked(self, event: OptionList.OptionSelected) -> None:
        self._record(ShortReason(str(event.option.id)))

    def _record(self, reason: ShortReason) -> None:
        quantity = _count(self.query_one("#short-qty", Input).value, self.line.to_pick)
        if quantity is None:
            self.say(msg("short.range", most=self.line.to_pick), error=True)
            return
        try:
            port(self.app).short(self.order_id, self.line.line_id, quantity, reason)
        except OrderCancelledError as exc:
            from ui.tui.dialogs.pick import Stopped

            self.dismiss(Stopped(str(exc)))
            return
        except (BusinessRuleError, StoreError) as exc:  # a store error too: the screen stays up
            self.say(refusal(exc), error=True)
            return
        self.dismiss(msg("short.done", count=quantity, item=self.line.description,
                         reason=msg(SHORT_REASON_TEXT[reason]).lower()))


class ConfirmQuantityDialog(Dialog):
    """Policy ``quantity``: the picker counts the units into the tote and confirms the count."""

    TITLE_TEXT = msg("count.title")

    def __init__(self, order_id: str, line: Line):
        super().__init__()
        self.order_id = order_id
        self.line = line

    def compose_dialog(self) -> ComposeResult:
        yield Plain(_line_text(self.line), classes="dialog-text")
        yield Input(str(self.line.to_pick), id="confirm-qty", compact=True, restrict=r"[0-9]*",
                    max_length=4)

    def on_mount(self) -> None:
        self.query_one("#confirm-qty").focus()

    @on(Input.Submitted, "#confirm-qty")
    def _submitted(self, event: Input.Submitted) -> None:
        quantity = _count(event.value, self.line.to_pick)
        if quantity is None:
            self.say(msg("short.range", most=self.line.to_pick), error=True)
            return
        try:
            message = port(self.app).confirm(self.order_id, self.line.line_id, quantity)
        except OrderCancelledError as exc:
            from ui.tui.dialogs.pick import Stopped

            self.dismiss(Stopped(str(exc)))
            return
        except (BusinessRuleError, StoreError) as exc:  # a store error too: the screen stays up
            self.say(refusal(exc), error=True)
            return
        self.dismiss(message)
