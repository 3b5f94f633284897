"""One order: lines, bin, customer, window, hold, arrival, and its event timeline."""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from agent import queries
from agent.errors import UnknownOrderError
from drivers.scan_parse import Scan
from ui.tui.fmt import day_hhmm, hhmm, window
from ui.tui.screens.base import BaseScreen
from ui.tui.screens.order_flows import OrderFlows

STATE_STYLE = {"TO_PICK": "bold blue", "READY": "bold green", "PICKED_UP": "bold",
               "CANCELLED": "bold white on red"}


def render_detail(d: dict, audit: list[dict], *, narrow: bool) -> Group:
    head = Text()
    head.append(f"{d['order_id']} ", style="bold")
    head.append(f" {d['state']} ", style=STATE_STYLE.get(d["state"], "bold"))
    if d["bin"]:
        head.append("  bin ")
        head.append(d["bin"], style="bold reverse")
    head.append(f"\n{d['customer_name']}")
    if d["phone_last4"]:
        head.append(f" (phone …{d['phone_last4']})")
    head.append(f" · {d['fulfillment']}")
    win = d["pickup_window"] or {}
    head.append(f"\nwindow {window(win.get('start'), win.get('end'))} · hold until"
                f" {day_hhmm(d['hold_until'])}")
    if d["arrival"]:
        a = d["arrival"]
        head.append(f"\nARRIVED {hhmm(a['arrived_at'])} bay {a['bay'] or '?'}"
                    f" {a['vehicle'] or ''}", style="bold black on yellow")
    if d["conflict"]:
        head.append(f"\nCONFLICT: {d['conflict']}", style="bold white on red")
    task = d["return_task"]
    if task and task["state"] == "OPEN":
        head.append(f"\nRETURN TO SHELF: items in bin {task['bin'] or '?'} go back (F6)",
                    style="bold black on yellow")
    lines = Table(expand=True, box=None, header_style="bold", pad_edge=False)
    if not narrow:
        lines.add_column("Line")
    lines.add_column("Item", ratio=1)
    lines.add_column("Qty", justify="right")
    lines.add_column("Picked", justify="right")
    for line in d["lines"]:
        picked = "-" if line["quantity_picked"] is None else str(line["quantity_picked"])
        cells = [line["description"], str(line["quantity"]), picked]
        lines.add_row(*([line["line_id"]] if not narrow else []), *cells)
    timeline = Table(expand=True, box=None, header_style="bold", pad_edge=False,
                     title="Timeline", title_justify="left", title_style="bold")
    timeline.add_column("At")
    timeline.add_column("What", ratio=1)
    timeline.add_column("Outcome")
    if not narrow:
        timeline.add_column("Detail", ratio=1)
    for e in audit:
        arrow = "←" if e["direction"] == "received" else "→"
        style = "bold red" if e["outcome"] in ("dead", "conflict", "quarantined") else ""
        cells = [hhmm(e["at"]), f"{arrow} {e['what']}", Text(str(e["outcome"]), style=style)]
        if not narrow:
            detail = e.get("detail") or ""
            if e.get("resolution"):
                detail = f"{detail} [{e['resolution']} by {e.get('resolved_by')}]".strip()
            cells.append(detail)
        timeline.add_row(*cells)
    return Group(head, Text(""), lines, Text(""), timeline)


class OrderScreen(OrderFlows, BaseScreen):
    BINDINGS: ClassVar[list] = [
        Binding("f2", "stage", "Stage"),
        Binding("f3", "pickup", "Pickup"),
        Binding("f4", "cancel_order", "Cancel"),
        Binding("f6", "return_shelf", "Return"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self) -> None:
        # One instance per app, installed once and shown for each order: composing a
        # screen costs more than the whole scan-to-screen budget.
        super().__init__()
        self.order_id: str | None = None
        self.detail: dict = {}
        self._then: str | None = None
        self._code: str | None = None
        self._shown_state: str | None = None

    def show(self, order_id: str, *, then: str | None = None, code: str | None = None) -> None:
        """Point the screen at an order; it reads it when it becomes the active screen."""
        self.order_id, self._then, self._code = order_id, then, code
        self.detail = {}
        self._live_generation += 1  # a live check still running for the previous order is stale

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="order-body"):
            yield Static(id="order-detail")

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        self.query_one("#scan").focus()
        then, self._then = self._then, None
        if then == "pickup":
            self.call_after_refresh(self.start_pickup, self._code)

    def on_resize(self) -> None:
        if self.order_id:
            self.refresh_data()

    def refresh_data(self) -> None:
        if self.order_id is None or not self.is_mounted:
            return
        try:
            self.detail = queries.order_detail(self.app.store, self.order_id)
            audit = queries.audit(self.app.store, self.order_id)
        except UnknownOrderError as exc:
            self.say(str(exc), error=True)
            return
        target = self.query("#order-detail")
        if not target:  # resumed or resized before its first compose finished
            return
        narrow = self.size.width < 60
        target.first(Static).update(render_detail(self.detail, audit, narrow=narrow))
        if self.detail["state"] != self._shown_state:  # the keys on offer follow the state
            self._shown_state = self.detail["state"]
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        state = self.detail.get("state")
        if action in ("stage", "cancel_order"):
            return state in ("TO_PICK", "READY")
        if action == "pickup":
            return state == "READY"
        if action == "return_shelf":
            task = self.detail.get("return_task")
            return state == "CANCELLED" and bool(task) and task["state"] == "OPEN"
        return True

    def action_back(self) -> None:
        self._live_generation += 1  # leaving abandons a pickup whose live check is under way
        self.app.pop_screen()

    def handle_scan(self, scan: Scan) -> bool:
        state = self.detail.get("state")
        if scan.kind == "pickup_code" and scan.order_id in (None, self.order_id):
            self.start_pickup(scan.pickup_code)
            return True
        if scan.kind == "product" and state in ("TO_PICK", "READY"):
            self.action_stage(first_gtin=scan.gtin)
            return True
        return False
