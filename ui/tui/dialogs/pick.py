"""Pick: the order's lines in pick-path order, each item verified by the store's policy,
short items recorded with a reason, then one or more bins (a bin per tote) and F2 stages.

The picker walks the list top to bottom (``location``); ↑/↓ move the cursor the
keys act on. Every step is a domain action through ``ui.tui.items``: nothing
here decides whether a scan is the right item or whether the order may be staged.
The order is re-read on every commit: a cancellation from the OMS ends the pick
on the spot (``Stopped``: the order screen shows the red STOP).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from agent.errors import (
    BusinessRuleError,
    OrderCancelledError,
    StoreAgentError,
    StoreError,
    UnknownOrderError,
    WrongItemError,
)
from agent.views import queue_view
from config.catalogue import msg
from config.vocabulary import OrderState
from ui.tui.dialogs.base import Dialog
from ui.tui.fmt import refusal
from ui.tui.items import Line, PickList, port
from ui.tui.widgets.plain import Plain
from ui.tui.widgets.scan_input import ScanInput

POLICY_TITLE = {"scan": "pick.title_scan", "quantity": "pick.title_quantity", "off": "pick.title_off"}


@dataclass(frozen=True)
class Stopped:
    """The pick ended because the order was cancelled; ``message`` says so."""

    message: str


class PickDialog(Dialog):
    # The list takes what it needs and scrolls past that; the scan field stays in view.
    DEFAULT_CSS = """
    PickDialog #pick-scroll { height: auto; max-height: 12; }
    PickDialog.-narrow #pick-scroll { max-height: 9; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("f2", "stage", "Stage"),
        Binding("f3", "short", "Short"),
        Binding("f4", "confirm", "Count"),
        Binding("f6", "drop_bin", "Undo bin"),
    ]

    def __init__(self, detail: dict[str, Any], *, first_gtin: str | None = None):
        super().__init__(classes="pick")
        self.detail = detail
        self.first_gtin = first_gtin
        self.cursor = 0
        # Staging again (a READY order moved) starts from no bin: F2 replaces the set.
        self.bins: list[str] = []
        self._warned_bin: str | None = None  # an occupied bin the associate was told about
        self.pick: PickList | None = None
        self._ready = False  # composed and painted once: refresh_data may repaint

    @property
    def order_id(self) -> str:
        return str(self.detail["order_id"])

    def compose_dialog(self) -> ComposeResult:
        yield Plain(id="pick-head", classes="dialog-text")
        with VerticalScroll(id="pick-scroll"):
            yield Plain(id="pick-lines")
        yield Plain(id="pick-bins")
        yield ScanInput(placeholder="item or bin barcode, Enter", id="pick-scan", expect="bin")

    def on_mount(self) -> None:
        self.query_one("#pick-scan").focus()
        self._ready = True
        self.refresh_data()  # reads and paints; an order cancelled in the meantime stops here
        self.query_one(".dialog-title", Static).update(msg(POLICY_TITLE[self.policy]))
        if self.first_gtin and self.pick is not None and self.pick.state != OrderState.CANCELLED:
            self._verify(self.first_gtin)

    @property
    def policy(self) -> str:
        return self.pick.policy if self.pick is not None else "scan"

    def lines(self) -> list[Line]:
        """The pick list as last read, in walking order (the domain sorts it)."""
        return self.pick.lines if self.pick is not None else []

    # --- what is on screen --------------------------------------------------
    def _paint(self) -> None:
        lines = self.lines()
        self.cursor = max(0, min(self.cursor, len(lines) - 1))
        d = self.detail
        # Outside text (names, descriptions, locations) goes in as plain Text: never markup.
        self.query_one("#pick-head", Static).update(Text(f"{d['order_id']} · {d['customer_name']}"))
        t = Text()
        for i, line in enumerate(lines):
            done = line.to_pick == 0
            t.append("▶ " if i == self.cursor else "  ", style="bold")
            t.append(f"{line.location or '-':<7} ", style="bold")
            count = f"{line.verified}/{line.wanted + line.short}"  # short units still count
            t.append(f"{'✓' if done else ' '}{count:>5} ", style="green" if done else "")
            t.append(line.description, style="reverse" if i == self.cursor else "")
            if line.age_restricted:
                t.append(" [ID]", style="bold yellow")
            if line.short:
                t.append(f" short {line.short}", style="bold red")
            t.append("\n")
        t.rstrip()
        self.query_one("#pick-lines", Static).update(t)
        left = sum(line.to_pick for line in lines)
        bins = ", ".join(self.bins) if self.bins else msg("pick.no_bins")
        self.query_one("#pick-bins", Static).update(
            Text(msg("pick.left", bins=bins, count=left) if left else msg("pick.all_left", bins=bins)))

    def refresh_data(self) -> None:
        """Called by the app on every commit (any process): a cancelled order stops the pick."""
        if not self._ready:  # a commit seen while the dialog is still being built
            return
        try:
            self.pick = port(self.app).pick_list(self.order_id)
        except UnknownOrderError as exc:
            self._stopped(str(exc))
            return
        except StoreError as exc:  # busy or failing disk: keep the list as last read, say why
            self.say(refusal(exc), error=True)
            return
        if self.pick.state == OrderState.CANCELLED:
            self._stopped(msg("pick.stopped", order=self.order_id))
            return
        self._paint()

    def _stopped(self, message: str) -> None:
        """End the pick now, whatever step (a short, a count) is open on top of it."""
        while self.app.screen is not self and self in self.app.screen_stack:
            self.app.pop_screen()
        self.dismiss(Stopped(message))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "confirm":  # counting a line is the "quantity" policy's step only
            return self.policy == "quantity"
        return True

    def action_cursor(self, step: int) -> None:
        self.cursor += step
        self._paint()

    # --- scans ----------------------------------------------------------------
    @on(ScanInput.Scanned)
    def _scanned(self, event: ScanInput.Scanned) -> None:
        event.stop()
        scan = event.scan
        if scan.kind == "product" and scan.gtin:
            self._verify(scan.gtin)
        elif scan.kind == "bin":
            self._add_bin(scan.value)
        else:
            self.say(msg("pick.not_item_or_bin"), error=True)

    def _verify(self, gtin: str) -> None:
        lines = self.lines()
        matching = [i for i, p in enumerate(lines) if p.gtin and p.gtin.zfill(14) == gtin]
        # The cursor follows the item, whatever the policy, to a line that still wants it.
        self.cursor = next((i for i in matching if lines[i].to_pick), self.cursor)
        if self.policy != "scan":
            self._paint()
            if not matching:
                self.say(msg("pick.not_on_order", gtin=gtin, order=self.order_id), error=True)
            return
        if not self._act(lambda: port(self.app).verify(self.order_id, gtin)):
            return
        lines = self.lines()
        if lines and lines[self.cursor].to_pick == 0:  # line done: on to the next one to pick
            self.cursor = next((i for i, p in enumerate(lines) if p.to_pick), self.cursor)
            self._paint()
        left = sum(p.to_pick for p in lines)
        self.say(self._last if left else msg("pick.all_picked", done=self._last))

    def _add_bin(self, bin_id: str) -> None:
        if bin_id in self.bins:
            self.say(msg("pick.bin_again", bin=bin_id), error=True)
            return
        holder = queue_view.order_in_bin(self.app.store, bin_id)
        if holder not in (None, self.order_id) and self._warned_bin != bin_id:
            # Another order's items are in it: say so once; the same scan again means "share it".
            self._warned_bin = bin_id
            self.say(msg("pick.bin_occupied", bin=bin_id, order=holder), error=True)
            return
        self.bins.append(bin_id)
        self._paint()
        self.say(msg("pick.bin_added", bin=bin_id, count=len(self.bins)))

    def action_drop_bin(self) -> None:
        if self.bins:
            dropped = self.bins.pop()
            self._paint()
            self.say(msg("pick.bin_dropped", bin=dropped))

    # --- actions --------------------------------------------------------------
    _last = ""

    def _act(self, call: Callable[[], Any]) -> bool:
        """Run one domain action; True when it committed. A refusal rings and changes nothing."""
        try:
            self._last = call()
        except WrongItemError as exc:
            why = str(exc).removeprefix("wrong item: ").rstrip(".")
            self.say(msg("pick.wrong_item", why=why), error=True)
            return False
        except OrderCancelledError as exc:
            self._stopped(str(exc))
            return False
        except (BusinessRuleError, StoreError) as exc:  # a store error too: the screen stays up
            self.say(refusal(exc), error=True)
            return False
        self.refresh_data()
        return True

    def _current(self) -> Line | None:
        lines = self.lines()
        return lines[self.cursor] if lines else None

    def action_short(self) -> None:
        from ui.tui.dialogs.short import ShortDialog

        line = self._current()
        if line is None or line.to_pick == 0:
            self.say(msg("pick.line_done"), error=True)
            return
        self.app.push_screen(ShortDialog(self.order_id, line), self._after_line_step)

    def action_confirm(self) -> None:
        from ui.tui.dialogs.short import ConfirmQuantityDialog

        if self.policy != "quantity":
            self.say(msg("pick.scan_policy"), error=True)
            return
        line = self._current()
        if line is None or line.to_pick == 0:
            self.say(msg("pick.line_done"), error=True)
            return
        self.app.push_screen(ConfirmQuantityDialog(self.order_id, line), self._after_line_step)

    def _after_line_step(self, result: str | Stopped | None) -> None:
        if isinstance(result, Stopped):
            self.dismiss(result)
            return
        self.refresh_data()
        if result and self.is_current:
            self.say(result)

    def action_stage(self) -> None:
        if not self.bins:
            self.say(msg("pick.need_bin"), error=True)
            return
        # Online, the OMS is asked first (the handoff's short timeout, in a worker so the
        # screen stays live): a cancellation made online stops the pick here, before a
        # stage the OMS would refuse. Offline, the stage goes ahead at once.
        self.say(msg("handover.asking_oms", order=self.order_id))
        self.run_worker(self._ask_then_stage(list(self.bins)), group="stage", exclusive=True,
                        exit_on_error=False)

    async def _ask_then_stage(self, bins: list[str]) -> None:
        from agent.workers.live_check import check_before_stage

        try:
            await check_before_stage(self.app.store, self.app.settings,
                                     self.order_id)
        except StoreAgentError as exc:
            self.say(refusal(exc), error=True)
            return
        if not self.is_attached:
            return  # the associate left the pick meanwhile
        self.say("")
        if self._act(lambda: port(self.app).stage(self.order_id, bins)):
            self.dismiss(msg("pick.done", what=self._last))
