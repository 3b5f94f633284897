"""Home: the work queue in six sections, each with its count, and a search."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Grid, Vertical
from textual.css.query import NoMatches
from textual.widgets import Button, DataTable, Input

from agent.views import queue_view
from ui.tui.fmt import hhmm, window
from ui.tui.widgets.plain import plain

LABELS = {
    "to_pick": "To pick", "ready": "Ready", "arrived": "Arrived",
    "returns": "Return", "no_shows": "No-shows", "exceptions": "Exceptions",
}
# Sections whose non-zero count needs someone's attention now.
URGENT = ("arrived", "no_shows", "exceptions")


def _columns(section: str, narrow: bool) -> list[tuple[str, str]]:
    """(key, heading) pairs; the narrow layout keeps what identifies the work."""
    wide = {
        "to_pick": [("order_id", "Order"), ("customer_name", "Customer"), ("window", "Window"),
                    ("fulfillment", "Type")],
        "ready": [("bin", "Bin"), ("order_id", "Order"), ("customer_name", "Customer"),
                  ("hold", "Hold until"), ("arrival", "Arrived")],
        "arrived": [("order_id", "Order"), ("arrival_bay", "Bay"), ("arrival_vehicle", "Vehicle"),
                    ("bin", "Bin"), ("since", "Since"), ("customer_name", "Customer")],
        "returns": [("bin", "Bin"), ("order_id", "Order"), ("items", "Items"), ("reason", "Reason")],
        "no_shows": [("order_id", "Order"), ("state", "State"), ("bin", "Bin"), ("hold", "Hold"),
                     ("customer_name", "Customer")],
        "exceptions": [("what", "What"), ("order_id", "Order"), ("detail", "Detail")],
    }[section]
    if not narrow:
        return wide
    keep = {"to_pick": 2, "exceptions": 2}.get(section, 3)
    return wide[:keep]


def _cell(row: dict, key: str) -> Text:
    """A cell as literal text: a DataTable parses markup in a plain str cell."""
    if key == "window":
        return plain(window(row.get("window_start"), row.get("window_end")))
    if key == "hold":
        return plain(hhmm(row.get("hold_until")))
    if key in ("arrival", "since"):
        if not row.get("arrived_at"):
            return Text("")
        cell = plain(f"{hhmm(row['arrived_at'])} bay {row.get('arrival_bay') or '?'}")
        cell.stylize("bold black on yellow")
        return cell
    if key == "items":
        return plain(sum(line["quantity"] for line in row["lines"]))
    value = row.get(key)
    return plain("" if value is None else value)


class QueueView(Vertical):
    """The work screen's home body: six sections with counts, a search and the table."""

    def __init__(self) -> None:
        super().__init__(id="queue-view")
        self.section = "to_pick"
        self.search = ""
        self.data: dict = {}
        self._filled: tuple | None = None  # what the table shows: (section, narrow, rows)

    def compose(self) -> ComposeResult:
        with Grid(id="sections"):
            for name, label in LABELS.items():
                yield Button(label, id=f"sec-{name}", compact=True)
        yield Input(placeholder="search order, name or bin (ctrl+f)", id="search", compact=True)
        yield DataTable(id="queue", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
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
        self.data = queue_view.queue(self.app.store, search=self.search or None)
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
        filled = (self.section, narrow, rows)
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
            cells = [_cell(row, k) for k, _ in columns]
            if row.get("arrived_at") and not cells[0].spans:
                cells[0].stylize("bold black on yellow")  # the customer is outside
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
        self.section = event.button.id.removeprefix("sec-")
        self.refresh_data()
        self.query_one("#queue").focus()

    @on(Input.Changed, "#search")
    def _search(self, event: Input.Changed) -> None:
        self.search = event.value.strip()
        self.refresh_data()

    @on(Input.Submitted, "#search")
    def _search_done(self) -> None:
        self.query_one("#queue").focus()

    @on(DataTable.RowSelected, "#queue")
    def _open(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value
        if self.section != "exceptions":
            self.app.open_order(key)
            return
        kind, _, ident = key.partition(":")
        if kind == "dead_letter":
            from ui.tui.dialogs.dlq import DlqDialog

            row = next(r for r in self.data["exceptions"]["rows"] if r["id"] == ident)
            self.app.push_screen(DlqDialog(row), self._dlq_done)
        elif kind == "conflict":
            self.app.open_order(ident)
        else:
            row = next(r for r in self.data["exceptions"]["rows"] if r["id"] == ident)
            self.screen.say(f"quarantined snapshot {ident} ({row['order_id'] or 'no order id'}):"
                            f" {row['detail']}")

    def _dlq_done(self, result: str | None) -> None:
        if result:
            self.screen.say(result)
        self.refresh_data()
