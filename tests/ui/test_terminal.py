"""A real terminal: tmux runs `store-agent ui`, we type a login and a scan and read the screen."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest

from tests.conftest import REPO
from tests.ui.conftest import PIN, order, seed, ui_config

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True,
                          timeout=10).stdout


def _wait_for_text(session: str, text: str, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = _tmux("capture-pane", "-p", "-t", session)
        if text in screen:
            return screen
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared on the terminal:\n{screen}")


def test_store_agent_ui_in_tmux(tmp_path):
    settings = ui_config(tmp_path)
    seed(settings, order("W10001"), order("W10002", ready=True))
    session = f"sa-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORE_AGENT_")}
    command = (f"cd {REPO} && env STORE_AGENT_CONFIG={tmp_path / 'config.toml'} TERM=xterm-256color"
               f" {sys.executable} -m ui.cli.main ui --station backroom-1")
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "80", "-y", "24", command],
                   check=True, env=env, timeout=10)
    try:
        _wait_for_text(session, "log in")
        _tmux("send-keys", "-t", session, "A100", "Enter")
        _wait_for_text(session, "Dana: enter your PIN")
        _tmux("send-keys", "-t", session, PIN, "Enter")
        _wait_for_text(session, "To pick 1")
        _tmux("send-keys", "-t", session, "W10001", "Enter")  # a wedge scanner types just so
        screen = _wait_for_text(session, "Timeline")
        assert "W10001" in screen and "TO_PICK" in screen and "Ann Smith" in screen
        assert "Dana (A100)" in screen and "backroom-1" in screen
        _tmux("send-keys", "-t", session, "%%%", "Enter")
        assert "not a barcode this store uses" in _wait_for_text(session, "nothing changed")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, timeout=10)


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
        session = f"sa-{uuid.uuid4().hex[:8]}"
        output = tmp_path / "pane.bytes"
        env = {k: v for k, v in os.environ.items() if not k.startswith("STORE_AGENT_")}
        command = (f"cd {REPO} && env STORE_AGENT_CONFIG={path} TERM=xterm-256color"
                   f" {sys.executable} -m ui.cli.main ui --station backroom-1")
        subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", str(size[0]), "-y",
                        str(size[1]), command], check=True, env=env, timeout=10)
        try:
            _tmux("pipe-pane", "-o", "-t", session, f"cat >> {output}")
            _wait_for_text(session, "log in")
            scanner.scan("A100")  # the badge, on the serial scanner: no key pressed
            _wait_for_text(session, "Dana: enter your PIN")
            _tmux("send-keys", "-t", session, PIN, "Enter")
            _wait_for_text(session, "To pick 1")
            rung = output.read_bytes().count(b"\x07")
            seed(settings, snapshot("W10002", status="ready_for_pickup", version=3, fulfillment="curbside",
                                    hold_until="2099-01-01T20:00:00Z",
                                    arrival={"arrived_at": iso(utc_now()), "bay": "Bay 2",
                                             "vehicle": "grey estate"}))
            _wait_for_text(session, "Arrived 1")
            deadline = time.monotonic() + 15
            while output.read_bytes().count(b"\x07") <= rung and time.monotonic() < deadline:
                time.sleep(0.1)
            assert output.read_bytes().count(b"\x07") == rung + 1, "one arrival, one bell"
            _wait_for_text(session, "Customer arrived")  # and said on screen, not only rung
        finally:
            subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, timeout=10)
