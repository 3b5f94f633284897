"""The associate UI: a thin App that owns the session, routes scans and watches the database.

Screens read through ``agent`` and act through ``agent.orders.actions``; the App adds
only what is shared by all of them: who is logged in, the status bar, the
cancellation banner, scan routing, idle logout, force-sync and the watcher
that notices commits made by any process.
"""

from __future__ import annotations

import gc
import importlib
import logging
import time
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.worker import get_current_worker

from agent.alerts import acknowledge_alert
from agent.associates import roster
from agent.clock import iso, utc_now
from agent.errors import StoreAgentError, StoreError, UnknownOrderError
from agent.orders.actions import Actions
from agent.store.connection import Store
from agent.store.devices import scan_patterns
from agent.views import queries, queue_view
from config.catalogue import msg
from config.settings import Associate, Settings
from ui.tui.fmt import set_locale
from ui.tui.keyboard_wedge import KeyboardWedge
from ui.tui.messages import DataChanged, SyncDone
from ui.tui.scan_routing import ScanRouter
from ui.tui.screens.base import BaseScreen
from ui.tui.screens.login import LoginScreen
from ui.tui.serial_scanner import StationScanner, start_station_scanner
from ui.tui.widgets.banner import AlertBanner
from ui.tui.widgets.status_bar import StatusBar
from ui.tui.work_signals import WorkSignals

log = logging.getLogger(__name__)
POLL_S = 0.25
# Not needed for the first frame, so imported once logged in (StoreAgentApp._settle_heap):
# the HTTP client behind F5 and the pickup's live check, and the working screen itself.
AFTER_LOGIN = ("ui.tui.screens.work", "ui.tui.sync_job", "agent.workers.live_check")
# A bell every so often while a cancellation stays unacknowledged: the one
# associate who could stop a wrong handoff may have missed the first.
BELL_REPEAT_S = 30.0
SIGNAL_NOTE_S = 6.0
# A message older than this no longer describes the screen (an F5 error, a DONE): cleared.
MESSAGE_TTL = timedelta(seconds=90)


class StoreAgentApp(App[Any]):
    # Absolute, so a subclass defined elsewhere (serve-ui, a benchmark) finds the styles.
    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "store-agent"
    # ctrl+p: Textual's palette, offering this app's own commands (get_system_commands).
    ENABLE_COMMAND_PALETTE = True
    # Handhelds (40 columns) get the screen class -narrow; see app.tcss.
    # Textual declares this ClassVar[...] | None; re-annotating it here is an override error.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (60, "-wide")]  # noqa: RUF012
    BINDINGS: ClassVar[list[Any]] = [
        Binding("f5", "force_sync", "Sync"),
        Binding("f8", "acknowledge", "Ack alert"),
        Binding("f9", "logout", "Logout"),
        Binding("ctrl+q", "quit", "Quit"),
        Binding("f1", "help", "Help"),
    ]

    opens_serial_scanner = True
    """False for a served (handheld) session: the PC's scanner stays the PC's."""

    def __init__(self, settings: Settings, station_id: str | None = None, *,
                 device_id: str | None = None):
        super().__init__()
        self.scan_patterns = scan_patterns(settings)  # compiled once: [scanning] and pickup.bin_pattern
        self.station_id = station_id or settings.default_station
        # What events name as their device: the station, or a served session's handheld id.
        self.device_id = device_id or self.station_id
        self.store = Store(settings.storage.path, interactive=True)  # never freezes on a lock
        # PIN hashes live in the database: the roster seen by login and manager approval has them.
        self.settings = settings = roster.with_stored_pins(self.store, settings)
        self.actions = Actions(self.store, settings, device_id=self.device_id,
                               print_station=self.station_id)
        self.associate: Associate | None = None
        self.status: dict[str, Any] = {}
        self.alerts: list[dict[str, Any]] = []
        self._seen_alerts: set[int] = set()
        self._last_bell = 0.0
        self._last_input = time.monotonic()
        self._sync_generation = 0
        self.serial_scanner: StationScanner | None = None
        self.clock = utc_now
        """Now, for every clock on screen: tests drive it instead of waiting."""
        set_locale(settings.ui.locale)
        self.scans = ScanRouter(self)  # where a scan no screen claimed goes
        self.wedge = KeyboardWedge(self)  # a wedge scanner's keys reach the scan field
        self._retried: dict[str, str] = {}  # event id -> order id, sent again by a manager here
        self.signals = WorkSignals(self.store, settings.sla, settings.ui.bells)

    # --- life cycle ---------------------------------------------------------
    def on_mount(self) -> None:
        self.refresh_status()
        self.push_screen(LoginScreen())
        self.set_interval(1.0, self._tick)
        self._watch_database()
        if self.opens_serial_scanner:
            self.serial_scanner = start_station_scanner(self, self.settings, self.station_id)

    def on_unmount(self) -> None:
        if self.serial_scanner is not None:
            self.serial_scanner.stop()
        self.store.close()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key | events.MouseDown) and not event.is_forwarded:
            self._last_input = time.monotonic()
            if isinstance(event, events.Key) and self.wedge.asks_for_help(event):
                self.action_help()
                return
            if isinstance(event, events.Key) and not self.wedge.passes(event):
                return
        await super().on_event(event)

    def check_action(self, action: str, parameters: tuple[Any, ...]) -> bool | None:
        if action == "acknowledge":
            return bool(self.alerts) and self.associate is not None
        if action in ("logout", "force_sync"):
            return self.associate is not None
        return True

    # --- the session --------------------------------------------------------
    def login(self, associate: Associate) -> None:
        self.associate = associate
        self.signals.reset()
        self._last_input = time.monotonic()
        self.refresh_status()
        from ui.tui.screens.work import WorkScreen

        self.switch_screen(WorkScreen())
        self.set_timer(0.5, self._settle_heap)

    def _settle_heap(self) -> None:
        """Once logged in: finish importing, collect once, then freeze what is left.

        A full collection walks every object in the process; frozen, the hundred
        thousand that live as long as the app (modules, classes, styles, the
        screens) are no longer walked, so the full collections that do come
        during a scan take a fraction of the time. Unfreezing first lets what the
        previous session left behind be collected, so repeated logins leak nothing.
        """
        for module in AFTER_LOGIN:
            importlib.import_module(module)
        gc.unfreeze()
        gc.collect()
        gc.freeze()

    def action_logout(self, note: str | None = None) -> None:
        self.associate = None
        while len(self.screen_stack) > 2:
            self.pop_screen()
        self.switch_screen(LoginScreen(note))
        self.refresh_bindings()

    def _tick(self) -> None:
        if not self.is_running:  # shutting down (see on_data_changed)
            return
        idle = time.monotonic() - self._last_input
        if self.associate is not None and idle > self.settings.ui.idle_logout_s:
            self.action_logout(f"logged out after {self.settings.ui.idle_logout_s} s without input")
        self.refresh_status()
        if isinstance(self.screen, BaseScreen):
            self.screen.clear_stale(self.clock() - MESSAGE_TTL)
        if self.alerts and time.monotonic() - self._last_bell > BELL_REPEAT_S:
            self._ring()

    def _ring(self) -> None:
        self._last_bell = time.monotonic()
        self.bell()

    # --- what every screen shows -------------------------------------------
    def refresh_status(self) -> None:
        self.status = queries.status(self.store)
        alerts = queue_view.open_alerts(self.store)
        if {a["id"] for a in alerts} - self._seen_alerts:
            self._ring()
        self._seen_alerts |= {a["id"] for a in alerts}
        changed = [a["id"] for a in alerts] != [a["id"] for a in self.alerts]
        self.alerts = alerts
        for screen in self.screen_stack:
            # The login screen too: its freshness must not stay what it was at start-up.
            if isinstance(screen, BaseScreen | LoginScreen) and screen.is_mounted:
                self.paint_chrome(screen)
        if changed:
            self.refresh_bindings()
        if self.associate is not None:
            self._signal(self.signals.check(self.clock()))

    def _signal(self, notes: list[str]) -> None:
        """New work: one bell, and a short note that does not hide the queue for long."""
        if not notes:
            return
        self._ring()
        for note in notes[:3]:
            self.notify(note, severity="warning", timeout=SIGNAL_NOTE_S, markup=False)
        if len(notes) > 3:
            self.notify(msg("signal.more", count=len(notes) - 3), timeout=SIGNAL_NOTE_S, markup=False)

    def paint_chrome(self, screen: Screen[object]) -> None:
        who = f"{self.associate.name} ({self.associate.id})" if self.associate else None
        try:
            screen.query_one(StatusBar).show(self.status, station=self.station_id, associate=who,
                                             associate_id=self.associate.id if self.associate else None)
            others = [a for a in self.status.get("alerts", []) if a["kind"] != "cancelled_while_ready"]
            screen.query_one(AlertBanner).show(self.alerts, others)
        except NoMatches:
            pass

    def say(self, text: str, *, error: bool = False) -> None:
        target = next((s for s in reversed(self.screen_stack) if isinstance(s, BaseScreen)), None)
        if target is not None and target is self.screen:
            target.say(text, error=error)
        else:
            self.notify(text, severity="error" if error else "information", markup=False)
            if error:
                self.bell()

    # --- live: any process's commit reaches the screen within a second -----
    @work(thread=True, exclusive=True, group="watch", exit_on_error=False)
    def _watch_database(self) -> None:
        worker = get_current_worker()
        # Its own connection: data_version only moves for commits by *other* connections.
        with Store(self.settings.storage.path, migrate=False) as watch:
            last = watch.data_version()
            while not worker.is_cancelled:
                time.sleep(POLL_S)
                version = watch.data_version()
                if version != last:
                    last = version
                    self.post_message(DataChanged())

    def watch_retries(self, event_ids: list[str], order_id: str) -> None:
        """Tell, once the sender has tried, whether events a manager sent again got through."""
        self._retried.update(dict.fromkeys(event_ids, order_id))

    def _retries_answered(self) -> None:
        if not self._retried:
            return
        marks = ", ".join("?" for _ in self._retried)
        rows = self.store.conn.execute(
            f"SELECT event_id, status, result_message FROM outbox WHERE event_id IN ({marks})"
            " AND status IN ('acked', 'dead')", list(self._retried)).fetchall()
        for event_id, status, why in rows:
            order_id = self._retried.pop(event_id)
            if status == "acked":
                self.say(msg("exception.accepted", order=order_id))
            else:
                self.say(msg("exception.failed_again", order=order_id, why=why or "-"), error=True)

    def on_data_changed(self, _: DataChanged) -> None:
        if not self.is_running:  # shutting down: the screens are being taken apart, none to paint
            return
        self._retries_answered()
        self.refresh_status()
        for screen in reversed(self.screen_stack):
            if hasattr(screen, "refresh_data") and screen.is_mounted:
                screen.refresh_data()
            if isinstance(screen, BaseScreen):
                break

    # --- going to an order (scans go through ScanRouter) ---------------------
    def open_order(self, order_id: str, *, then: str | None = None, code: str | None = None,
                   bin_scanned: str | None = None) -> None:
        try:
            queries.order_detail(self.store, order_id)
        except UnknownOrderError as exc:
            self.say(str(exc), error=True)
            return
        from ui.tui.screens.work import WorkScreen

        while not isinstance(self.screen, WorkScreen) and len(self.screen_stack) > 2:
            self.pop_screen()
        if isinstance(self.screen, WorkScreen):
            self.screen.show_order(order_id, then=then, code=code, bin_scanned=bin_scanned)

    # --- app-wide actions ---------------------------------------------------
    def action_acknowledge(self) -> None:
        if self.associate is None or not self.alerts:
            return
        # Only the one in view: acknowledging what nobody has read would silence it unseen.
        shown = self.alerts[0]
        try:
            with self.store.write() as conn:
                acknowledge_alert(conn, shown["id"], self.associate.id, iso(self.clock()))
        except StoreError as exc:  # the disk or the database: said, and the app stays up
            self.say(str(exc), error=True)
            return
        self.refresh_status()
        self.say(msg("banner.acknowledged", name=self.associate.name, left=len(self.alerts)))

    def action_help(self) -> None:
        from ui.tui.dialogs.help import HelpDialog

        if not isinstance(self.screen, HelpDialog):
            self.push_screen(HelpDialog(self.screen))

    async def action_quit(self) -> None:
        """ctrl+q asks first: a stray chord must not close the terminal mid-shift."""
        from ui.tui.dialogs.help import QuitDialog

        if isinstance(self.screen, QuitDialog):
            return

        def answered(answer: str | None) -> None:
            if answer == "quit":
                self.exit()

        self.push_screen(QuitDialog(), answered)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The palette's commands: this app's, in its words (no theme switcher, no raw quit)."""
        yield SystemCommand("Help", "Keys and scans on this screen", self.action_help)
        if self.associate is not None:
            yield SystemCommand("Sync now", "Send and fetch changes with head office (F5)",
                                self.action_force_sync)
            yield SystemCommand("Log out", "End this session (F9)", self.action_logout)
        yield SystemCommand("Quit", "Close store-agent on this terminal (asks first)",
                            self.action_quit)

    def action_force_sync(self) -> None:
        if self.associate is None:
            return
        self._sync_generation += 1
        self.say(msg("sync.started"))
        self._sync_worker(self._sync_generation)

    @work(exclusive=True, group="sync", exit_on_error=False)
    async def _sync_worker(self, generation: int) -> None:
        from ui.tui.sync_job import sync_once

        try:
            summary = await sync_once(self.settings)
        except StoreAgentError as exc:
            summary = {"sent": 0, "acked": 0, "dead": 0, "changes": 0, "errors": [str(exc)]}
        self.post_message(SyncDone(generation, summary))

    def on_sync_done(self, message: SyncDone) -> None:
        if message.generation != self._sync_generation:
            return
        s = message.summary
        if s["errors"]:  # the raw errors are for the log and store IT, not for the shop floor
            log.warning("sync from the UI: %s", "; ".join(s["errors"]))
            self.say(msg("sync.unreachable"), error=True)
        else:
            text = msg("sync.done", acked=s["acked"], sent=s["sent"], changes=s["changes"])
            if s["dead"]:
                text = f"{text} {msg('sync.refused', dead=s['dead'])}"
            self.say(text, error=bool(s["dead"]))
        self.refresh_status()
