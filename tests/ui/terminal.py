"""A real terminal for the UI tests: tmux running `store-agent ui`, read back with capture-pane.

Every test run talks to a tmux server of its own (`-S`, a socket in a directory of this run's),
never to the user's tmux nor to another run's: two suites side by side (a stress loop, a
developer's own tmux session) then share no sessions, no global environment and no server that
outlives them; the directory goes with the server at the end of the run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import TracebackType

import pytest

from tests.conftest import REPO

needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

_socket_dir: str | None = None


def _socket() -> str:
    global _socket_dir
    if _socket_dir is None:
        _socket_dir = tempfile.mkdtemp(prefix="store-agent-tmux-")  # short: sun_path is 108 bytes
    return os.path.join(_socket_dir, "tmux")


def tmux(*args: str, check: bool = True, env: dict[str, str] | None = None) -> str:
    return subprocess.run(["tmux", "-S", _socket(), *args], check=check, capture_output=True,
                          text=True, timeout=10, env=env).stdout


def stop_server() -> None:
    """At the end of the run: this run's server goes, with any session a failed test left."""
    global _socket_dir
    if _socket_dir is None:
        return  # no tmux test ran
    tmux("kill-server", check=False)
    shutil.rmtree(_socket_dir, ignore_errors=True)
    _socket_dir = None


class Terminal:
    """`with Terminal(config, size) as term:` a tmux session running the UI on that config."""

    def __init__(self, config: Path, size: tuple[int, int] = (80, 24)) -> None:
        self.config = config
        self.size = size
        self.session = f"sa-{uuid.uuid4().hex[:8]}"

    def __enter__(self) -> Terminal:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STORE_AGENT_")}
        command = (f"cd {REPO} && env STORE_AGENT_CONFIG={self.config} TERM=xterm-256color"
                   f" {sys.executable} -m ui.cli.main ui --station backroom-1")
        tmux("new-session", "-d", "-s", self.session, "-x", str(self.size[0]),
             "-y", str(self.size[1]), command, env=env)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        tmux("kill-session", "-t", self.session, check=False)

    def screen(self) -> str:
        return tmux("capture-pane", "-p", "-t", self.session)

    def wait_for(self, text: str, timeout: float = 30.0, *, gone: bool = False) -> str:
        """The screen once `text` is on it (with ``gone``: once it is not); fails at the
        deadline showing what was there."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if (text in screen) != gone:
                return screen
            time.sleep(0.1)
        verb = "never left" if gone else "never appeared on"
        raise AssertionError(f"{text!r} {verb} the terminal in {timeout:.0f} s:\n{screen}")

    def keys(self, *keys: str) -> None:
        """Key names tmux knows (F2, Enter, Escape) or plain text."""
        tmux("send-keys", "-t", self.session, *keys)

    def type(self, text: str) -> None:
        """Text sent literally, never read as a key name (`[/x]`, `Enter`)."""
        tmux("send-keys", "-l", "-t", self.session, text)

    def scan(self, code: str) -> None:
        """What a keyboard-wedge scanner does: the code, then Enter."""
        self.keys(code, "Enter")

    def record_output(self, path: Path) -> None:
        """Every byte the terminal receives from the app goes to `path` (to count BELs)."""
        tmux("pipe-pane", "-o", "-t", self.session, f"cat >> {path}")
