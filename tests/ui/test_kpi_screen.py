"""The KPI screen: a manager's F10 from the queue, at 80x24 and 40x20, in Pilot and in tmux."""

from __future__ import annotations

import asyncio

import pytest
from textual.widgets import Sparkline
from textual_plotext import PlotextPlot

from tests.ui.conftest import MANAGER_PIN, SIZES, login, on_queue, order, seed, text_of, ui_config, wait_for
from tests.ui.serve_harness import Cdp
from tests.ui.terminal import Terminal, needs_tmux
from ui.tui.app import StoreAgentApp


def _kpi_screen(app):
    from ui.tui.screens.kpis import KpiScreen

    return app.screen if isinstance(app.screen, KpiScreen) else None


@pytest.mark.parametrize("size", SIZES)
def test_a_manager_opens_the_figures_from_the_queue(env, size):
    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=size) as pilot:
            await login(pilot, "M1", MANAGER_PIN)
            await pilot.press("f10")
            await wait_for(pilot, lambda: _kpi_screen(app) is not None and _kpi_screen(app).drawn,
                           what="the KPI screen with its figures")
            screen = _kpi_screen(app)
            figures = text_of(screen.query_one("#kpi-figures"))
            # Seeded: W10001 released to pick; W10002 and W10003 arrived already READY, and
            # only W10002 was then staged here: the store counts what it saw happen.
            assert "Orders in 1, ready 1, collected 0" in figures
            assert "(target 15 min)" in figures and "(target 95 %)" in figures
            chart = screen.query_one("#kpi-fulfillment", PlotextPlot)
            spark = screen.query_one("#kpi-spark-ft", Sparkline)
            if size[0] >= 60:
                assert chart.display and chart.size.width > 20 and chart.size.height >= 4
                assert "Minutes to ready" in text_of(chart)
                assert not screen.query_one("#kpi-sparks").display
            else:
                assert not screen.query_one("#kpi-charts").display
                assert spark.size.width > 20 and list(spark.data)
            await pilot.press("f2")
            await wait_for(pilot, lambda: "last 7 days" in text_of(screen.query_one("#kpi-title")),
                           what="the 7-day figures")
            await pilot.press("escape")
            await wait_for(pilot, lambda: on_queue(app), what="the queue again")

    asyncio.run(main())


def test_an_associate_has_no_figures_key(env):
    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=(80, 24)) as pilot:
            await login(pilot)  # A100, an associate
            await pilot.press("f10")
            assert on_queue(app) and _kpi_screen(app) is None

    asyncio.run(main())


@needs_tmux
@pytest.mark.parametrize("cols,rows", [(80, 24), (40, 20)])
def test_the_figures_in_a_real_terminal(tmp_path, cols, rows):
    settings = ui_config(tmp_path)
    seed(settings, order("W10001"), order("W10002", ready=True))
    with Terminal(tmp_path / "config.toml", (cols, rows)) as term:
        term.wait_for("log in")
        term.scan("M1")
        term.wait_for("PIN")
        term.scan(MANAGER_PIN)
        term.wait_for("To pick")
        term.keys("F10")
        term.wait_for("Store figures: today")
        # Wide: the chart's title; narrow: the sparkline's label (with the target) in its place.
        screen = term.wait_for("Minutes to ready" if cols >= 60
                               else "Minutes to ready (target 15 min)")
        assert "Orders in 1, ready 0" in screen  # W10002 came READY: not made READY here
        assert ("┤" in screen) == (cols >= 60)  # a chart's axis only where there is room


def test_the_figures_in_the_served_ui(served, chromium):
    """A manager on a handheld browser (headless Chromium, 480 px wide) opens the figures."""
    async def main():
        async with Cdp.page(chromium) as cdp:
            await cdp.log_in(served.base, "M1", MANAGER_PIN)
            await cdp.key("F10", 121)
            await cdp.wait("window.__term.includes('Store figures: today')"
                           " && window.__term.includes('Orders in 1, ready 0, collected 0')"
                           " && window.__term.includes('Percent on time (target 95 %)')",
                           what="the figures, with a sparkline's label (the narrow layout)")

    asyncio.run(main())
