"""The served UI in a real browser shows markup and escape sequences from the OMS as text."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.hostile_text import SHOWN, hostile_snapshot
from tests.ui.conftest import PIN, start_served
from tests.ui.serve_harness import Cdp, Served


@pytest.fixture
def hostile_served(tmp_path) -> Iterator[Served]:
    yield from start_served(tmp_path, hostile_snapshot(), hostile_snapshot(order_id="W90001"))


def test_hostile_order_in_the_browser(hostile_served, chromium):
    async def main():
        async with Cdp.page(chromium) as cdp:
            await drive(cdp)

    async def drive(cdp: Cdp) -> None:
        await cdp.log_in(hostile_served.base, "A100", PIN)
        await cdp.wait(f"window.__term.includes({SHOWN['order_id']!r})", what="the hostile id")
        await cdp.scan("W90001")
        await cdp.wait("window.__term.includes('Timeline')", what="the order screen")
        screen = await cdp.screen()
        for text in (SHOWN["name"], SHOWN["vehicle"], *SHOWN["descriptions"]):
            assert text in screen, f"{text!r} not shown:\n{screen}"
        # The OMS's clipboard-setting sequence never reached the browser's terminal as one
        # (what is left of it is the visible text "]52;c;aGk=Bolt").
        raw = await cdp.js("window.__term")
        assert "]52;c;aGk=Bolt" in raw and "\x1b]52;c;aGk=" not in raw

    asyncio.run(main())
