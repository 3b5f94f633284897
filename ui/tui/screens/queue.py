"""Home: the work queue in six sections, each with its count, and a search."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Grid, Vertical
from textual.css.query import NoMatches
from textual.widgets import Button, DataTable, Input

from agent.kpis.timers import URGENCY, arrival_timers, describe, timers_by_order
from agent.views import queue_view
from config.catalogue import CATALOGUE, msg
from ui.tui.fmt import day_hhmm, hhmm, short_wait, window
from ui.tui.widgets.plain import plain
from ui.tui.work_signals import bay_label

LABELS = {name: msg(f"tab.{name}")
          for name in ("to_pick", "ready", "arrived", "returns", "no_shows", "exceptions")}
# A customer outside: black on yellow, 19:1 however the row around it is drawn.
ARRIVED_STYLE = "bold #000000 on #ffd000"
CLOCK_REFRESH_S = 15.0
# Sections whose non-zero count needs someone's attention now.
URGENT = ("arrived", "no_shows", "exceptions")


def _columns(section: str, narrow: bool) -> list[tuple[str, str]]:
    """(key, heading) pairs; the narrow layout keeps what identifies the work and its clock."""
    keys = {
        "to_pick": ["order_id", "due", "customer_name", "window", "fulfillment"],
        "ready": ["bin", "order_id", "customer_name", "hold", "arrival"],
        "arrived": ["order_id", "waited", "bin", "bay", "arrival_vehicle", "customer_name"],
        "returns": ["bin", "order_id", "items", "reason"],
        "no_shows": ["order_id", "state", "bin", "hold", "customer_name"],
        "exceptions": ["what", "order_id", "detail"],
    }[section]
    wide = [(key, msg(f"col.{key}")) for key in keys]
    if not narrow:
        return wide
    keep = {"exceptions": 2, "arrived": 4}.get(section, 3)
    return wide[:keep]


# Timer states as cells: contrast >= 4.5:1 (tests/ui/test_contrast.py).
TIMER_STYLE = {"late": "bold #ffffff on #b00020", "nearing": "bold #000000 on #ffd000", "on_time": ""}


def _cell(row: dict[str, Any], key: str, timers: dict[str, Any]) -> Text:
    """A cell as literal text: a DataTable parses markup in a plain str cell."""
    timer = timers.get(str(row.get("order_id")))
    if key in ("due", "waited"):
        if timer is None:
            return Text("")
        label = describe(timer) if key == "due" else short_wait(timer.waited_s)
        return Text(label, style=TIMER_STYLE[timer.state])
    if key == "bay":
        return plain(bay_label(row.get("arrival_bay")))
    if key in ("reason", "state", "what"):  # codes as words: no_show, TO_PICK, order.staged
        return plain(_words(row, key))
    if key == "window":
        return plain(window(row.get("window_start"), row.get("window_end")))
    if key == "hold":
        return plain(day_hhmm(row.get("hold_until")))
    if key in ("arrival", "since"):
        if not row.get("arrived_at"):
            return Text("")
        cell = plain(f"{hhmm(row['arrived_at'])} {bay_label(row.get('arrival_bay'))}")
        cell.stylize(ARRIVED_STYLE)
        return cell
    if key == "items":
        return plain(sum(line["quantity"] for line in row["lines"]))
    value = row.get(key)
    return plain("" if value is None else value)


def _words(row: dict[str, Any], key: str) -> str:
    value = str(row.get(key) or "")
    if key == "what":
        kind = row.get("kind")
        if kind == "dead_letter":
            event = value.split(" ")[0]
            done = msg(f"event.{event}") if f"event.{event}" in CATALOGUE else msg("exception.change")
            return msg("exception.not_accepted", what=done)
        return msg(f"exception.kind_{kind}") if f"exception.kind_{kind}" in CATALOGUE else value
    wording = f"{'reason' if key == 'reason' else 'state'}.{value}"
    return msg(wording) if wording in CATALOGUE else value


def most_urgent_section(data: dict[str, Any]) -> str:
    """Customers outside first, then orders to pick (most urgent on top), returns, READY."""
    for name in ("arrived", "to_pick", "returns", "ready"):
        if data[name]["count"]:
            return name
    return "to_pick"


class QueueView(Vertical):
    """The work screen's home body: six sections with counts, a search and the table."""

    def __init__(self) -> None:
        super().__init__(id="queue-view")
        self.section = "to_pick"
        self.search = ""
        self.data: dict[str, Any] = {}
        self.timers: dict[str, Any] = {}  # order id -> OrderTimer (to pick) or ArrivalTimer (arrived)
        self._opened = False
        self._filled: tuple[Any, ...] | None = None  # what the table shows: (section, narrow, rows)

    def compose(self) -> ComposeResult:
        with Grid(id="sections"):
            for name, label in LABELS.items():
                yield Button(label, id=f"sec-{name}", compact=True)
        yield Input(placeholder="search order, name or bin (ctrl+f)", id="search", compact=True)
        yield DataTable(id="queue", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.refresh_data()
        # The clocks move without any commit: redraw them while the queue is on screen.
        self.set_interval(CLOCK_REFRESH_S, self._clocks)

    def _clocks(self) -> None:
        if self.display and self.screen.is_current:
            self.refresh_data()

    def on_resize(self) -> None:
        self._fill_table()

    def refresh_data(self) -> None:
        try:
            buttons = {name: self.query_one(f"#sec-{name}", Button) for name in LABELS}
        except NoMatches:
            # Called (by the database watcher) between this view's mount and its
            # children's: on_mount reads the queue once they are there.
            return
        app = self.app
        now = app.clock()
        self.data = queue_view.queue(app.store, search=self.search or None, now=now)
        order_timers = timers_by_order(app.store, app.settings.sla, now=now)
        waits = {a.order_id: a for a in arrival_timers(app.store, app.settings.sla, now=now)}
        # Most urgent first: late, then nearing, then the earliest target.
        self.data["to_pick"]["rows"].sort(key=lambda r: (
            (URGENCY[t.state], t.target_at.timestamp()) if (t := order_timers.get(r["order_id"]))
            else (3, 0.0)))
        self.data["arrived"]["rows"].sort(key=lambda r: -(w.waited_s if (w := waits.get(r["order_id"]))
                                                        else 0.0))
        self.timers = {"to_pick": order_timers, "arrived": waits}
        if not self._opened:  # the first look after login: where the most urgent work is
            self._opened = True
            self.section = most_urgent_section(self.data)
        for name, label in LABELS.items():
            button = buttons[name]
            count = self.data[name]["count"]
            button.label = f"{label} {count}"
            button.set_class(name == self.section, "-current")
            button.set_class(name in URGENT and count > 0, "-urgent")
        self._fill_table()

    def _fill_table(self) -> None:
        if not self.data:
            return
        narrow = self.app.size.width < 60
        rows = self.data[self.section]["rows"]
        filled = (self.section, narrow, rows, self.timers.get(self.section))
        if filled == self._filled:
            # Unchanged (the usual case on coming back from an order): rebuilding 300
            # rows costs tens of milliseconds and leaves garbage for the collector.
            return
        self._filled = filled
        table = self.query_one("#queue", DataTable)
        keep = None
        if table.row_count and table.cursor_row is not None:
            try:
                keep = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            except Exception:  # an emptied table has no cell under the cursor
                keep = None
        table.clear(columns=True)
        columns = _columns(self.section, narrow)
        for _key, heading in columns:
            table.add_column(heading)
        for row in rows:
            key = f"{row['kind']}:{row['id']}" if self.section == "exceptions" else row["order_id"]
            timers = self.timers.get(self.section, {})
            cells = [_cell(row, k, timers) for k, _ in columns]
            if row.get("arrived_at") and not cells[0].spans:
                cells[0].stylize(ARRIVED_STYLE)  # the customer is outside
            table.add_row(*cells, key=key)
        if keep is not None and keep in table.rows:
            table.move_cursor(row=table.get_row_index(keep))

    def action_section(self, step: int) -> None:
        names = list(LABELS)
        self.section = names[(names.index(self.section) + step) % len(names)]
        self.refresh_data()

    def action_search(self) -> None:
        self.query_one("#search").focus()

    @on(Button.Pressed, "#sections Button")
    def _pick_section(self, event: Button.Pressed) -> None:
        self.section = (event.button.id or "").removeprefix("sec-")
        self.refresh_data()
        self.query_one("#queue").focus()

    @on(Input.Changed, "#search")
    def _search(self, event: Input.Changed) -> None:
        self.search = event.value.strip()
        self.refresh_data()

    @on(Input.Submitted, "#search")
    def _search_done(self, event: Input.Submitted) -> None:
        """Enter in the search: a scanner that typed here scanned something, so it routes."""
        event.stop()
        from ui.tui.widgets.scan_input import ScanInput

        scanned = self.screen.query_one("#scan", ScanInput).classify(event.value)
        if scanned.kind in ("order", "bin", "pickup_code", "badge"):
            self.clear_search()
            self.app.scans.route(scanned)
            return
        self.query_one("#queue").focus()

    def clear_search(self) -> bool:
        """Search is for a moment: Esc, a scan or an opened order ends it. True if there was one."""
        field = self.query_one("#search", Input)
        had = bool(field.value) or field.has_focus
        if field.value:
            field.value = ""  # Input.Changed refreshes the table
        if field.has_focus:
            self.query_one("#queue").focus()
        return had

    def redraw(self) -> None:
        """Draw the table again for the width it has now (it was hidden while an order was shown)."""
        self._filled = None
        self.refresh_data()

    @on(DataTable.RowSelected, "#queue")
    def _open(self, event: DataTable.RowSelected) -> None:
        key = str(event.row_key.value)
        if self.section != "exceptions":
            self.app.open_order(key)
            return
        from ui.tui.dialogs.dlq import DlqDialog, ResolveDialog

        kind, _, ident = key.partition(":")
        rows = self.data["exceptions"]["rows"]
        row = next(r for r in rows if r["kind"] == kind and r["id"] == ident)
        if kind == "dead_letter":  # all of this order's dead letters: they are decided together
            same = [r for r in rows if r["kind"] == "dead_letter" and r["order_id"] == row["order_id"]]
            self.app.push_screen(DlqDialog(same), self._dlq_done)
        else:
            self.app.push_screen(ResolveDialog(row), self._dlq_done)

    def _dlq_done(self, result: str | None) -> None:
        if result:
            self.screen.say(result)
        self.refresh_data()
