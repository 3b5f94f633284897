"""serve-ui's protections: TLS or a loopback address, HSTS, a cap on sessions, a device id of
its own for each session, and an app process only serve-ui can start."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from agent.store.connection import Store
from tests.conftest import REPO
from tests.factories import free_port
from tests.ui.conftest import PIN, order, seed, ui_config
from tests.ui.serve_harness import post_login, screen_until, serve_ui, serve_ui_env
from ui.serve import auth
from ui.serve.server import ServeUi


def test_plain_http_on_a_lan_address_is_refused_unless_insecure(tmp_path):
    ui_config(tmp_path)
    command = [sys.executable, "-m", "ui.cli.main", "serve-ui", "--host", "0.0.0.0",
               "--port", str(free_port())]
    env = serve_ui_env(tmp_path / "config.toml")
    r = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "in clear" in r.stderr and "tls_cert" in r.stderr, r.stderr
    with serve_ui(tmp_path / "config.toml", "--insecure", host="0.0.0.0") as served:
        assert "WARNING: plain HTTP on 0.0.0.0 (--insecure)" in served.log_text()


def test_the_session_module_cannot_be_started_by_hand(tmp_path):
    settings = ui_config(tmp_path)
    seed(settings, order("W10001"))
    module = [sys.executable, "-m", "ui.serve.session", "--station", "backroom-1"]
    env = serve_ui_env(tmp_path / "config.toml")
    # An associate id in the environment (what serve-ui once used) is not enough...
    r = subprocess.run(module, cwd=REPO, capture_output=True, text=True, timeout=60,
                       env={**env, "STORE_AGENT_SERVE_SESSION_ASSOCIATE": "M1"})
    assert r.returncode == 2 and "only serve-ui starts it" in r.stderr
    # ... nor is a ticket serve-ui never issued.
    r = subprocess.run(module, cwd=REPO, capture_output=True, text=True, timeout=60,
                       env={**env, "STORE_AGENT_SERVE_TICKET": "made-up"})
    assert r.returncode == 3 and "unknown, used or expired" in r.stderr


def test_free_device_ids():
    assert auth.free_device_id([], set()) == "handheld-1"
    assert auth.free_device_id([], {"handheld-1", "handheld-3"}) == "handheld-2"
    assert auth.free_device_id(["HH-07", "HH-09"], {"HH-07"}) == "HH-09"
    assert auth.free_device_id(["HH-07"], {"HH-07"}) == "handheld-1"


def test_two_sessions_have_their_own_device_ids_in_their_events(tmp_path):
    settings = ui_config(tmp_path)
    seed(settings, order("W10001"), order("W10003"))
    port = free_port()

    async def cancel_from(http, base: str, order_id: str) -> None:
        assert (await post_login(http, base)).status == 303
        ws = await http.ws_connect(f"{base}/ws", headers={"Origin": base})
        await screen_until(ws, "To pick")
        await ws.send_json(["stdin", f"{order_id}\r"])
        await screen_until(ws, "Timeline")
        await ws.send_json(["stdin", "\x1bOS"])  # F4: cancel
        await screen_until(ws, "choose a reason")
        await ws.send_json(["stdin", "\x1b[B\r"])  # no reason is preselected: Down, Enter
        await screen_until(ws, "confirms")
        await ws.send_json(["stdin", "\x1bOQ"])  # F2: confirm
        await screen_until(ws, "DONE")
        await ws.close()

    async def main():
        front = ServeUi(settings, host="127.0.0.1", port=port, station="backroom-1")
        server = TestServer(front.make_app(), port=port)
        await server.start_server()
        base = f"http://127.0.0.1:{port}"
        try:
            jars = [aiohttp.CookieJar(unsafe=True) for _ in range(2)]
            async with aiohttp.ClientSession(cookie_jar=jars[0]) as one, \
                    aiohttp.ClientSession(cookie_jar=jars[1]) as two:
                # At the same time, each in its own app process: both commits must survive
                # (this once lost one: a process closing a descriptor of the database dropped
                # its SQLite locks, and the other reset the WAL under it).
                await asyncio.gather(cancel_from(one, base, "W10001"), cancel_from(two, base, "W10003"))
        finally:
            await server.close()

    asyncio.run(main())
    with Store(settings.storage.path, migrate=False) as store:
        events = [tuple(r) for r in store.conn.execute(
            "SELECT order_id, type, device_id FROM outbox ORDER BY seq")]
    devices = {device for order_id, _type, device in events if order_id in ("W10001", "W10003")}
    assert devices == {"handheld-1", "handheld-2"}, events


def test_hsts_under_tls_and_a_cap_on_sessions(tmp_path):
    settings = ui_config(tmp_path)
    settings = settings.model_copy(update={"ui": settings.ui.model_copy(update={"max_sessions": 1})})
    port = free_port()

    async def main():
        front = ServeUi(settings, host="127.0.0.1", port=port, station="backroom-1", tls=True)
        server = TestServer(front.make_app(), port=port)
        await server.start_server()
        # tls=True only changes what the server says (the origin is https): TLS itself is
        # the ssl context's job, tested in test_serve.test_tls_settings.
        base, origin = f"http://127.0.0.1:{port}", f"https://127.0.0.1:{port}"
        try:
            for jar_owner in range(2):
                async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
                    page = await http.get(f"{base}/login")
                    assert page.headers["Strict-Transport-Security"] == "max-age=31536000"
                    r = await http.post(f"{base}/login", data={"associate": "A100", "pin": PIN},
                                        headers={"Origin": origin}, allow_redirects=False)
                    assert r.status == (303 if jar_owner == 0 else 503), r.status
        finally:
            await server.close()

    asyncio.run(main())


@pytest.mark.parametrize("tls", [False])
def test_no_hsts_over_plain_http(tmp_path, tls):
    settings = ui_config(tmp_path)

    async def main():
        port = free_port()  # never a fixed number: another run or service may hold it
        front = ServeUi(settings, host="127.0.0.1", port=port, station="backroom-1", tls=tls)
        server = TestServer(front.make_app(), port=port)
        await server.start_server()
        try:
            async with aiohttp.ClientSession() as http:
                page = await http.get(f"http://127.0.0.1:{port}/login")
                assert "Strict-Transport-Security" not in page.headers
        finally:
            await server.close()

    asyncio.run(main())


def test_a_served_session_never_opens_the_pcs_serial_scanner(tmp_path):
    from ui.tui.app import StoreAgentApp

    settings = ui_config(tmp_path)
    master, slave = os.openpty()
    stations = [s.model_copy(update={"scanner": os.ttyname(slave)}) if s.id == "backroom-1" else s
                for s in settings.stations]
    settings = settings.model_copy(update={"stations": stations})

    class Served(StoreAgentApp):
        opens_serial_scanner = False

    async def main():
        pc, handheld = StoreAgentApp(settings), Served(settings, device_id="handheld-1")
        async with pc.run_test(size=(80, 24)):
            assert pc.serial_scanner is not None  # the control: the PC's own app opens it
        async with handheld.run_test(size=(80, 24)):
            assert handheld.serial_scanner is None and handheld.actions.device_id == "handheld-1"
            assert handheld.actions.print_station == "backroom-1"  # receipts print at the PC

    try:
        asyncio.run(main())
    finally:
        os.close(master)
        os.close(slave)


def test_a_pin_changed_with_set_pin_counts_at_the_next_login(tmp_path):
    from agent.associates.pins import hash_pin
    from agent.associates.roster import set_pin_hash
    from agent.store.connection import Store

    settings = ui_config(tmp_path)
    port = free_port()

    async def main():
        front = ServeUi(settings, host="127.0.0.1", port=port, station="backroom-1")
        server = TestServer(front.make_app(), port=port)
        await server.start_server()
        base = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
                assert (await post_login(http, base)).status == 303
                with Store(settings.storage.path) as store:  # set-pin, while serve-ui runs
                    await asyncio.to_thread(set_pin_hash, store, "A100", hash_pin("97531864"))
                assert (await post_login(http, base)).status == 401  # the old PIN no longer works
                assert (await post_login(http, base, pin="97531864")).status == 303
        finally:
            await server.close()

    asyncio.run(main())
