"""Text from outside is shown literally: markup and escape sequences in every OMS string.

Pilot at both sizes (the queue, the order, the dead-letter dialog, the login),
then a real terminal (tmux) running `store-agent ui`. The served UI (Chromium)
is in test_serve.py.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.hostile_text import SHOWN, hostile_snapshot
from tests.ui.conftest import PIN, SIZES, login, message, on_order, seed, ui_config, wait_for
from tests.ui.terminal import Terminal, needs_tmux
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
            assert message(app).startswith("[/x]: enter your PIN")
            await pilot.press("escape")
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


@needs_tmux
@pytest.mark.parametrize("size", [(80, 24), (40, 20)], ids=["80x24", "40x20"])
def test_hostile_order_in_a_real_terminal(tmp_path, size):
    settings = ui_config(tmp_path)
    # The second has an id a scanner can type, to open it the way an associate would.
    seed(settings, hostile_snapshot(), hostile_snapshot(order_id="W90001"))
    with Terminal(tmp_path / "config.toml", size) as term:
        term.wait_for("log in")
        term.type("[/x]")
        term.keys("Enter")
        term.wait_for("[/x]: enter your PIN")
        term.keys("Escape")  # another id; the next keys only once it took effect (no Alt+A)
        term.wait_for("[/x]: enter your PIN", gone=True)
        term.scan("A100")
        term.wait_for("A100: enter your PIN")
        term.scan(PIN)
        queue = term.wait_for(SHOWN["order_id"])
        if size[0] >= 60:
            assert SHOWN["name"] in queue
        term.scan("W90001")
        screen = term.wait_for("Timeline")
        for text in (SHOWN["name"], SHOWN["vehicle"], *SHOWN["descriptions"]):
            assert text in screen, f"{text!r} not shown:\n{screen}"
