"""serve-ui under test: the server as a real subprocess, an HTTP client, and headless Chromium.

Chromium is Debian's ``chromium`` (``./install.sh --test`` installs it when
missing and run as root), driven over the Chrome DevTools Protocol with
aiohttp's websocket client: no Selenium, no driver binary. xterm.js draws on
a canvas, so a script added to every page (``TAP``) keeps what the server
sends the terminal in ``window.__term`` for the tests to read.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import REPO
from tests.factories import free_port
from tests.ui.conftest import PIN

ANSI = re.compile(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|\][^\x07]*\x07|[()][0-9A-Za-z]|.)")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

TAP = """
(() => {
  // What the server sends the page's terminal, kept for the test to read (xterm draws on a canvas).
  const Native = window.WebSocket;
  window.__term = "";
  window.__sockets = [];
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      const info = {url: String(args[0]), opened: false, closed: false};
      window.__sockets.push(info);
      const decoder = new TextDecoder();
      this.addEventListener("open", () => { info.opened = true; });
      this.addEventListener("close", () => { info.closed = true; });
      this.addEventListener("message", (e) => {
        if (typeof e.data !== "string") window.__term += decoder.decode(e.data, {stream: true});
      });
    }
  };
})();
"""


# --- serve-ui ------------------------------------------------------------------------------
@dataclass
class Served:
    base: str
    proc: subprocess.Popen
    log: Path

    @property
    def origin(self) -> dict[str, str]:
        return {"Origin": self.base}

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def serve_ui_env(config: Path) -> dict[str, str]:
    """This process's environment for a child, with ``config`` and no other STORE_AGENT_ setting."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORE_AGENT_")}
    env["STORE_AGENT_CONFIG"] = str(config)
    return env


@contextmanager
def serve_ui(config: Path, *args: str, host: str = "127.0.0.1") -> Iterator[Served]:
    """`store-agent serve-ui` with ``config`` on a free port, up until the caller is done.

    Its output goes to serve-ui.log beside the config (``Served.log_text``).
    """
    port = free_port()
    log = config.parent / "serve-ui.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ui.cli.main", "serve-ui", "--host", host, "--port", str(port), *args],
            cwd=REPO, env=serve_ui_env(config), stdout=out, stderr=subprocess.STDOUT)
    served = Served(f"http://127.0.0.1:{port}", proc, log)
    try:
        deadline = time.monotonic() + 20
        while "serve-ui: station" not in served.log_text():
            assert proc.poll() is None, f"serve-ui exited:\n{served.log_text()}"
            assert time.monotonic() < deadline, f"serve-ui never came up:\n{served.log_text()}"
            time.sleep(0.05)
        yield served
    finally:
        _stop(proc)


# --- an HTTP client ------------------------------------------------------------------------
def http_client() -> aiohttp.ClientSession:
    # unsafe=True: aiohttp's jar otherwise refuses cookies from an IP address like 127.0.0.1.
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def post_login(http: aiohttp.ClientSession, base: str, pin: str = PIN, who: str = "A100",
                     origin: str | None = None) -> aiohttp.ClientResponse:
    """The login form's POST, from ``origin`` (by default the server's own)."""
    return await http.post(f"{base}/login", data={"associate": who, "pin": pin},
                           headers={"Origin": origin or base}, allow_redirects=False)


async def screen_until(ws: aiohttp.ClientWebSocketResponse, text: str, timeout: float = 15) -> str:
    """The app's output on the terminal websocket, escapes stripped, once ``text`` appeared in it."""
    raw = b""
    deadline = time.monotonic() + timeout
    while True:
        plain = ANSI.sub("", raw.decode("utf-8", "replace"))
        if text in plain:
            return plain
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{text!r} never appeared in the served terminal within {timeout} s:\n"
                                 f"{plain[-2000:]}")
        try:
            msg = await ws.receive(timeout=left)
        except TimeoutError:
            continue  # the deadline check above says what was awaited
        if msg.type == aiohttp.WSMsgType.BINARY:
            raw += msg.data
        elif msg.type != aiohttp.WSMsgType.TEXT:
            raise AssertionError(f"terminal closed ({msg.type}, {msg.extra}) before {text!r}:\n"
                                 f"{plain[-2000:]}")


# --- Chromium ------------------------------------------------------------------------------
def launch_chromium(profile: Path) -> Iterator[str]:
    """Headless Chromium the size of a handheld (480 px); yields its DevTools websocket address."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (./install.sh --test installs it when run as root)")
    proc = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--remote-debugging-port=0",
         "--window-size=480,800", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    try:
        deadline = time.monotonic() + 30
        url = None
        while url is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                break
            found = re.search(r"DevTools listening on (ws://\S+)", line)
            url = found.group(1) if found else None
        assert url, "chromium did not print its DevTools address"
        yield url
    finally:
        _stop(proc)
        proc.stderr.close()


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM, and SIGKILL if that was not enough in 10 s: nothing a test starts outlives it."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


class Cdp:
    """Just enough of the Chrome DevTools Protocol, over aiohttp's websocket client."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse):
        self.ws = ws
        self.next_id = 0

    @classmethod
    @asynccontextmanager
    async def page(cls, chromium: str) -> AsyncIterator[Cdp]:
        """The browser's tab, with the terminal tap installed for every page it loads."""
        devtools = "http://" + chromium.split("/", 3)[2]
        async with aiohttp.ClientSession() as http:
            pages = await (await http.get(devtools + "/json/list")).json()
            page_ws = next(p["webSocketDebuggerUrl"] for p in pages if p["type"] == "page")
            async with http.ws_connect(page_ws, max_msg_size=0) as ws:
                cdp = cls(ws)
                await cdp.call("Page.enable")
                await cdp.call("Runtime.enable")
                await cdp.call("Page.addScriptToEvaluateOnNewDocument", source=TAP)
                yield cdp

    async def call(self, method: str, **params):
        self.next_id += 1
        await self.ws.send_json({"id": self.next_id, "method": method, "params": params})
        while True:
            msg = await self.ws.receive_json(timeout=30)
            if msg.get("id") == self.next_id:
                assert "error" not in msg, msg
                return msg["result"]

    async def js(self, expression: str):
        result = await self.call("Runtime.evaluate", expression=expression, awaitPromise=True,
                                 returnByValue=True)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    async def wait(self, expression: str, timeout: float = 15.0, what: str = ""):
        """Until ``expression`` is true; at the deadline, fail with the page and a screenshot."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                value = await self.js(expression)
            except AssertionError:  # the page is navigating
                value = None
            if value:
                return value
            await asyncio.sleep(0.1)
        shot = await self.call("Page.captureScreenshot")
        path = Path(tempfile.gettempdir()) / "serve-ui-failure.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        page = await self.js("document.location.href + '\\n' + document.body.innerText")
        raise AssertionError(f"never true: {what or expression}\npage: {page}\nscreenshot: {path}")

    async def screen(self) -> str:
        return ANSI.sub("", await self.js("window.__term") or "")

    async def key(self, key: str, code: int, text: str = "") -> None:
        await self.call("Input.dispatchKeyEvent", type="keyDown", key=key, code=key,
                        windowsVirtualKeyCode=code, text=text)
        await self.call("Input.dispatchKeyEvent", type="keyUp", key=key, code=key,
                        windowsVirtualKeyCode=code)

    async def log_in(self, base: str, who: str, pin: str) -> None:
        """Through the login form, as an associate would, until the queue is on the terminal."""
        await self.call("Page.navigate", url=base + "/login")
        await self.wait("!!document.getElementById('pin')", what="the login form")
        await self.js(f"document.getElementById('associate').value = '{who}';"
                      f"document.getElementById('pin').value = '{pin}';"
                      "document.forms[0].submit(); true")
        await self.wait("location.pathname === '/' && !!window.__term"
                        " && window.__term.includes('To pick')", what="the queue in the terminal")
        await self.focus_terminal()

    async def focus_terminal(self) -> None:
        await self.js("document.querySelector('.xterm-helper-textarea').focus(); true")

    async def scan(self, text: str) -> None:
        """What a keyboard-wedge scanner does: the characters, then Enter."""
        await self.call("Input.insertText", text=text)
        await self.key("Enter", 13, "\r")
