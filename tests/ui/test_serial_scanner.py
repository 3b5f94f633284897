"""A station's serial scanner drives the UI like a wedge, and its unplugging is seen everywhere."""

from __future__ import annotations

import asyncio
import json

from agent.store.connection import Store
from agent.views import queries
from config import load_settings
from drivers.emulators import PtyScanner
from tests.ui.conftest import login, on_order, order, seed, ui_config, wait_for
from ui.tui.app import StoreAgentApp


def _scanner_state(settings) -> dict | None:
    with Store(settings.storage.path) as store:
        found = [s for s in queries.status(store)["scanners"] if s["id"] == "backroom-1"]
    return found[0] if found else None


def test_serial_scanner_opens_orders_and_reports_unplug(tmp_path):
    with PtyScanner(tmp_path) as emulator:
        base = ui_config(tmp_path)
        path = base.source_path
        path.write_text(path.read_text().replace('scanner = "keyboard"',
                                                 f'scanner = "{emulator.link}"'))
        settings = load_settings(path, environ={})
        seed(settings, order("W10001"))

        async def main():
            app = StoreAgentApp(settings)
            async with app.run_test(size=(80, 24)) as pilot:
                await login(pilot)
                await wait_for(pilot, lambda: (_scanner_state(settings) or {}).get("status")
                               == "connected", timeout=5)
                emulator.scan("W10001")
                await wait_for(pilot, lambda: on_order(app), timeout=5)
                assert app.screen.order_id == "W10001"
                emulator.unplug()
                await wait_for(pilot, lambda: (_scanner_state(settings) or {}).get("status")
                               == "disconnected", timeout=5)
                emulator.replug()
                await wait_for(pilot, lambda: (_scanner_state(settings) or {}).get("status")
                               == "connected", timeout=10)

        asyncio.run(main())
        state = _scanner_state(settings)
        assert state["port"] == str(emulator.link)
        with Store(settings.storage.path) as store:
            assert "backroom-1" in json.dumps(queries.status(store)["scanners"])


def test_a_serial_badge_approves_in_the_manager_dialog(tmp_path):
    from tests.ui.conftest import MANAGER_PIN, _stage_direct, burst, confirm_handover, message
    from ui.tui.dialogs.manager import ManagerDialog

    with PtyScanner(tmp_path) as emulator:
        base = ui_config(tmp_path, policy="manager")
        path = base.source_path
        path.write_text(path.read_text().replace('scanner = "keyboard"', f'scanner = "{emulator.link}"'))
        settings = load_settings(path, environ={})
        seed(settings, order("W10002", ready=True))
        _stage_direct(settings, "W10002", "B-07")

        async def main():
            app = StoreAgentApp(settings)
            async with app.run_test(size=(40, 20)) as pilot:
                await login(pilot)
                await wait_for(pilot, lambda: (_scanner_state(settings) or {}).get("status")
                               == "connected")
                emulator.scan("W10002")
                await wait_for(pilot, lambda: on_order(app, "W10002"))
                emulator.scan("K7Q9MX")
                await confirm_handover(pilot)
                await wait_for(pilot, lambda: isinstance(app.screen, ManagerDialog))
                emulator.scan("M1")  # the manager's badge, on the serial scanner
                await wait_for(pilot, lambda: app.focused is app.screen.query_one("#mgr-pin"))
                assert app.screen.query_one("#mgr-id").value == "M1"
                await burst(pilot, MANAGER_PIN)
                await wait_for(pilot, lambda: "DONE" in message(app))
                assert "handed over" in message(app)

        asyncio.run(main())
