"""Dialog keys in the dialog's footer, help on F1 and ?, the command palette, a quit that asks,
and F8 that acknowledges only the cancellation in view."""

from __future__ import annotations

import asyncio

from textual.command import CommandPalette

from tests.factories import snapshot
from tests.ui.conftest import login, on_order, row, scan, seed, wait_for
from ui.tui.app import StoreAgentApp
from ui.tui.dialogs.cancel import CancelDialog
from ui.tui.dialogs.handover import HandoverDialog
from ui.tui.dialogs.help import HelpDialog, QuitDialog
from ui.tui.screens.login import LoginScreen
from ui.tui.widgets.footer import KeyFooter


def keys(app) -> str:
    return str(app.screen.query_one(KeyFooter).render())


def test_a_dialogs_footer_lists_the_dialogs_keys(sim_env):
    async def main():
        app = StoreAgentApp(sim_env.settings)
        async with app.run_test(size=(40, 20)) as pilot:
            await login(pilot)
            await scan(pilot, "W10002")
            await scan(pilot, "K7Q9MX")
            await wait_for(pilot, lambda: isinstance(app.screen, HandoverDialog))
            assert "f2 Hand over" in keys(app) and "esc Cancel" in keys(app)
            assert "Pickup" not in keys(app) and "f4" not in keys(app)  # the screen's keys are not offered
            await pilot.press("escape", "f4")
            assert isinstance(app.screen, CancelDialog)
            assert "Confirm" not in keys(app)  # no reason chosen yet: nothing to confirm
            await pilot.press("down", "enter")
            assert "f2 Confirm" in keys(app)

    asyncio.run(main())


def test_help_on_f1_and_question_mark_lists_the_screens_keys(env):
    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=(80, 24)) as pilot:
            await login(pilot)
            await scan(pilot, "W10002")
            await pilot.press("f1")
            assert isinstance(app.screen, HelpDialog)
            shown = str(app.screen.query_one("#help-keys").render())
            assert "Stage" in shown and "Pickup" in shown and "Logout" in shown
            await pilot.press("escape")
            assert on_order(app, "W10002")
            await pilot.press("question_mark")  # in the empty scan field: help, not a character
            assert isinstance(app.screen, HelpDialog)
            await pilot.press("f1")
            assert on_order(app, "W10002") and app.screen.query_one("#scan").value == ""

    asyncio.run(main())


def test_ctrl_p_opens_the_command_palette_with_the_apps_commands(env):
    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=(80, 24)) as pilot:
            await login(pilot)
            titles = [c.title for c in app.get_system_commands(app.screen)]
            assert titles == ["Help", "Sync now", "Log out", "Quit"]
            await pilot.press("ctrl+p")
            assert isinstance(app.screen, CommandPalette)

    asyncio.run(main())


def test_ctrl_q_asks_before_closing_even_on_login(env):
    async def main():
        app = StoreAgentApp(env.settings)
        exits: list[int] = []
        app.exit = lambda *a, **k: exits.append(1)
        async with app.run_test(size=(40, 20)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, LoginScreen))
            await pilot.press("ctrl+q")
            assert isinstance(app.screen, QuitDialog) and not exits
            await pilot.press("escape")
            assert isinstance(app.screen, LoginScreen) and not exits
            await pilot.press("ctrl+q", "f2")
            assert exits == [1]

    asyncio.run(main())


def test_f8_acknowledges_only_the_cancellation_in_view(env):
    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=(40, 20)) as pilot:
            await login(pilot)
            seed(env.settings, snapshot("W10002", status="cancelled", version=7, hold_until=None),
                 snapshot("W10003", status="cancelled", version=7, hold_until=None))
            banner = app.screen.query_one("#banner")
            await wait_for(pilot, lambda: banner.display and "+1" in str(banner.render()))
            assert len(str(banner.render()).splitlines()) <= 2
            await pilot.press("f8")
            seen = row(env.settings, "SELECT COUNT(*) AS n FROM alerts WHERE kind='cancelled_while_ready'"
                       " AND acknowledged_at IS NOT NULL")
            assert seen["n"] == 1
            assert "+1" not in str(banner.render()) and banner.display
            await pilot.press("f8")
            assert not banner.display

    asyncio.run(main())


