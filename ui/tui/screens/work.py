"""The associate's working screen: the queue, or one order, under the same chrome.

Opening an order swaps the body in place (QueueView out, OrderView in) instead
of pushing a screen. A screen switch restyles every widget of the new screen and
redraws the whole terminal, status line, scan field and keys included; swapping
the body redraws the body. That is most of what separates a scan from its order
being on screen (docs/benchmarks.md, "Associate UI"). Escape goes back to the
queue; dialogs and the STOP are still screens of their own, on top of this one.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import DataTable

from drivers.scan_parse import Scan
from ui.tui.screens.base import BaseScreen
from ui.tui.screens.order import OrderView
from ui.tui.screens.queue import QueueView
from ui.tui.widgets.footer import KeyFooter
from ui.tui.widgets.scan_input import ScanInput

QUEUE_ACTIONS = ("section", "search", "clear_search")
ORDER_ACTIONS = ("stage", "pickup", "cancel_order", "return_shelf", "partial", "back")


class WorkScreen(BaseScreen):
    # F2 and F3 mean one thing on the queue and another on an order: check_action
    # lets through the binding of the body on screen, and the footer shows only it.
    BINDINGS: ClassVar[list[Any]] = [
        Binding("f2", "section(1)", "Next"),
        Binding("f3", "section(-1)", "Prev"),
        Binding("ctrl+f", "search", "Search"),
        Binding("f2", "stage", "Stage"),
        Binding("f3", "pickup", "Pickup"),
        Binding("f4", "cancel_order", "Cancel"),
        Binding("f6", "return_shelf", "Return"),
        Binding("f7", "partial", "Partial"),
        Binding("escape", "back", "Back"),
        Binding("escape", "clear_search", "Clear search", show=False),
        # From the scan field, where focus rests: the arrows move in the list and Enter on an
        # empty field opens the highlighted order (no Tab or Shift+Tab to reach the table).
        Binding("down", "cursor(1)", "Next row", show=False),
        Binding("up", "cursor(-1)", "Previous row", show=False),
        Binding("pagedown", "cursor(10)", "Page down", show=False),
        Binding("pageup", "cursor(-10)", "Page up", show=False),
        Binding("f10", "kpis", "Figures"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.queue = QueueView()
        self.order = OrderView()
        self._on_order = False
        self._queue_focus: Widget | None = None

    def compose_body(self) -> ComposeResult:
        yield self.queue
        yield self.order

    @property
    def order_id(self) -> str | None:
        """The order on screen, or None on the queue."""
        return self.order.order_id if self._on_order else None

    @property
    def detail(self) -> dict[str, Any]:
        """The order on screen as last read ({} on the queue)."""
        return self.order.detail if self._on_order else {}

    def on_mount(self) -> None:
        self.query_one("#scan").focus()

    # --- which body ---------------------------------------------------------
    def show_order(self, order_id: str, *, then: str | None = None, code: str | None = None,
                   bin_scanned: str | None = None) -> None:
        if not self.order.is_attached:  # a scan in the instant after login, before compose
            self.call_after_refresh(self.show_order, order_id, then=then, code=code,
                                    bin_scanned=bin_scanned)
            return
        scan = self.query_one("#scan")
        switched = not self._on_order
        if switched:
            self.queue.clear_search()
            focused = self.focused
            self._queue_focus = focused if focused is not None and self.queue in focused.ancestors else None
            self._on_order = True
            if self.focused is not scan:
                self.set_focus(scan)
            self.queue.display = False
            self.order.display = True
        if order_id != self.order.order_id:
            self.say("")  # a message about another order or the queue is not about this one
        if not self.order.show(order_id) and switched:
            self.keys_changed()
        if bin_scanned is not None:  # opened by scanning its bin: that tote is at hand
            self.order.note_bin(bin_scanned)
        if then == "pickup":
            self.call_after_refresh(self.order.start_pickup, code)

    def show_queue(self) -> None:
        if not self._on_order:
            return
        self.order.leave()
        self._on_order = False
        self.order.display = False
        self.queue.display = True
        self.say("")
        self.queue.redraw()
        if self._queue_focus is not None and self._queue_focus.is_attached:
            self.set_focus(self._queue_focus)
        self.keys_changed()

    def refresh_data(self) -> None:
        (self.order if self._on_order else self.queue).refresh_data()

    def keys_changed(self) -> None:
        """The keys on offer changed (body or order state): redraw the footer in this frame.

        Not refresh_bindings(): its signal would only have the footer work them out again.
        """
        self.query_one(KeyFooter).sync()

    # --- keys ---------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[Any, ...]) -> bool | None:
        if action in QUEUE_ACTIONS:
            return not self._on_order
        if action in ORDER_ACTIONS:
            return self._on_order and self.order.allows(action)
        if action == "kpis":  # the store's figures are for managers, from the queue
            who = self.app.associate
            return not self._on_order and who is not None and who.role == "manager"
        return True

    def action_section(self, step: int) -> None:
        self.queue.action_section(step)

    def action_search(self) -> None:
        self.queue.action_search()

    def action_clear_search(self) -> None:
        self.queue.clear_search()

    def action_cursor(self, step: int) -> None:
        if self._on_order:  # a long order on a handheld: the arrows scroll it, no Tab first
            self.order.scroll_relative(y=step, animate=False)
            return
        table = self.queue.query_one("#queue", DataTable)
        if table.row_count:
            table.move_cursor(row=max(0, min(table.row_count - 1, table.cursor_row + step)))

    @on(ScanInput.EmptyEnter)
    def _open_highlighted(self, event: ScanInput.EmptyEnter) -> None:
        event.stop()
        if not self._on_order:
            table = self.queue.query_one("#queue", DataTable)
            if table.row_count:
                table.action_select_cursor()

    def action_stage(self) -> None:
        self.order.action_stage()

    def action_pickup(self) -> None:
        self.order.action_pickup()

    def action_cancel_order(self) -> None:
        self.order.action_cancel_order()

    def action_return_shelf(self) -> None:
        self.order.action_return_shelf()

    def action_partial(self) -> None:
        self.order.action_partial()

    def action_kpis(self) -> None:
        from ui.tui.screens.kpis import KpiScreen  # charts load only when a manager asks

        self.app.push_screen(KpiScreen())

    def action_back(self) -> None:
        self.show_queue()

    def handle_scan(self, scan: Scan) -> bool:
        return self._on_order and self.order.handle_scan(scan)
