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


def test_serve_ui_on_a_full_disk_answers_503_and_stays_up(tiny_disk: TinyDisk, tmp_path: Path):  # noqa: F811
    from agent.store.connection import Store
    from tests.ui.conftest import PIN
    from tests.ui.serve_harness import http_client, post_login, serve_ui

    base = ui_config(tmp_path)
    config = Path(base.source_path)
    db = tiny_disk.mount / "data" / "agent.db"
    config.write_text(config.read_text().replace(str(tmp_path / "agent.db"), str(db)))
    settings = load_settings(config, environ={})
    seed(settings, order("W10001"))
    with serve_ui(config) as served:
        url = served.base
        # A reader holds the -shm and the log is empty: a wrong PIN's count must grow the
        # -wal, which the full disk refuses.
        with Store(db) as holder:
            holder.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            tiny_disk.fill()

            async def full() -> None:
                async with http_client() as http:
                    r = await post_login(http, url, pin="0000")
                    assert r.status == 503, (r.status, await r.text())
                    assert "cannot be used right now" in await r.text()

            asyncio.run(full())
            assert served.proc.poll() is None, served.log_text()
            tiny_disk.free()

            async def back() -> None:
                async with http_client() as http:
                    assert (await post_login(http, url, pin="0000")).status == 401
                    assert (await post_login(http, url, pin=PIN)).status == 303

            asyncio.run(back())
        assert "is full" in served.log_text()
