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
    import os
    import subprocess
    import sys
    import time

    from agent.store.connection import Store
    from tests.ui.conftest import PIN
    from tests.ui.test_serve import REPO, _client, _free_port, _login

    base = ui_config(tmp_path)
    config = Path(base.source_path)
    db = tiny_disk.mount / "data" / "agent.db"
    config.write_text(config.read_text().replace(str(tmp_path / "agent.db"), str(db)))
    settings = load_settings(config, environ={})
    seed(settings, order("W10001"))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORE_AGENT_")}
    env["STORE_AGENT_CONFIG"] = str(config)
    log = tmp_path / "serve-ui.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "ui.cli.main", "serve-ui", "--host",
                                 "127.0.0.1", "--port", str(port)], cwd=REPO, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20  # a bound against hanging, not a timing assertion
        while "serve-ui: station" not in log.read_text(errors="replace"):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        # A reader holds the -shm and the log is empty: a wrong PIN's count must grow the
        # -wal, which the full disk refuses.
        with Store(db) as holder:
            holder.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            tiny_disk.fill()

            async def full() -> None:
                async with _client() as http:
                    r = await _login(http, url, pin="0000")
                    assert r.status == 503, (r.status, await r.text())
                    assert "cannot be used right now" in await r.text()

            asyncio.run(full())
            assert proc.poll() is None, log.read_text()
            tiny_disk.free()

            async def back() -> None:
                async with _client() as http:
                    assert (await _login(http, url, pin="0000")).status == 401
                    assert (await _login(http, url, pin=PIN)).status == 303

            asyncio.run(back())
        assert "is full" in log.read_text()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
