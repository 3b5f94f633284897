"""Queue clocks driven through the app's clock: on time -> nearing -> late, arrivals that ring."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from agent.clock import utc_now
from tests.factories import snapshot
from tests.ui.conftest import login, on_queue, order, seed, settle, text_of, wait_for
from ui.tui.app import StoreAgentApp


class Clock:
    def __init__(self) -> None:
        self.base = utc_now()
        self.offset = timedelta()

    def __call__(self):
        return self.base + self.offset


def _due(app, order_id: str):
    table = app.screen.query_one("#queue")
    columns = [str(c.label) for c in table.columns.values()]
    cells = table.get_row(order_id)
    return cells[columns.index("Due")]


def _notes(app) -> list[str]:
    return [str(n.message) for n in app._notifications]  # the toasts on screen


@pytest.mark.parametrize("size", [(80, 24), (40, 20)], ids=["80x24", "40x20"])
def test_an_order_goes_on_time_nearing_late_and_late_rings_once(env, size):
    async def main():
        app = StoreAgentApp(env.settings)
        clock = app.clock = Clock()
        rung: list[int] = []
        app.bell = lambda: rung.append(1)
        async with app.run_test(size=size, notifications=True) as pilot:
            await login(pilot)
            assert app.screen.queue.section == "to_pick"
            due = _due(app, "W10001")
            assert str(due) in ("15 min", "14 min") and not due.style
            clock.offset = timedelta(minutes=11)
            app.screen.queue.refresh_data()
            due = _due(app, "W10001")
            assert str(due) in ("4 min", "3 min") and "on #ffd000" in str(due.style)
            before = len(rung)
            clock.offset = timedelta(minutes=17)
            app.refresh_status()
            app.screen.queue.refresh_data()
            await settle(pilot)  # the note is a message to the app
            due = _due(app, "W10001")
            assert str(due) == "2 min late" and "on #b00020" in str(due.style)
            assert len(rung) == before + 1
            assert any("W10001 is late" in note for note in _notes(app))
            app.refresh_status()  # still late a second later: no second bell
            assert len(rung) == before + 1

    asyncio.run(main())


def test_a_curbside_arrival_rings_shows_bay_and_starts_its_wait_clock(env):
    async def main():
        app = StoreAgentApp(env.settings)
        clock = app.clock = Clock()
        rung: list[int] = []
        app.bell = lambda: rung.append(1)
        async with app.run_test(size=(40, 20), notifications=True) as pilot:
            await login(pilot)
            before = len(rung)
            arrived = clock().isoformat().replace("+00:00", "Z")
            seed(env.settings, snapshot("W10002", status="ready_for_pickup", version=3,
                                        hold_until="2099-01-01T20:00:00Z", fulfillment="curbside",
                                        arrival={"arrived_at": arrived, "bay": "Bay 4",
                                                 "vehicle": "red hatchback"}))
            await wait_for(pilot, lambda: len(rung) > before, what="the arrival's bell")
            await settle(pilot)
            assert any("Customer arrived for W10002: Bay 4, red hatchback" in n for n in _notes(app))
            await pilot.click("#sec-arrived")
            clock.offset = timedelta(minutes=3, seconds=5)
            app.screen.queue.refresh_data()
            await settle(pilot)
            table = app.screen.query_one("#queue")
            cells = [str(c) for c in table.get_row("W10002")]
            assert cells == ["W10002", "3 min", "B-07", "Bay 4"]  # at 40 columns: time and bin kept

    asyncio.run(main())


def test_after_login_the_queue_opens_where_a_customer_waits(env):
    seed(env.settings, order("W10010", arrival={"arrived_at": "2026-11-23T14:00:00Z", "bay": "3",
                                                "vehicle": "blue van"}, fulfillment="curbside"))

    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=(80, 24)) as pilot:
            await login(pilot)
            assert on_queue(app) and app.screen.queue.section == "arrived"
            row = [str(c) for c in app.screen.query_one("#queue").get_row("W10010")]
            assert "bay 3" in row and "blue van" in row
            assert text_of(app.screen.query_one("#sec-arrived")) != ""

    asyncio.run(main())
