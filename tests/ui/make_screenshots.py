"""Regenerate the SVG screenshots in docs/screenshots/ (not a test):

    .venv/bin/python -m tests.ui.make_screenshots
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from tests.factories import snapshot
from tests.ui.conftest import MANAGER_PIN, _stage_direct, login, order, scan, seed, ui_config, wait_for
from ui.tui.app import StoreAgentApp
from ui.tui.screens.stop import StopScreen

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _settings(tmp: Path):
    settings = ui_config(tmp)
    seed(settings, order("W10001"), order("W10002", ready=True), order("W10003", ready=True),
         order("W10004", fulfillment="curbside",
               arrival={"arrived_at": "2026-11-23T14:00:00Z", "bay": "3", "vehicle": "blue van"}),
         order("W10005", hold_until="2020-01-01T10:00:00Z"))
    _stage_direct(settings, "W10002", "B-07")
    _stage_direct(settings, "W10003", "B-12")
    return settings


async def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        settings = _settings(Path(tmp))
        app = StoreAgentApp(settings)
        async with app.run_test(size=(80, 24)) as pilot:
            await login(pilot)
            app.save_screenshot("queue-80x24.svg", str(OUT))
            seed(settings, snapshot("W10002", status="cancelled", version=9, hold_until=None))
            await wait_for(pilot, lambda: bool(app.alerts))
            await scan(pilot, "B-07")
            await scan(pilot, "K7Q9MX")
            await wait_for(pilot, lambda: isinstance(app.screen, StopScreen))
            app.save_screenshot("stop-80x24.svg", str(OUT))
        app = StoreAgentApp(settings)
        async with app.run_test(size=(40, 20)) as pilot:
            await login(pilot)
            await scan(pilot, "W10003")
            app.save_screenshot("order-40x20.svg", str(OUT))
    await kpi_screenshot()
    await picking_screenshots()
    print(f"wrote {', '.join(p.name for p in sorted(OUT.glob('*.svg')))}")


async def kpi_screenshot() -> None:
    """The KPI screen at 14:00 on the day of tests/kpis/test_report.py's hand-built history."""
    from agent.clock import parse_iso
    from agent.orders.actions import Actions
    from agent.store.connection import Store
    from tests.kpis.test_report import build_history
    from ui.tui.screens.kpis import KpiScreen

    with tempfile.TemporaryDirectory() as tmp:
        settings = ui_config(Path(tmp))
        with Store(settings.storage.path) as store:
            build_history(store, settings, Actions(store, settings))
        app = StoreAgentApp(settings)
        app.clock = lambda: parse_iso("2026-11-23T14:00:00Z")
        async with app.run_test(size=(80, 24)) as pilot:
            await login(pilot, "M1", MANAGER_PIN)
            await pilot.press("f10")
            await wait_for(pilot, lambda: isinstance(app.screen, KpiScreen) and app.screen.drawn > 0)
            app.save_screenshot("kpis-80x24.svg", str(OUT))


async def picking_screenshots() -> None:
    """The pick list on a handheld mid-pick (a wrong item refused), and the bins step."""
    from tests.ui.test_picking import GTIN_A, NOT_ON_ORDER, ready_in_two_bins, walk_order
    from ui.tui.dialogs.handoff import BinsDialog
    from ui.tui.dialogs.pick import PickDialog

    with tempfile.TemporaryDirectory() as tmp:
        settings = ui_config(Path(tmp))
        seed(settings, walk_order())
        ready_in_two_bins(settings)
        app = StoreAgentApp(settings)
        async with app.run_test(size=(40, 20)) as pilot:
            await login(pilot)
            await scan(pilot, "W20001")
            await pilot.press("f2")
            await wait_for(pilot, lambda: isinstance(app.screen, PickDialog))
            await scan(pilot, GTIN_A)
            await scan(pilot, "B-21")
            await scan(pilot, NOT_ON_ORDER)
            app.save_screenshot("pick-40x20.svg", str(OUT))
        app = StoreAgentApp(settings)
        async with app.run_test(size=(80, 24)) as pilot:
            await login(pilot)
            await scan(pilot, "W20002")
            await scan(pilot, "K7Q9MX")
            await wait_for(pilot, lambda: app.screen.query("#collectors"))
            await pilot.press("enter")
            await wait_for(pilot, lambda: "Hand over" in str(app.screen.query(".dialog-title")
                                                                 .first().render()))
            await pilot.press("f2")
            await wait_for(pilot, lambda: isinstance(app.screen, BinsDialog), timeout=20)
            await scan(pilot, "B-31")
            app.save_screenshot("handoff-bins-80x24.svg", str(OUT))


if __name__ == "__main__":
    asyncio.run(main())
