"""`store-agent demo` runs the whole product for a while and stops everything it started."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from config import load_settings
from drivers.emulators import escpos_to_text
from drivers.receipts import render_pickup_receipt
from drivers.scanner_serial import SerialScanner
from tests.drivers.emulators import wait_for
from tests.factories import free_port
from ui.cli.demo import DemoDevices, prepare_demo_dir

REPO = Path(__file__).resolve().parent.parent


def test_demo_syncs_both_ways_and_cleans_up(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORE_AGENT_")}
    proc = subprocess.run(
        [sys.executable, "-m", "ui.cli.main", "demo", "--dir", str(tmp_path / "demo"),
         "--port", str(port), "--orders", "6", "--duration", "12", "--pace", "1", "--trickle", "2"],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=90)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "every process it started has exited" in proc.stdout
    # Nothing still listens on the reference OMS port.
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0
    conn = sqlite3.connect(tmp_path / "demo" / "agent.db")
    statuses = dict(conn.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall())
    orders = conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0]
    conn.close()
    assert orders >= 6, "the feed delivered the sample orders"
    assert statuses.get("acked", 0) >= 3, f"the associate's events reached the OMS: {statuses}"
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(tmp_path / "demo") not in ps and f"--port {port}" not in ps
    assert json.loads(subprocess.run(
        [sys.executable, "-m", "ui.cli.main", "--config", str(tmp_path / "demo" / "config.toml"),
         "status", "--json"], capture_output=True, text=True, env=env, cwd=REPO).stdout)["orders"]


def _demo_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(("escpos-emulator", "pty-scanner"))]


def test_demo_prints_on_its_emulated_printer_and_stops_on_sigterm(tmp_path):
    """The daemon's print worker prints the demo's test page on the emulated network printer,
    whose paper (printer.txt) is readable text; SIGTERM stops everything, emulators included."""
    demo, port = tmp_path / "demo", free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORE_AGENT_")}
    with open(tmp_path / "demo.out", "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ui.cli.main", "demo", "--dir", str(demo), "--port", str(port),
             "--orders", "3", "--no-ui", "--no-associate", "--trickle", "30"],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO)
        try:
            paper = demo / "printer.txt"
            deadline = time.monotonic() + 180  # a guard against hanging, not a performance bound
            while "this printer is ready" not in (paper.read_text() if paper.exists() else ""):
                assert proc.poll() is None, (tmp_path / "demo.out").read_text()[-2000:]
                assert time.monotonic() < deadline, "the test page never reached the demo's printer"
                time.sleep(0.2)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(120) == 0, (tmp_path / "demo.out").read_text()[-2000:]
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    output = (tmp_path / "demo.out").read_text()
    assert "every process it started has exited" in output
    assert f"tail -f {paper}" in output

    settings = load_settings(demo / "config.toml", environ={})
    (printer,) = settings.printers
    assert printer.kind == "network" and printer.address.startswith("127.0.0.1:")
    text = paper.read_text()
    assert "PRINTER TEST" in text and "Printer    counter" in text and "[barcode TEST-counter]" in text
    assert not any(ord(c) < 32 and c != "\n" for c in text), "ESC/POS commands left on the paper"
    conn = sqlite3.connect(demo / "agent.db")
    (state,) = conn.execute("SELECT state FROM print_jobs WHERE kind = 'test_page'").fetchone()
    conn.close()
    assert state == "printed", "the emulator confirmed the whole job (DLE EOT after it)"
    # The emulated printer is gone with the demo; nothing it made is left outside the demo dir.
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", int(printer.address.rsplit(":", 1)[1]))) != 0
    assert sorted(os.listdir(tmp_path)) == ["demo", "demo.out"]
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(demo) not in ps


def test_demo_scanner_takes_scans_from_its_pipe_and_closes_cleanly(tmp_path):
    """With the UI, the station's scanner is a pty: `echo CODE > DIR/scan` is a scan on its line."""
    devices = DemoDevices(tmp_path, scanner=True)
    link = devices.scanner.link
    frames: queue.Queue[str] = queue.Queue()
    try:
        config = prepare_demo_dir(tmp_path, port=8480, printer=devices.printer.address, scanner=link)
        (station,) = load_settings(config, environ={}).stations
        assert station.scanner == str(link)
        with SerialScanner(station.scanner, frames.put) as reader:
            wait_for(lambda: reader.status.state == "connected", timeout_s=60)
            with open(devices.trigger, "w") as pipe:  # what `echo W1000001 > .demo/scan` does
                pipe.write("W1000001\n")
            assert frames.get(timeout=60) == "W1000001"
    finally:
        devices.close()
    assert not os.path.lexists(link) and not os.path.lexists(devices.trigger)
    assert _demo_threads() == []
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", devices.printer.port)) != 0


def test_the_demo_paper_is_the_receipt_as_text():
    receipt = render_pickup_receipt({
        "store_id": "S042", "order_id": "W1000017", "associate": "Dana", "reprint": True,
        "handed_over_at": "2025-03-01 10:15", "items": [{"description": "Milk 1 L", "quantity": 2}]},
        profile="TM-T88V")
    text = escpos_to_text(receipt)
    lines = text.splitlines()
    assert lines[0].strip() == "COPY - REPRINT" and lines[1].strip() == "PICKUP RECEIPT"
    assert lines[1] == "PICKUP RECEIPT".center(42).rstrip()
    assert "Order      W1000017" in lines and "   2  Milk 1 L" in lines
    assert "[barcode W1000017]" in text and lines[-1].strip("~ ") == "cut"
    assert not any(ord(c) < 32 for c in text.replace("\n", ""))
