"""The terminal UI on a really full disk (a tmpfs filled to ENOSPC): the dialog says so
and stays up, nothing is written, and the same step works once space is back."""

from __future__ import annotations

import asyncio
from pathlib import Path

from config import load_settings
from tests.test_storage_full import TinyDisk, tiny_disk  # noqa: F401 (the fixture)
from tests.ui.conftest import login, message, on_order, order, scan, seed, state_of, ui_config
from ui.tui.app import StoreAgentApp
from ui.tui.dialogs.cancel import CancelDialog


def test_a_full_disk_is_said_in_the_dialog_which_stays_up_and_resumes(
        tiny_disk: TinyDisk, tmp_path: Path):  # noqa: F811
    base = ui_config(tmp_path)
    config = Path(base.source_path)
    db = tiny_disk.mount / "data" / "agent.db"
    config.write_text(config.read_text().replace(str(tmp_path / "agent.db"), str(db)))
    settings = load_settings(config, environ={})
    seed(settings, order("W10001"))

    async def main() -> None:
        app = StoreAgentApp(settings)
        async with app.run_test(size=(80, 24)) as pilot:
            await login(pilot)
            await scan(pilot, "W10001")
            assert on_order(app, "W10001")
            await pilot.press("f4")
            assert isinstance(app.screen, CancelDialog)
            tiny_disk.fill()
            await pilot.press("down", "enter", "f2")  # a reason and its confirm: written now
            assert f"the disk holding {db.parent} is full" in message(app), message(app)
            assert isinstance(app.screen, CancelDialog) and app.is_running
            tiny_disk.free()
            assert state_of(settings, "W10001") == "TO_PICK"  # nothing was changed
            await pilot.press("f2")  # the same step again, with space
            assert on_order(app)
            assert "DONE: order W10001 cancelled" in message(app), message(app)
        assert state_of(settings, "W10001") == "CANCELLED"

    asyncio.run(main())
