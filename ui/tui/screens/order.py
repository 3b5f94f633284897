"""One order: lines, bin, customer, window, hold, arrival, and its event timeline."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.geometry import Size
from textual.widget import Widget

from agent.errors import UnknownOrderError
from agent.orders.states import OrderAction, allows
from agent.views import queries
from config.catalogue import CATALOGUE, msg
from config.vocabulary import OrderState
from drivers.scan_parse import Scan
from ui.tui.fmt import day_hhmm, hhmm, window
from ui.tui.items import alternate_of, bins_of
from ui.tui.screens.order_flows import OrderFlows
from ui.tui.widgets.columns import Column, table
from ui.tui.work_signals import bay_label

STATE_STYLE = {OrderState.TO_PICK: "bold blue", OrderState.READY: "bold green",
               OrderState.PICKED_UP: "bold", OrderState.CANCELLED: "bold white on red"}
# The screen's key actions and the order rule each one asks (agent.orders.states).
_RULE_OF_KEY = {"stage": OrderAction.STAGE, "cancel_order": OrderAction.CANCEL,
                "pickup": OrderAction.PICKUP, "partial": OrderAction.PICKUP,
                "return_shelf": OrderAction.RETURN_TO_SHELF}


def render_detail(d: dict[str, Any], audit: list[dict[str, Any]], *, narrow: bool, width: int) -> Content:
    """The order as text laid out for ``width`` columns, padded by hand: Rich tables measured
    and drew every cell twice per order, a large share of a scan's time."""
    head: list[Any] = [(d["order_id"], "bold"), " ", (f" {d['state']} ", STATE_STYLE.get(d["state"], "bold"))]
    bins = bins_of(d)
    if bins:
        head += ["  bin " if len(bins) == 1 else f"  {len(bins)} bins "]
        for n, b in enumerate(bins):
            head += [" " if n else "", (b, "bold reverse")]
    head.append(f"\n{d['customer_name']}")
    if d["phone_last4"]:
        head.append(f" (phone …{d['phone_last4']})")
    head.append(f" · {d['fulfillment']}")
    alternate = alternate_of(d)
    if alternate:
        head.append("\n" + msg("order.alternate", name=alternate))
    win = d["pickup_window"] or {}
    head.append(f"\nwindow {window(win.get('start'), win.get('end'))} · hold until"
                f" {day_hhmm(d['hold_until'])}")
    if d["arrival"]:
        a = d["arrival"]
        head += ["\n", (msg("order.arrived", at=hhmm(a["arrived_at"]), bay=bay_label(a["bay"]),
                             vehicle=a["vehicle"] or msg("vehicle.unknown")),
                        "bold black on yellow")]
    if d["conflict"]:
        head += ["\n", (f"CONFLICT: {d['conflict']}", "bold white on red")]
    task = d["return_task"]
    if task and task["state"] == "OPEN":
        head += ["\n", (msg("order.return_open", bin=task["bin"] or "-"),
                        "bold black on yellow")]
    # Narrow, the item keeps the width: the pick list (F2) shows where each one lives.
    line_columns = [Column("Item", ratio=1), Column("Qty", right=True), Column("Picked", right=True)]
    if not narrow:
        line_columns[:0] = [Column("Line"), Column("Loc")]
        line_columns.append(Column("Short", right=True))
        line_columns.append(Column("Out", right=True))
    line_rows = []
    for line in d["lines"]:  # the OMS's order; the pick list (F2) walks by location
        picked = "-" if line["quantity_picked"] is None else str(line["quantity_picked"])
        item = line["description"] + (" [ID]" if line.get("age_restricted") else "")
        cells = [item, str(line["quantity"]), picked]
        if narrow:
            line_rows.append(cells)
        else:
            line_rows.append([line["line_id"], line.get("location") or "-", *cells,
                              str(line.get("quantity_short") or "-"),
                              str(line.get("quantity_picked_up") or "-")])
    timeline_columns = [Column("At"), Column("What", ratio=1), Column("Outcome")]
    if not narrow:
        timeline_columns.append(Column("Detail", ratio=1))
    timeline_rows = []
    for e in audit:
        arrow = "←" if e["direction"] == "received" else "→"
        style = "bold red" if e["outcome"] in ("dead", "conflict", "quarantined") else ""
        cells = [hhmm(e["at"]), f"{arrow} {event_words(e)}", (event_outcome(e), style)]
        if not narrow:
            detail = e.get("detail") or ""
            if e.get("resolution"):
                detail = f"{detail} [{e['resolution']} by {e.get('resolved_by')}]".strip()
            cells.append(detail)
        timeline_rows.append(cells)
    return Content("\n").join([
        Content.assemble(*head), Content(""),
        *table(line_columns, line_rows, width),
        Content(""), Content.styled("Timeline", "bold"),
        *table(timeline_columns, timeline_rows, width),
    ])


def event_words(e: dict[str, Any]) -> str:
    """What the store did, in words ("Handed over"), not the event's wire name."""
    key = f"event.{e['what']}"
    return msg(key) if e.get("direction") == "store_event" and key in CATALOGUE else str(e["what"])


def event_outcome(e: dict[str, Any]) -> str:
    """Where a store event stands: sent and acknowledged when, dead when, or how many tries so far."""
    outcome = str(e["outcome"])
    if e.get("direction") != "store_event":
        return outcome
    if outcome == "acked" and e.get("acked_at"):
        return f"acked {hhmm(e['acked_at'])}"
    if outcome == "dead" and e.get("dead_at"):
        return f"dead {hhmm(e['dead_at'])}"
    tries = e.get("attempts") or 0
    return f"{outcome} ({tries} tries)" if tries else f"{outcome} (not sent)"


class OrderDetail(Widget):
    """The order's text, laid out for the width it gets; set with ``show``, drawn in place."""

    DEFAULT_CSS = "OrderDetail { height: auto; }"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._data: tuple[dict[str, Any], list[dict[str, Any]]] | None = None
        self._cache: tuple[int, Content] | None = None

    def show(self, detail: dict[str, Any], audit: list[dict[str, Any]]) -> None:
        self._data = (detail, audit)
        self._cache = None
        self.refresh(layout=True)

    def content_for(self, width: int) -> Content:
        if self._data is None:
            return Content("")
        if self._cache is None or self._cache[0] != width:
            narrow = self.app.size.width < 60
            self._cache = (width, render_detail(*self._data, narrow=narrow, width=width))
        return self._cache[1]

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return self.content_for(width).get_height(self.styles, width)  # type: ignore[arg-type]  # Textual: RenderStyles is the RulesMap it reads

    def render(self) -> Content:
        return self.content_for(self.size.width)


class OrderView(OrderFlows, VerticalScroll):
    """The work screen's order body. One per screen, pointed at each order in turn."""

    def __init__(self) -> None:
        super().__init__(id="order-body")
        self.order_id: str | None = None
        self.detail: dict[str, Any] = {}
        self._shown_state: str | None = None
        self._state_of: tuple[str | None, str | None] = (None, None)  # the order last read
        # Bins of this order scanned while it is on screen: a handoff counts them as scanned.
        self.bins_scanned: set[str] = set()
        # Held, not queried: a scan right after login can arrive before it is mounted.
        self._text = OrderDetail(id="order-detail")

    def compose(self) -> ComposeResult:
        yield self._text

    @property
    def showing(self) -> bool:
        """On screen, with nothing (a dialog, the STOP) in front of it."""
        return self.display and self.screen.is_current

    def show(self, order_id: str) -> bool:
        """Point the view at an order and read it; True if that changed the keys on offer."""
        if order_id != self.order_id:
            self.scroll_home(animate=False)
            self.bins_scanned = set()
        self.order_id = order_id
        self.detail = {}
        self._live_generation += 1  # a live check still running for the previous order is stale
        return self.refresh_data()

    def leave(self) -> None:
        self._live_generation += 1  # leaving abandons a pickup whose live check is under way

    def say(self, text: str, *, error: bool = False) -> None:
        self.screen.say(text, error=error)

    def refresh_data(self) -> bool:
        """Read the order again; True if its state changed the keys on offer (and so the footer)."""
        if self.order_id is None or not self.is_mounted:
            return False
        try:
            self.detail = queries.order_detail(self.app.store, self.order_id)
            audit = queries.audit(self.app.store, self.order_id)
        except UnknownOrderError as exc:
            self.say(str(exc), error=True)
            return False
        self._text.show(self.detail, audit)
        state = self.detail["state"]
        was, self._state_of = self._state_of, (self.order_id, state)
        if state == self._shown_state:
            return False
        self._shown_state = state  # the keys on offer follow the state
        self.screen.keys_changed()
        task = self.detail.get("return_task") or {}
        if (was == (self.order_id, OrderState.TO_PICK) and state == OrderState.CANCELLED
                and task.get("state") == "OPEN" and self.showing):
            # Cancelled online with units already picked (the pick list closed or not):
            # the picker stops now, and the STOP offers the return.
            self._stop(msg("pick.stopped", order=self.order_id))
        return True

    def allows(self, action: str) -> bool:
        rule = _RULE_OF_KEY.get(action)
        if rule is None:
            return True  # not an order action (help, back, ...)
        state = self.detail.get("state")
        task = self.detail.get("return_task")
        return allows(rule, state, return_task_open=task is not None and task["state"] == "OPEN")

    def handle_scan(self, scan: Scan) -> bool:
        state = self.detail.get("state")
        # A pickup code is not claimed here: the app finds the order it belongs to, which
        # may be another than the one on screen (ui.tui.scan_routing).
        if scan.kind == "product" and allows(OrderAction.STAGE, state):
            self.action_stage(first_gtin=scan.gtin)
            return True
        if scan.kind == "bin" and allows(OrderAction.PICKUP, state) and scan.value in bins_of(self.detail):
            self.note_bin(scan.value)
            return True
        return False

    def note_bin(self, bin_id: str) -> None:
        """A bin of this order was scanned: the handoff will not ask for it again."""
        bins = bins_of(self.detail)
        if bin_id not in bins:
            return
        self.bins_scanned.add(bin_id)
        left = [b for b in bins if b not in self.bins_scanned]
        if left:
            self.say(msg("order.also_bring", bin=bin_id, bins=", ".join(left)))
        else:
            self.say(msg("order.all_bins" if len(bins) > 1 else "order.bin_seen", bin=bin_id))
