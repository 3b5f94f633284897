"""serve-ui: the login, sessions and Origin allow-list in front of textual-serve, and a real browser.

The HTTP tests run `store-agent serve-ui` as a real subprocess on a free
loopback port. Expiry is tested in process, with the server's clock injected,
because ``ui.idle_logout_s`` cannot go below 30 s. The browser test drives
headless Chromium (Debian ``chromium``; ``./install.sh --test`` installs it
when missing and run as root) over the Chrome DevTools Protocol.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from config.errors import ConfigError
from config.settings import UiSettings
from tests.factories import free_port
from tests.ui.conftest import PIN, order, seed, start_served, ui_config
from tests.ui.serve_harness import Cdp, http_client, post_login, screen_until
from ui.serve import auth
from ui.serve.server import COOKIE, ServeUi, ssl_context_for


# --- the subprocess: no session without login, PINs, origins -----------------------------
def test_nothing_without_login(served):
    async def main():
        async with http_client() as http:
            r = await http.get(served.base + "/", allow_redirects=False)
            assert r.status == 303 and r.headers["Location"] == "/login"
            page = await (await http.get(served.base + "/login")).text()
            assert 'name="associate"' in page and 'name="pin"' in page
            assert not re.search(r"(src|href|action)=\"(https?:)?//", page)  # no external assets
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(served.base + "/ws", headers=served.origin)
            assert refused.value.status == 401
            forged = {"Origin": served.base, "Cookie": f"{COOKIE}=made-up-token"}
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(served.base + "/ws", headers=forged)
            assert refused.value.status == 401
            r = await http.get(served.base + "/", headers={"Cookie": f"{COOKIE}=made-up-token"},
                               allow_redirects=False)
            assert r.status == 303

    asyncio.run(main())


def test_wrong_pin_and_unknown_id_are_refused_alike(served):
    async def main():
        async with http_client() as http:
            wrong = await post_login(http, served.base, pin="0000")
            unknown = await post_login(http, served.base, who="NOBODY", pin=PIN)
            for r in (wrong, unknown):
                assert r.status == 401 and "Wrong associate id or PIN" in await r.text()
                assert COOKIE not in r.cookies
            no_pin = await post_login(http, served.base, who="A200", pin=PIN)  # in the roster, no PIN set
            assert no_pin.status == 401 and COOKIE not in no_pin.cookies

    asyncio.run(main())


def test_foreign_origin_is_refused_on_login_and_websocket(served):
    async def main():
        async with http_client() as http:
            for origin in ("http://evil.example", "http://127.0.0.1:1", "https://127.0.0.1:"
                           + served.base.rsplit(":", 1)[1], "null"):
                r = await post_login(http, served.base, origin=origin)
                assert r.status == 403 and COOKIE not in r.cookies, origin
            r = await http.post(f"{served.base}/login", data={"associate": "A100", "pin": PIN},
                                allow_redirects=False)  # no Origin at all
            assert r.status == 403
            ok = await post_login(http, served.base)
            assert ok.status == 303 and ok.headers["Location"] == "/"
            cookie = ok.cookies[COOKIE]
            assert cookie["httponly"] and cookie["samesite"] == "Strict" and not cookie["secure"]
            # Logged in now, yet a websocket from a foreign page is refused before any app starts.
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(served.base + "/ws", headers={"Origin": "http://evil.example"})
            assert refused.value.status == 403
            r = await http.post(f"{served.base}/logout", headers={"Origin": "http://evil.example"})
            assert r.status == 403
            assert (await http.get(served.base + "/", allow_redirects=False)).status == 200
            r = await http.post(f"{served.base}/logout", headers=served.origin, allow_redirects=False)
            assert r.status == 303
            assert (await http.get(served.base + "/", allow_redirects=False)).status == 303

    asyncio.run(main())
    assert "Origin 'http://evil.example' is not allowed" in served.log_text()


def test_session_runs_the_app_logged_in_and_logout_ends_it(served):
    async def main():
        async with http_client() as http:
            assert (await post_login(http, served.base)).status == 303
            page = await (await http.get(served.base + "/")).text()
            assert "/static/js/textual.js" in page and "googleapis" not in page
            ws = await http.ws_connect(served.base + "/ws?width=80&height=24", headers=served.origin)
            screen = await screen_until(ws, "To pick")
            assert "Dana (A100)" in screen and "backroom-1" in screen
            await ws.send_str(json.dumps(["stdin", "W10001\r"]))
            await screen_until(ws, "Timeline")
            await ws.send_str(json.dumps(["stdin", "\x1b[20~"]))  # F9: log out
            told = await ws.receive(timeout=10)
            while told.type == aiohttp.WSMsgType.BINARY:  # frames still on their way
                told = await ws.receive(timeout=10)
            assert json.loads(told.data) == ["open_url", {"url": "/login?bye=1", "new_tab": False}]
            await ws.close()
            r = await http.get(served.base + "/", allow_redirects=False)
            assert r.status == 303  # the web session ended with the app's logout

    asyncio.run(main())


def test_rate_limit_on_failed_logins(tmp_path):
    gen = start_served(tmp_path)
    srv = next(gen)
    try:
        async def main():
            async with http_client() as http:
                for _ in range(auth.LOGIN_FAILURES - 1):
                    assert (await post_login(http, srv.base, pin="0000")).status == 401
                locking = await post_login(http, srv.base, pin="0000")  # the last try says so
                assert locking.status == 429 and "wait 60 s" in await locking.text()
                blocked = await post_login(http, srv.base)  # the right PIN, too late
                assert blocked.status == 429 and COOKIE not in blocked.cookies
                assert int(blocked.headers["Retry-After"]) > 0
                other = await post_login(http, srv.base, who="M1", pin="1357")  # same address: blocked too
                assert other.status == 429

        asyncio.run(main())
    finally:
        gen.close()


# --- in process: expiry with an injected clock -------------------------------------------
class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_sessions_expire_when_idle_and_after_twelve_hours():
    clock = FakeClock()
    sessions = auth.Sessions(300, clock=clock)
    s = sessions.create("A100")
    clock.now += 299
    assert sessions.get(s.token) is s
    sessions.touch(s.token)
    clock.now += 299
    assert sessions.get(s.token) is s
    clock.now += 301
    assert sessions.get(s.token) is None and len(sessions) == 0
    s = sessions.create("A100")
    for _ in range(int(auth.SESSION_MAX_S // 200)):
        clock.now += 200
        sessions.touch(s.token)
    assert sessions.get(s.token) is None  # busy all shift, still ends after 12 h
    assert len({sessions.create("A100").token for _ in range(50)}) == 50


def test_rate_limiter_window():
    clock = FakeClock()
    limiter = auth.RateLimiter(limit=5, window_s=60, clock=clock)
    for _ in range(5):
        assert limiter.retry_after("id:a100", "ip:10.0.0.9") == 0
        limiter.failed("id:a100", "ip:10.0.0.9")
    assert limiter.retry_after("id:a100") == 60 and limiter.retry_after("ip:10.0.0.9") == 60
    assert limiter.retry_after("id:m1", "ip:10.0.0.8") == 0
    clock.now += 30
    assert limiter.retry_after("id:a100") == 30
    clock.now += 30
    assert limiter.retry_after("id:a100", "ip:10.0.0.9") == 0


def test_origins():
    assert auth.allowed_origins([], "127.0.0.1", 8470, tls=False) == {"http://127.0.0.1:8470"}
    assert auth.allowed_origins([], "store-pc.local", 443, tls=True) == {"https://store-pc.local"}
    assert auth.allowed_origins([], "::1", 8470, tls=False) == {"http://[::1]:8470"}
    assert auth.allowed_origins([], "0.0.0.0", 8470, tls=False) == frozenset()
    allowed = auth.allowed_origins(["https://Store-PC.example:8470/", "bogus"], "0.0.0.0", 1, tls=True)
    assert allowed == {"https://store-pc.example:8470"}
    assert auth.origin_allowed("https://store-pc.example:8470", allowed)
    for foreign in (None, "", "null", "https://store-pc.example", "http://store-pc.example:8470",
                    "https://store-pc.example:8470.evil.example", "https://evil.example"):
        assert not auth.origin_allowed(foreign, allowed), foreign


def test_tls_settings(tmp_path):
    assert ssl_context_for(UiSettings()) is None
    with pytest.raises(ConfigError, match="set both"):
        ssl_context_for(UiSettings(tls_cert=tmp_path / "c.pem"))
    with pytest.raises(ConfigError, match="cannot load"):
        ssl_context_for(UiSettings(tls_cert=tmp_path / "c.pem", tls_key=tmp_path / "k.pem"))
    if shutil.which("openssl"):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-keyout", str(tmp_path / "k.pem"),
                        "-out", str(tmp_path / "c.pem")], check=True, capture_output=True, timeout=30)
        assert ssl_context_for(UiSettings(tls_cert=tmp_path / "c.pem", tls_key=tmp_path / "k.pem"))


def test_expired_session_refused_and_its_terminal_closed(tmp_path):
    settings = ui_config(tmp_path)
    seed(settings, order("W10001"))
    clock = FakeClock()

    async def main():
        front = ServeUi(settings, host="127.0.0.1", port=8470, station="backroom-1", clock=clock,
                        watch_interval_s=0.1)
        origin = {"Origin": "http://127.0.0.1:8470"}
        async with TestClient(TestServer(front.make_app()),
                              cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
            r = await client.post("/login", data={"associate": "A100", "pin": PIN}, headers=origin,
                                  allow_redirects=False)
            assert r.status == 303
            ws = await client.ws_connect("/ws", headers=origin)
            await screen_until(ws, "To pick")
            clock.now += settings.ui.idle_logout_s + 1  # nobody typed for the idle time
            closed = await ws.receive(timeout=10)
            while closed.type == aiohttp.WSMsgType.BINARY:
                closed = await ws.receive(timeout=10)
            assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            assert (await client.get("/", allow_redirects=False)).status == 303
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await client.ws_connect("/ws", headers=origin)
            assert refused.value.status == 401

    asyncio.run(main())


# --- a real browser ------------------------------------------------------------------------
_FOREIGN = """<!DOCTYPE html><html><body>
<form method="post" action="{target}/login">
<input name="associate" value="A100"><input name="pin" value="{pin}"></form></body></html>"""


def test_real_browser(served, chromium):
    target = served.base

    async def foreign_site() -> tuple[web.AppRunner, str]:
        async def page(_request: web.Request) -> web.Response:
            return web.Response(text=_FOREIGN.format(target=target, pin=PIN), content_type="text/html")

        app = web.Application()
        app.router.add_get("/", page)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        return runner, f"http://127.0.0.1:{port}"

    async def main():
        runner, foreign = await foreign_site()
        try:
            async with Cdp.page(chromium) as cdp:
                await _drive(cdp, foreign)
        finally:
            await runner.cleanup()

    async def _drive(cdp: Cdp, foreign: str) -> None:
        # A foreign site posting the right PIN to our login: 403, and no session.
        await cdp.call("Page.navigate", url=foreign + "/")
        await cdp.wait("document.readyState === 'complete' && !!document.forms[0]", what="foreign page")
        await cdp.js("document.forms[0].submit(); true")
        await cdp.wait(f"location.href.startsWith('{target}/login') && document.readyState === 'complete'"
                       " && document.body.innerText.includes('403')", what="403 for the foreign origin")
        await cdp.call("Page.navigate", url=foreign + "/")
        await cdp.wait("document.readyState === 'complete'")
        await cdp.js(f"new WebSocket('{target.replace('http', 'ws')}/ws'); true")
        await cdp.wait("window.__sockets.length === 1 && window.__sockets[0].closed",
                       what="foreign websocket refused")
        assert not await cdp.js("window.__sockets[0].opened")

        # No session without login: / sends the browser to the login form; the terminal's
        # websocket, opened from our own page without a session, never opens.
        await cdp.call("Page.navigate", url=target + "/")
        await cdp.wait("location.pathname === '/login' && !!document.getElementById('pin')",
                       what="redirected to the login page")
        await cdp.js(f"new WebSocket('{target.replace('http', 'ws')}/ws'); true")
        await cdp.wait("window.__sockets.length === 1 && window.__sockets[0].closed",
                       what="websocket without a session refused")
        assert not await cdp.js("window.__sockets[0].opened")

        # Log in with the form, as an associate would.
        await cdp.js("document.getElementById('associate').value = 'A100';"
                     f"document.getElementById('pin').value = '{PIN}';"
                     "document.forms[0].submit(); true")
        await cdp.wait("location.pathname === '/' && document.body.classList.contains('-first-byte')",
                       what="the terminal page, connected")
        await cdp.wait("window.__term.includes('To pick')", what="the queue in the terminal")
        assert "A100" in await cdp.screen()  # a handheld-sized page: the one-row status bar

        # A scan typed into the page (a keyboard-wedge scanner types just so) opens the order.
        await cdp.focus_terminal()
        await cdp.scan("W10001")
        await cdp.wait("window.__term.includes('Timeline')", what="the order screen")
        screen = await cdp.screen()
        assert "W10001" in screen and "TO_PICK" in screen and "Ann Smith" in screen

    asyncio.run(main())
    log = served.log_text()
    assert re.search(r"refused POST /login from 127\.0\.0\.1: Origin 'http://127\.0\.0\.1:\d+'", log)
    assert re.search(r"refused GET /ws from 127\.0\.0\.1: Origin 'http://127\.0\.0\.1:\d+'", log)
