"""The keystroke counts in docs/associate-guide.md ("after"), done for real: a scan counts as
one action, like a key. If a flow gains a key, this fails and the table must be updated."""

from __future__ import annotations

import asyncio

from agent.orders.actions import Actions
from agent.store.connection import Store
from tests.ui.conftest import PIN, burst, message, on_order, on_queue, queue_loaded, state_of, wait_for
from ui.tui.app import StoreAgentApp


class Counted:
    def __init__(self, pilot) -> None:
        self.pilot = pilot
        self.n = 0

    async def scan(self, text: str) -> None:
        self.n += 1
        await burst(self.pilot, text)

    async def keys(self, *keys: str) -> None:
        self.n += len(keys)
        await self.pilot.press(*keys)

    async def typed(self, text: str) -> None:  # typed by hand: a key per character, then Enter
        self.n += len(text) + 1
        await burst(self.pilot, text)


def test_the_main_jobs_take_the_keys_the_guide_says(sim_env):
    env = sim_env
    with Store(env.settings.storage.path) as store:
        Actions(store, env.settings).stage("W10001", bin="B-09", associate_id="A100")

    async def main():
        app = StoreAgentApp(env.settings)
        async with app.run_test(size=(80, 24)) as pilot:
            job = Counted(pilot)
            await job.scan("A100")
            await job.typed(PIN)
            await wait_for(pilot, lambda: queue_loaded(app))
            assert job.n == 6, "log in"

            await pilot.click("#sec-ready")
            app.screen.query_one("#scan").focus()
            job = Counted(pilot)
            await job.keys("down", "enter")
            assert on_order(app) and job.n == 2, "open the second row of the list"
            await pilot.press("escape")

            job = Counted(pilot)
            await job.scan("PICKUP:W10002:K7Q9MX")
            from ui.tui.dialogs.handover import HandoverDialog

            await wait_for(pilot, lambda: isinstance(app.screen, HandoverDialog))
            await job.keys("f2")
            await wait_for(pilot, lambda: "DONE" in message(app))
            assert state_of(env.settings, "W10002") == "PICKED_UP" and job.n == 2, "pickup by QR"
            await pilot.press("escape")

            job = Counted(pilot)
            await job.scan("W10001")
            await job.keys("f4", "down", "down", "enter", "f2")
            assert state_of(env.settings, "W10001") == "CANCELLED" and job.n == 6, "open + cancel"
            await pilot.press("escape")

            job = Counted(pilot)
            await job.scan("B-09")
            await job.keys("f6", "f2")
            assert "back on the shelf" in message(app) and job.n == 3, "return to shelf"
            await pilot.press("escape")

            await pilot.press("ctrl+f", *"Ann")
            job = Counted(pilot)
            await job.keys("escape")
            assert on_queue(app) and app.screen.query_one("#search").value == "" and job.n == 1

    asyncio.run(main())
