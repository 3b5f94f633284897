"""A real terminal: tmux runs `store-agent ui`, we type a login and a scan and read the screen."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.conftest import REPO
from tests.ui.conftest import PIN, order, seed, ui_config
from tests.ui.terminal import Terminal, needs_tmux

pytestmark = needs_tmux


def test_store_agent_ui_in_tmux(tmp_path):
    settings = ui_config(tmp_path)
    seed(settings, order("W10001"), order("W10002", ready=True))
    with Terminal(tmp_path / "config.toml") as term:
        term.wait_for("log in")
        term.scan("A100")
        term.wait_for("A100: enter your PIN")
        term.scan(PIN)
        term.wait_for("To pick 1")
        term.scan("W10001")  # a wedge scanner types just so
        screen = term.wait_for("Timeline")
        assert "W10001" in screen and "TO_PICK" in screen and "Ann Smith" in screen
        assert "Dana (A100)" in screen and "backroom-1" in screen
        term.scan("%%%")
        assert "not a barcode this store uses" in term.wait_for("nothing changed")


def test_other_commands_never_load_textual():
    code = ("import sys, ui.cli.main\n"
            "print(sorted(m for m in sys.modules if m.startswith(('textual', 'ui.tui'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr


@pytest.mark.parametrize("size", [(80, 24), (40, 20)], ids=["80x24", "40x20"])
def test_serial_badge_logs_in_and_an_arrival_rings_the_terminal(tmp_path, size):
    """The bell is counted where it matters: the BEL bytes the terminal itself receives."""
    from agent.clock import iso, utc_now
    from config import load_settings
    from drivers.emulators import PtyScanner
    from tests.factories import snapshot

    with PtyScanner(tmp_path) as scanner:
        base = ui_config(tmp_path)
        path = base.source_path
        path.write_text(path.read_text().replace('scanner = "keyboard"', f'scanner = "{scanner.link}"'))
        settings = load_settings(path, environ={})
        seed(settings, order("W10001"), order("W10002", ready=True))
        output = tmp_path / "pane.bytes"
        with Terminal(path, size) as term:
            term.record_output(output)
            term.wait_for("log in")
            scanner.scan("A100")  # the badge, on the serial scanner: no key pressed
            term.wait_for("A100: enter your PIN")
            term.scan(PIN)
            term.wait_for("To pick 1")
            rung = output.read_bytes().count(b"\x07")
            seed(settings, snapshot("W10002", status="ready_for_pickup", version=3, fulfillment="curbside",
                                    hold_until="2099-01-01T20:00:00Z",
                                    arrival={"arrived_at": iso(utc_now()), "bay": "Bay 2",
                                             "vehicle": "grey estate"}))
            term.wait_for("Arrived 1")
            deadline = time.monotonic() + 30
            while output.read_bytes().count(b"\x07") <= rung and time.monotonic() < deadline:
                time.sleep(0.1)
            assert output.read_bytes().count(b"\x07") == rung + 1, "one arrival, one bell"
            term.wait_for("Customer arrived")  # and said on screen, not only rung
