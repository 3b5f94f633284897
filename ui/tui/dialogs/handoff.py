"""The handoff's own steps, each asked only when needed: who collects, which units go
(partial pickup), every bin scanned (or a manager's override), the ID check.

Each dialog only gathers what the associate established and returns it; the one
``pickup`` call that follows (ui/tui/screens/order_flows.py) decides and records.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from config.catalogue import msg
from ui.tui.dialogs.base import Dialog
from ui.tui.items import ID_CHECK_TEXT, ID_CHECK_TYPES, Line, bins_of
from ui.tui.widgets.plain import Plain
from ui.tui.widgets.scan_input import ScanInput


class CollectorDialog(Dialog):
    """The order names an alternate pickup person: which of the two is at the counter."""

    TITLE_TEXT = msg("collect.title")

    def __init__(self, detail: dict[str, Any], alternate: str):
        super().__init__()
        self.detail = detail
        self.alternate = alternate

    def compose_dialog(self) -> ComposeResult:
        yield Plain(Text(msg("collect.intro", order=self.detail["order_id"])),
                    classes="dialog-text")
        # Names come from the OMS: Text, never markup.
        yield OptionList(Option(Text(msg("collect.customer", name=self.detail["customer_name"])),
                                id="customer"),
                         Option(Text(msg("collect.alternate", name=self.alternate)), id="alternate"),
                         id="collectors")

    def on_mount(self) -> None:
        options = self.query_one("#collectors", OptionList)
        options.highlighted = 0
        options.focus()

    @on(OptionList.OptionSelected, "#collectors")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class IdCheckDialog(Dialog):
    """Age-restricted items (or an alternate person, by config): which photo ID was checked."""

    TITLE_TEXT = msg("idcheck.title")

    def __init__(self, reason: str, going: list[Line]):
        super().__init__(classes="warn")
        self.reason = reason
        self.going = going  # the lines this handoff hands over

    def compose_dialog(self) -> ComposeResult:
        restricted = [p.description for p in self.going if p.age_restricted]
        # The items by name when they are why; else the domain's reason (an alternate person).
        text = Text(msg("idcheck.restricted", items=", ".join(restricted)) if restricted
                    else self.reason)
        yield Plain(text, classes="dialog-text")
        yield OptionList(*(Option(msg(ID_CHECK_TEXT[t]), id=t) for t in ID_CHECK_TYPES), id="id-types")

    def on_mount(self) -> None:
        options = self.query_one("#id-types", OptionList)
        options.highlighted = 0
        options.focus()

    @on(OptionList.OptionSelected, "#id-types")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class BinsDialog(Dialog):
    """Every tote of the order scanned, so none is left behind; F7 asks a manager instead.

    Returns ``(scanned, None)`` once all are scanned, ``(scanned, "override")`` when the
    associate asks for the override (the manager dialog follows), or None.
    """

    TITLE_TEXT = msg("bins.title")
    BINDINGS: ClassVar[list[BindingType]] = [Binding("f7", "override", "Manager")]

    def __init__(self, detail: dict[str, Any], scanned: list[str], reason: str = ""):
        super().__init__()
        self.detail = detail
        self.bins = bins_of(detail)
        self.scanned = [b for b in scanned if b in self.bins]
        self.reason = reason

    def compose_dialog(self) -> ComposeResult:
        yield Plain(id="bins-list", classes="dialog-text")
        yield ScanInput(placeholder="bin barcode, Enter", id="bins-scan", expect="bin")
        yield Plain(msg("bins.override"), classes="dim")

    def on_mount(self) -> None:
        self._paint()  # the list says which totes are missing; the reason goes to the manager
        self.query_one("#bins-scan").focus()

    def _paint(self) -> None:
        t = Text(msg("bins.head", order=self.detail["order_id"], count=len(self.bins)) + "\n")
        for n, b in enumerate(self.bins, 1):
            done = b in self.scanned
            t.append(f"{'✓' if done else '·'} {msg('bins.row', bin=b, n=n, m=len(self.bins))}\n",
                     style="green" if done else "bold")
        t.rstrip()
        self.query_one("#bins-list", Static).update(t)

    @on(ScanInput.Scanned)
    def _scanned(self, event: ScanInput.Scanned) -> None:
        event.stop()
        scan = event.scan
        if scan.kind != "bin":
            self.say(msg("bins.not_a_bin"), error=True)
            return
        if scan.value not in self.bins:
            self.say(msg("bins.stranger", bin=scan.value, order=self.detail["order_id"]),
                     error=True)
            return
        if scan.value not in self.scanned:
            self.scanned.append(scan.value)
        self._paint()
        left = [b for b in self.bins if b not in self.scanned]
        if not left:
            self.dismiss((list(self.scanned), None))
        else:
            self.say(msg("bins.still", bin=scan.value, bins=", ".join(left)))

    def action_override(self) -> None:
        self.dismiss((list(self.scanned), "override"))


class PartialDialog(Dialog):
    """Partial pickup: how many of each line the customer takes now (the rest stays READY)."""

    TITLE_TEXT = msg("partial.title")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("minus,left", "change(-1)", "Less", show=False),
        Binding("plus,right", "change(1)", "More", show=False),
        Binding("f2", "done", "Continue"),
    ]

    def __init__(self, detail: dict[str, Any], lines: list[Line]):
        super().__init__()
        self.detail = detail
        self.lines = [p for p in lines if p.remaining_to_hand_over()]
        self.taking = {p.line_id: p.remaining_to_hand_over() for p in self.lines}
        self.cursor = 0

    def compose_dialog(self) -> ComposeResult:
        yield Plain(id="partial-lines", classes="dialog-text")
        yield Plain(msg("partial.hint"), classes="dim")

    def on_mount(self) -> None:
        self._paint()

    def _paint(self) -> None:
        t = Text(f"{self.detail['order_id']} · {self.detail['customer_name']}\n")
        for i, p in enumerate(self.lines):
            mine = i == self.cursor
            t.append("▶ " if mine else "  ", style="bold")
            t.append(f"{self.taking[p.line_id]}/{p.remaining_to_hand_over()} ", style="bold")
            t.append(p.description, style="reverse" if mine else "")
            if p.age_restricted:
                t.append(" [ID]", style="bold yellow")
            t.append("\n")
        t.rstrip()
        self.query_one("#partial-lines", Static).update(t)

    def action_cursor(self, step: int) -> None:
        if self.lines:
            self.cursor = (self.cursor + step) % len(self.lines)
            self._paint()

    def action_change(self, step: int) -> None:
        if not self.lines:
            return
        line = self.lines[self.cursor]
        self.taking[line.line_id] = max(0, min(line.remaining_to_hand_over(),
                                               self.taking[line.line_id] + step))
        self._paint()

    def action_done(self) -> None:
        taking = {k: v for k, v in self.taking.items() if v}
        if not taking:
            self.say(msg("partial.none"), error=True)
            return
        self.dismiss(taking)


class SignedDialog(Dialog):
    """The customer signs the printed acknowledgment; F2 once it is signed. Nothing here takes
    focus, so a scanner's Enter cannot answer for the associate."""

    TITLE_TEXT = msg("signed.title")
    BINDINGS: ClassVar[list[BindingType]] = [Binding("f2", "signed", "Signed")]

    def __init__(self, reason: str):
        super().__init__(classes="warn")
        self.reason = reason

    def compose_dialog(self) -> ComposeResult:
        yield Plain(Text(self.reason), classes="dialog-text")
        yield Plain(msg("signed.hint"), classes="dim")

    def action_signed(self) -> None:
        self.dismiss(True)
