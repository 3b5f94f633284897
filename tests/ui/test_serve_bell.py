"""The served handheld UI rings too: a curbside arrival sends the BEL to the browser's terminal."""

from __future__ import annotations

import asyncio
import time

import aiohttp
from aiohttp.test_utils import TestServer

from agent.clock import iso, utc_now
from tests.factories import free_port, snapshot
from tests.ui.conftest import order, seed, ui_config
from tests.ui.serve_harness import post_login, screen_until
from ui.serve.server import ServeUi


async def _raw_until(ws: aiohttp.ClientWebSocketResponse, raw: bytes, done, timeout: float = 20) -> bytes:
    """Terminal bytes as the browser receives them, until ``done(raw)``."""
    deadline = time.monotonic() + timeout
    while not done(raw):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"never came; last bytes: {raw[-400:]!r}")
        msg = await ws.receive(timeout=left)
        if msg.type == aiohttp.WSMsgType.BINARY:
            raw += msg.data
        elif msg.type != aiohttp.WSMsgType.TEXT:
            raise AssertionError(f"terminal closed: {msg.type}")
    return raw


def test_an_arrival_rings_the_served_ui(tmp_path):
    settings = ui_config(tmp_path)
    seed(settings, order("W10001"), order("W10002", ready=True))
    port = free_port()

    async def main():
        front = ServeUi(settings, host="127.0.0.1", port=port, station="backroom-1")
        server = TestServer(front.make_app(), port=port)
        await server.start_server()
        base = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
                assert (await post_login(http, base)).status == 303
                ws = await http.ws_connect(f"{base}/ws", headers={"Origin": base})
                await screen_until(ws, "To pick")
                seed(settings, snapshot("W10002", status="ready_for_pickup", version=3,
                                        fulfillment="curbside", hold_until="2099-01-01T20:00:00Z",
                                        arrival={"arrived_at": iso(utc_now()), "bay": "Bay 5",
                                                 "vehicle": "green van"}))
                raw = await _raw_until(ws, b"", lambda r: b"\x07" in r and b"Customer arrived" in r)
                assert raw.count(b"\x07") == 1
                await ws.close()
        finally:
            await server.close()

    asyncio.run(main())
