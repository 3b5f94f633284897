"""The served UI in a real browser shows markup and escape sequences from the OMS as text."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import aiohttp
import pytest

from tests.hostile_text import SHOWN, hostile_snapshot
from tests.ui.conftest import PIN
from tests.ui.test_serve import _TAP, Cdp, Served, _start, chromium  # noqa: F401 (a fixture)


@pytest.fixture
def hostile_served(tmp_path) -> Iterator[Served]:
    yield from _start(tmp_path, hostile_snapshot(), hostile_snapshot(order_id="W90001"))


def test_hostile_order_in_the_browser(hostile_served, chromium):  # noqa: F811
    target = hostile_served.base

    async def main():
        devtools = "http://" + chromium.split("/", 3)[2]
        async with aiohttp.ClientSession() as http:
            pages = await (await http.get(devtools + "/json/list")).json()
            page_ws = next(p["webSocketDebuggerUrl"] for p in pages if p["type"] == "page")
            async with http.ws_connect(page_ws, max_msg_size=0) as ws:
                await drive(Cdp(ws))

    async def drive(cdp: Cdp) -> None:
        await cdp.call("Page.enable")
        await cdp.call("Runtime.enable")
        await cdp.call("Page.addScriptToEvaluateOnNewDocument", source=_TAP)
        await cdp.call("Page.navigate", url=target + "/login")
        await cdp.wait("!!document.getElementById('pin')", what="the login page")
        await cdp.js("document.getElementById('associate').value = 'A100';"
                     f"document.getElementById('pin').value = '{PIN}';"
                     "document.forms[0].submit(); true")
        await cdp.wait("window.__term && window.__term.includes('To pick')", what="the queue")
        await cdp.wait(f"window.__term.includes({SHOWN['order_id']!r})", what="the hostile id")
        await cdp.js("document.querySelector('.xterm-helper-textarea').focus(); true")
        await cdp.call("Input.insertText", text="W90001")
        await cdp.key("Enter", 13, "\r")
        await cdp.wait("window.__term.includes('Timeline')", what="the order screen")
        screen = await cdp.screen()
        for text in (SHOWN["name"], SHOWN["vehicle"], *SHOWN["descriptions"]):
            assert text in screen, f"{text!r} not shown:\n{screen}"
        # The OMS's clipboard-setting sequence never reached the browser's terminal as one
        # (what is left of it is the visible text "]52;c;aGk=Bolt").
        raw = await cdp.js("window.__term")
        assert "]52;c;aGk=Bolt" in raw and "\x1b]52;c;aGk=" not in raw

    asyncio.run(main())
