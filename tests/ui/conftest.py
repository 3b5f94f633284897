"""Pilot fixtures: a store with PINs, orders seeded the way the feed delivers them, and the app."""

from __future__ import annotations

import inspect
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from textual import events
from textual.css.query import NoMatches
from textual.keys import _character_to_key
from textual.pilot import Pilot

from agent.associates.pins import hash_pin
from agent.clock import iso, utc_now
from agent.orders.ingest import ingest_snapshots
from agent.store import sync_state
from agent.store.connection import Store
from config import load_settings
from config.settings import Settings
from sync.oms_sim import OmsSimServer, SimState
from tests.conftest import GUARDED, table_dump
from tests.factories import snapshot, write_config

if TYPE_CHECKING:
    from tests.ui.serve_harness import Served

PIN = "2468"
MANAGER_PIN = "1357"
_HASHES: dict[str, str] = {}
SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((40, 20), id="40x20")]
TOKEN = "test-token-not-secret"
STORE_ID = "S042"
FUTURE = "2099-01-01T20:00:00Z"


def pin_hash(pin: str) -> str:
    if pin not in _HASHES:  # scrypt is deliberately slow: hash each PIN once per run
        _HASHES[pin] = hash_pin(pin)
    return _HASHES[pin]


def ui_config(tmp: Path, *, policy: str = "warn", url: str | None = None) -> Settings:
    path = write_config(tmp, policy=policy, extra=(
        '\n[[associates]]\nid = "A200"\nname = "Pat"\nrole = "associate"\n'))
    text = path.read_text()
    text = text.replace('role = "associate"\n', f'role = "associate"\npin_hash = "{pin_hash(PIN)}"\n', 1)
    text = text.replace('role = "manager"\n',
                        f'role = "manager"\npin_hash = "{pin_hash(MANAGER_PIN)}"\n', 1)
    # Generous: on a loaded machine the simulator may take seconds to answer, and a timeout
    # would turn "the OMS says cancelled" into "the OMS is unreachable". Offline tests use a
    # dead port, refused at once, so they do not wait for it.
    text = text.replace("[pickup]\n", "[pickup]\nlive_check_timeout_s = 10.0\n")
    if url:
        text = text.replace('url = "http://127.0.0.1:9"', f'url = "{url}"')
    path.write_text(text)
    return load_settings(path, environ={})


def seed(settings: Settings, *snaps: dict, fresh: bool = True) -> None:
    with Store(settings.storage.path) as store:
        ingest_snapshots(store, list(snaps), status_map=settings.status_map, source="feed")
        if fresh:  # the store heard from the OMS just now: the warn policy stays "warn"
            with store.write() as conn:
                sync_state.put(conn, last_feed_success_at=iso(utc_now()))


def order(order_id: str, *, ready: bool = False, **kw) -> dict:
    kw.setdefault("hold_until", FUTURE)
    if ready:
        kw.setdefault("status", "ready_for_pickup")
        kw.setdefault("version", 2)
    return snapshot(order_id, **kw)


def dump(settings: Settings) -> dict:
    return table_dump(settings.storage.path, *GUARDED, "sync_state")


def row(settings: Settings, sql: str, *args):
    with Store(settings.storage.path, migrate=False) as store:
        found = store.conn.execute(sql, args).fetchone()
        return None if found is None else dict(found)


@dataclass
class Env:
    settings: Settings
    tmp: Path
    sim: OmsSimServer | None = None


@pytest.fixture
def env(tmp_path: Path) -> Env:
    settings = ui_config(tmp_path)
    seed(settings, order("W10001"), order("W10002", ready=True), order("W10003", ready=True))
    _stage_direct(settings, "W10002", "B-07")
    return Env(settings, tmp_path)


@pytest.fixture
def sim_env(tmp_path: Path) -> Iterator[Env]:
    state = SimState(token=TOKEN, seed=3)
    snaps = [order("W10001"), order("W10002", ready=True)]
    for snap in snaps:
        state.add_order(STORE_ID, snap)
    with OmsSimServer(state) as sim:
        settings = ui_config(tmp_path, url=sim.url)
        seed(settings, *snaps)
        _stage_direct(settings, "W10002", "B-07")
        yield Env(settings, tmp_path, sim)


def _stage_direct(settings: Settings, order_id: str, bin_id: str) -> None:
    from agent.orders.actions import Actions

    with Store(settings.storage.path) as store:
        Actions(store, settings).stage(order_id, bin=bin_id, associate_id="A100")


@pytest.fixture(scope="session", autouse=True)
def own_tmux_server() -> Iterator[None]:
    """The tmux tests run on a server of this run's own (tests/ui/terminal.py); it ends here."""
    from tests.ui import terminal

    yield
    terminal.stop_server()


# --- serve-ui and a browser (tests/ui/serve_harness.py, imported when used) ---
def start_served(tmp: Path, *extra_orders: dict) -> Iterator[Served]:
    """serve-ui over a store with W10001 to pick, W10002 READY, and ``extra_orders``."""
    from tests.ui.serve_harness import serve_ui

    seed(ui_config(tmp), order("W10001"), order("W10002", ready=True), *extra_orders)
    with serve_ui(tmp / "config.toml") as served:
        yield served


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from start_served(tmp_path_factory.mktemp("serve"))


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[str]:
    """Headless Chromium's DevTools address; the test skips where no Chromium is installed."""
    from tests.ui.serve_harness import launch_chromium

    yield from launch_chromium(tmp_path / "chromium-profile")


# --- driving the app ----------------------------------------------------------
@pytest.fixture(autouse=True)
def settling_pilot(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every key and click a test sends is followed by ``settle``: an assertion right after
    reads the state the key led to, not whatever one round of messages had reached."""
    original_press, original_click = Pilot.press, Pilot.click

    async def press(self: Pilot, *keys: str) -> None:
        await original_press(self, *keys)
        await settle(self)

    async def click(self: Pilot, *args, **kwargs) -> bool:
        clicked = await original_click(self, *args, **kwargs)
        await settle(self)
        return clicked

    monkeypatch.setattr(Pilot, "press", press)
    monkeypatch.setattr(Pilot, "click", click)


async def login(pilot, who: str = "A100", pin: str = PIN, *, expect_ok: bool = True) -> None:
    """Type the id and PIN; with ``expect_ok``, return once the queue shows its counts."""
    await burst(pilot, who)
    await burst(pilot, pin)
    if expect_ok:
        await wait_for(pilot, lambda: queue_loaded(pilot.app), what=f"the queue after {who} logs in")


async def burst(pilot, text: str, *, enter: bool = True) -> None:
    """Type like a keyboard-wedge scanner: every key queued at once, then Enter.

    Faster than ``pilot.press`` (which waits for the screen after each key) and
    closer to a real scanner, whose keys all arrive before the app handles the first.
    """
    app = pilot.app
    for ch in text:
        app.post_message(events.Key(_character_to_key(ch), ch))
    if enter:
        app.post_message(events.Key("enter", "\r"))
    await settle(pilot)


async def settle(pilot, timeout: float = 10.0) -> None:
    """Pause until the app and the screen in front have handled every message queued.

    What one message sets off (a screen switch, a compose, a mount) queues more:
    a fixed number of pauses is enough on a quiet machine and not on a busy one.
    Waiting for empty queues asks for the state, not for time. Workers (the live
    check, F5) run outside the queues: wait for what they change with ``wait_for``.
    """
    app = pilot.app
    deadline = time.monotonic() + timeout
    while True:
        await pilot.pause()
        nodes = [app, *app.screen.walk_children(with_self=True)]
        if all(node._message_queue.empty() for node in nodes):
            return
        if time.monotonic() > deadline:
            busy = [repr(node) for node in nodes if not node._message_queue.empty()]
            raise AssertionError(f"the app did not settle within {timeout} s: {busy[:5]} still busy")


scan = burst


def on_order(app, order_id: str | None = None) -> bool:
    """An order (this one, if given) is on the work screen, with nothing in front of it."""
    from ui.tui.screens.work import WorkScreen

    screen = app.screen
    return (isinstance(screen, WorkScreen) and screen.order_id is not None
            and order_id in (None, screen.order_id))


def on_queue(app) -> bool:
    """The queue is on the work screen, with nothing in front of it."""
    from ui.tui.screens.work import WorkScreen

    return isinstance(app.screen, WorkScreen) and app.screen.order_id is None


def text_of(widget) -> str:
    return str(widget.render())


def message(app) -> str:
    screen = app.screen
    for selector in ("#message", ".dialog-message", "#stop-message"):
        found = screen.query(selector)
        if found:
            return text_of(found.first())
    return ""


def queue_loaded(app) -> bool:
    """The queue is on screen with its sections counted (raises NoMatches while composing)."""
    if not on_queue(app):
        return False
    app.screen.query_one("#sec-to_pick")
    return bool(app.screen.queue.data)


def _describe(predicate) -> str:
    """The predicate's source line, to say what a wait waited for."""
    try:
        return inspect.getsource(predicate).strip()
    except (OSError, TypeError):
        return repr(predicate)


async def wait_for(pilot, predicate, timeout: float = 10.0, *, what: str | None = None) -> float:
    """Pause until ``predicate()`` holds, then until the app has settled; returns how long.

    A node the predicate looks for that is not there (yet) is "not yet": screens and
    views are rebuilt while the app works. Only the deadline fails the wait, and
    its message says what was awaited. The timeout is a ceiling for a broken app,
    not a speed target: under load the state may take seconds to arrive.

    Settling after the predicate holds matters for screens: ``app.screen`` is the new
    screen as soon as it is pushed, before it has composed its widgets, so a test that
    waited for the screen and then reads its text would otherwise read nothing.
    """
    start = time.monotonic()
    missing: NoMatches | None = None
    while True:
        try:
            if predicate():
                await settle(pilot)
                return time.monotonic() - start
            missing = None
        except NoMatches as exc:
            missing = exc
        if time.monotonic() - start > timeout:
            detail = f" (last try: {missing})" if missing is not None else ""
            raise AssertionError(f"waited {timeout} s for {what or _describe(predicate)}{detail};"
                                 f" screen {pilot.app.screen!r}, message {message(pilot.app)!r}")
        await pilot.pause(0.05)


async def confirm_handover(pilot) -> None:
    """Wait for the handover's one-key confirm (customer, bin, items) and press it."""
    from ui.tui.dialogs.handover import HandoverDialog

    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, HandoverDialog), what="the handover confirm")
    await pilot.press("f2")


def no_horizontal_overflow(app) -> list[str]:
    """Widgets that would need horizontal scrolling on this screen."""
    return [repr(w) for w in app.screen.query("*")
            if w.is_scrollable and w.display and w.max_scroll_x > 0]




def state_of(settings: Settings, order_id: str) -> str:
    return row(settings, "SELECT state FROM orders WHERE order_id = ?", order_id)["state"]
