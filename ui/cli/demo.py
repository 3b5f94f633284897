"""`store-agent demo`: the product end to end on the embedded reference OMS.

Starts the reference OMS (with a trickle of new orders, cancellations and
curbside arrivals) and the daemon as child processes, and opens the associate
UI in this terminal while a simulated colleague works alongside; without a
terminal (or with --no-ui, or --duration) it shows a live status view
instead. Stops on Ctrl-C, SIGTERM, --duration or quitting the UI.
Every process it started is stopped on the way out.

The devices are emulated in this process (drivers/emulators.py): the
station's receipt printer is an ESC/POS network printer on 127.0.0.1 whose
paper is DIR/printer.txt, and with the UI the station's serial scanner is a
pty that scans whatever is written into the named pipe DIR/scan.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from agent.associates.pins import hash_pin
from agent.errors import StoreAgentError
from agent.orders.actions import Actions
from agent.printing.queue import enqueue_test_page, station_printer
from agent.store.connection import Store
from agent.views import queries
from config import load_settings
from config.settings import Settings
from config.template import render_template
from drivers.emulators import EscposPrinterEmulator, PtyScanner
from ui.cli.context import Context
from ui.cli.output import say

DEMO_TOKEN = "demo-token"
DEMO_PINS = {"A100": "1234", "M1": "9999"}


class DemoDevices:
    """The demo station's hardware, emulated in this process; ``close()`` stops it all.

    The printer's jobs are appended as text to ``paper``. The scanner (only
    when asked for: nothing reads it without the UI) is a pty behind the
    symlink ``scanner.link``; bytes written into the named pipe ``trigger``
    go down its line, so ``echo W1000001 > .demo/scan`` is a scan.
    """

    def __init__(self, directory: Path, *, scanner: bool):
        self.paper = directory / "printer.txt"
        self.printer = EscposPrinterEmulator(text_log=self.paper)
        try:
            self.paper.write_text(f"store-agent demo: what the emulated receipt printer at"
                                  f" {self.printer.address} printed, one block per job\n", encoding="utf-8")
        except OSError:
            self.printer.close()
            raise
        self.scanner: PtyScanner | None = None
        self.trigger = directory / "scan"
        if scanner:
            try:
                self.scanner = PtyScanner(directory)
                self.scanner.listen(self.trigger)
            except OSError as exc:  # no ptys (a container without /dev/pts): keyboard only
                say(f"no emulated scanner ({exc}); the UI takes keyboard scans")
                if self.scanner is not None:
                    self.scanner.close()
                self.scanner = None

    def notes(self) -> list[str]:
        lines = [f"printer: emulated ESC/POS on {self.printer.address}; what it prints:"
                 f" tail -f {self.paper}"]
        if self.scanner is not None:
            lines.append(f"scanner: emulated serial scanner {self.scanner.link}; scan with:"
                         f" echo W1000001 > {self.trigger}")
        return lines

    def close(self) -> None:
        if self.scanner is not None:
            self.scanner.close()
        self.printer.close()


def prepare_demo_dir(directory: Path, *, port: int, printer: str, scanner: Path | None = None) -> Path:
    """A config for the demo store: the database beside it, the printer at ``printer`` (host:port),
    the station's scanner at ``scanner`` (a device path) or the keyboard."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "config.toml"
    text = render_template()
    for old, new in (
        ('url = "https://oms.example.com"', f'url = "http://127.0.0.1:{port}"'),
        ('token = "change-me"', f'token = "{DEMO_TOKEN}"'),
        ('path = "/var/lib/store-agent/agent.db"', f'path = "{directory / "agent.db"}"'),
        ('address = "192.168.10.50:9100"', f'address = "{printer}"'),
        *([('scanner = "keyboard"', f'scanner = "{scanner}"')] if scanner else []),
        ("long_poll_s = 25", "long_poll_s = 5"),
        ("heartbeat_s = 60", "heartbeat_s = 10"),
        ('listen = "127.0.0.1:9464"', 'listen = ""'),
    ):
        text = text.replace(old, new)
    # Demo PINs, so the UI's login works out of the box.
    for associate_id, pin in DEMO_PINS.items():
        text = text.replace(f'id = "{associate_id}"',
                            f'id = "{associate_id}"\npin_hash = "{hash_pin(pin)}"', 1)
    fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return config


def _wait_port(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return True
        time.sleep(0.1)
    return False


def _spawn(args: list[str], log: Path, env: dict[str, Any]) -> subprocess.Popen[bytes]:
    out = open(log, "ab")  # noqa: SIM115 - the child owns it for its whole life
    return subprocess.Popen([sys.executable, "-m", "ui.cli.main", *args], stdout=out,
                            stderr=subprocess.STDOUT, env=env, start_new_session=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _associate_step(actions: Actions, store: Store, rng: random.Random) -> str | None:
    """One thing a busy associate would do next: stage, hand over, or return to shelf."""
    with contextlib.suppress(StoreAgentError):
        tasks = store.conn.execute("SELECT order_id FROM return_tasks WHERE state = 'OPEN'"
                                   " LIMIT 1").fetchone()
        if tasks:
            return actions.return_to_shelf(tasks[0], associate_id="A100").message
        ready = [r for r in queries.list_orders(store, state="READY") if r["bin"]]
        if ready and rng.random() < 0.4:
            row = store.conn.execute("SELECT pickup_code FROM orders WHERE order_id = ?",
                                     (ready[-1]["order_id"],)).fetchone()
            return actions.pickup(ready[-1]["order_id"], associate_id="A100", code=row[0],
                                  oms_confirmed=True).message
        to_pick = queries.list_orders(store, state="TO_PICK")
        if to_pick:
            order = to_pick[-1]["order_id"]
            return actions.stage(order, bin=f"B-{rng.randint(1, 40):02d}", associate_id="A100").message
    return None


def _run_with_ui(settings: Settings, a: argparse.Namespace, devices: DemoDevices, running: list[Any]
                 ) -> int:
    """The associate UI in this terminal; a colleague (the simulation) works alongside."""
    import threading

    from ui.tui.app import StoreAgentApp

    stop = threading.Event()

    def colleague() -> None:
        rng = random.Random(7)
        with Store(settings.storage.path) as store:
            actions = Actions(store, settings)
            while not stop.wait(a.pace * 3):
                _associate_step(actions, store, rng)

    if a.associate:
        threading.Thread(target=colleague, name="demo-colleague", daemon=True).start()

    class DemoApp(StoreAgentApp):
        def on_mount(self) -> None:  # Textual runs StoreAgentApp.on_mount too, right after this
            # Where the paper goes and how to scan, while the UI covers the terminal.
            # Briefly: the note must not cover the queue for half a minute (it is also printed).
            self.call_after_refresh(self.notify, "\n".join(devices.notes()), title="demo devices",
                                    timeout=8)

    say("log in as A100 with PIN 1234 (manager: M1, PIN 9999)")
    app = DemoApp(settings)
    running.append(app)
    try:
        app.run()
    finally:
        running.clear()
        stop.set()
    return 0


def _render(store: Store, log: list[str], notes: list[str]) -> None:
    s = queries.status(store)
    ob = s["outbox"]
    lines = [
        "\033[2J\033[H" if sys.stdout.isatty() else "",
        "store-agent demo — Ctrl-C stops everything",
        f"OMS: {'ONLINE' if s['online'] else 'OFFLINE'}   last feed: {s['last_feed_success_at']}",
        f"outbox: {ob['pending']} pending, {ob['dead_letters']} dead letters;"
        f" orders: " + ", ".join(f"{k} {v}" for k, v in s["orders"].items()),
        *notes,
        "",
        "recent associate actions:",
        *[f"  {m}" for m in log[-5:]],
        "",
        "alerts:",
        *[f"  [{a['severity']}] {a['message']}" for a in s["alerts"][-6:]],
    ]
    print("\n".join(lines), flush=True)


def cmd_demo(ctx: Context) -> int:
    a = ctx.args
    directory = Path(a.dir).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    with_ui = a.ui and sys.stdin.isatty() and sys.stdout.isatty() and not a.duration
    devices = DemoDevices(directory, scanner=with_ui)
    procs: list[subprocess.Popen[bytes]] = []
    running: list[Any] = []  # the associate UI while it runs, so SIGTERM can close it
    stopping = False

    def _on_term(*_: object) -> None:
        nonlocal stopping
        stopping = True
        for app in running:
            # Handlers run on the main thread, where the UI's event loop runs.
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().call_soon_threadsafe(app.exit)

    previous = {sig: signal.signal(sig, _on_term) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        config = prepare_demo_dir(directory, port=a.port, printer=devices.printer.address,
                                  scanner=devices.scanner.link if devices.scanner else None)
        settings = load_settings(config, environ={})
        env = {k: v for k, v in os.environ.items() if not k.startswith("STORE_AGENT_")}
        env["STORE_AGENT_CONFIG"] = str(config)
        procs.append(_spawn(["oms-sim", "--port", str(a.port), "--orders", str(a.orders),
                             "--token", DEMO_TOKEN, "--trickle", str(a.trickle)],
                            directory / "oms-sim.log", env))
        if not _wait_port(a.port, 15):
            say(f"the reference OMS did not start; see {directory / 'oms-sim.log'}")
            return 1
        procs.append(_spawn(["run"], directory / "daemon.log", env))
        say(f"reference OMS on http://127.0.0.1:{a.port}; daemon log {directory / 'daemon.log'};"
            f" config {config}")
        with Store(settings.storage.path) as store:
            # The daemon's print worker prints it: the first thing on the demo's paper.
            enqueue_test_page(store, settings, station_printer(settings), created_by="demo")
        for line in devices.notes():
            say(line)
        if with_ui:
            return _run_with_ui(settings, a, devices, running)
        rng = random.Random(7)
        log: list[str] = []
        deadline = time.monotonic() + a.duration if a.duration else None
        with Store(settings.storage.path) as store:
            actions = Actions(store, settings)
            next_action = time.monotonic() + 3
            while not stopping and (deadline is None or time.monotonic() < deadline):
                if any(p.poll() is not None for p in procs):
                    say("a demo process stopped unexpectedly; see the logs in " + str(directory))
                    return 1
                if a.associate and time.monotonic() >= next_action:
                    message = _associate_step(actions, store, rng)
                    if message:
                        log.append(message)
                    next_action = time.monotonic() + a.pace
                _render(store, log, devices.notes())
                time.sleep(1.0)
            _render(store, log, devices.notes())
    except KeyboardInterrupt:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for proc in reversed(procs):
            _stop(proc)
        devices.close()  # after the daemon: its print worker may be mid-job
        say("demo stopped; every process it started has exited")
    return 0


def register(sub: argparse._SubParsersAction[Any], common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("demo", parents=[common],
                       help="everything at once on the embedded reference OMS with sample orders")
    p.add_argument("--dir", default=".demo", help="where the demo keeps its config, database, logs")
    p.add_argument("--orders", type=int, default=24, help="sample orders at the start")
    p.add_argument("--port", type=int, default=8480, help="port of the reference OMS")
    p.add_argument("--trickle", type=float, default=8.0,
                   help="seconds between OMS events (new orders, cancellations, arrivals)")
    p.add_argument("--pace", type=float, default=4.0, help="seconds between simulated associate actions")
    p.add_argument("--no-associate", dest="associate", action="store_false",
                   help="do not simulate an associate")
    p.add_argument("--duration", type=float, help="stop after this many seconds (status view only)")
    p.add_argument("--no-ui", dest="ui", action="store_false",
                   help="show the live status view instead of the associate UI")
    p.set_defaults(handler=cmd_demo)
