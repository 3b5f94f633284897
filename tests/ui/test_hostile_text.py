"""Text from outside is shown literally: markup and escape sequences in every OMS string.

Pilot at both sizes (the queue, the order, the dead-letter dialog, the login),
then a real terminal (tmux) running `store-agent ui`. The served UI (Chromium)
is in test_serve.py.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid

import pytest

from tests.conftest import REPO
from tests.hostile_text import SHOWN, hostile_snapshot
from tests.ui.conftest import PIN, SIZES, login, message, on_order, seed, ui_config, wait_for
from ui.tui.app import StoreAgentApp
from ui.tui.dialogs.dlq import DlqDialog


def screen_text(app) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


@pytest.mark.parametrize("size", SIZES)
def test_hostile_order_is_shown_literally(tmp_path, size):
    settings = ui_config(tmp_path)
    seed(settings, hostile_snapshot())

    async def main():
        app = StoreAgentApp(settings)
        async with app.run_test(size=size) as pilot:
            # An id typed at the login is text too: markup in it is no error.
            await pilot.press(*"[/x]", "enter")
            assert "'[/x]' is not in this store's roster" in message(app)
            await login(pilot)
            queue = screen_text(app)
            assert SHOWN["order_id"] in queue
            if size[0] >= 60:  # the narrow queue keeps the order and its window only
                assert SHOWN["name"] in queue
            app.open_order(SHOWN["order_id"])
            await wait_for(pilot, lambda: on_order(app, SHOWN["order_id"]))
            await pilot.pause()
            detail = screen_text(app)
            for text in (SHOWN["name"], SHOWN["vehicle"], *SHOWN["descriptions"]):
                assert text in detail, f"{text!r} not shown:\n{detail}"
            # A live [@click=app.quit] would end the app when clicked: it is only text.
            app.push_screen(DlqDialog({"id": "e1", "order_id": SHOWN["order_id"],
                                       "what": "order.staged", "detail": "no [/x] [@click=app.quit]q[/]"}))
            await pilot.pause()
            assert "no [/x] [@click=app.quit]q[/]" in screen_text(app)
            app.say("[/x] from outside", error=True)
            await pilot.pause()
            assert app.is_running

    asyncio.run(main())


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True,
                          timeout=10).stdout


@pytest.mark.skipif(subprocess.run(["which", "tmux"], capture_output=True).returncode != 0,
                    reason="tmux is not installed")
@pytest.mark.parametrize("size", [(80, 24), (40, 20)], ids=["80x24", "40x20"])
def test_hostile_order_in_a_real_terminal(tmp_path, size):
    import time

    settings = ui_config(tmp_path)
    # The second has an id a scanner can type, to open it the way an associate would.
    seed(settings, hostile_snapshot(), hostile_snapshot(order_id="W90001"))
    session = f"sa-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORE_AGENT_")}
    command = (f"cd {REPO} && env STORE_AGENT_CONFIG={tmp_path / 'config.toml'} TERM=xterm-256color"
               f" {sys.executable} -m ui.cli.main ui --station backroom-1")
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", str(size[0]), "-y",
                    str(size[1]), command], check=True, env=env, timeout=10)

    def wait_for_text(text: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = _tmux("capture-pane", "-p", "-t", session)
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared on the terminal:\n{screen}")

    try:
        wait_for_text("log in")
        _tmux("send-keys", "-l", "-t", session, "[/x]")
        _tmux("send-keys", "-t", session, "Enter")
        wait_for_text("'[/x]' is not in this store")
        _tmux("send-keys", "-t", session, "A100", "Enter")
        wait_for_text("enter your PIN")
        _tmux("send-keys", "-t", session, PIN, "Enter")
        queue = wait_for_text(SHOWN["order_id"])
        if size[0] >= 60:
            assert SHOWN["name"] in queue
        _tmux("send-keys", "-t", session, "W90001", "Enter")
        screen = wait_for_text("Timeline")
        for text in (SHOWN["name"], SHOWN["vehicle"], *SHOWN["descriptions"]):
            assert text in screen, f"{text!r} not shown:\n{screen}"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, timeout=10)
