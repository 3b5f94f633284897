"""serve-ui's web front: login, sessions and the Origin allow-list in front of textual-serve.

Why not subclass ``textual_serve.Server``: it runs one fixed command for every
websocket (we need the session's associate in each child's environment), its
page template loads a font from Google, it exposes ``/download`` and a static
directory index, and its ``serve()`` owns logging and signals. What we want
from it is the per-session process machinery, ``AppService`` (spawn the app
with textual's web driver, relay its frames, stop it), so this is a small
aiohttp application of our own that reuses ``AppService`` and the static
terminal assets (xterm.js and textual.js) and nothing else.

Every request passes ``_guard``: a POST or a websocket upgrade whose Origin is
not allowed gets 403 before anything else happens; then the session cookie is
looked up. No app process starts before a PIN was checked: ``/ws`` without a
live session is 401 before the upgrade.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shlex
import ssl
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import textual_serve
from aiohttp import WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.download_manager import DownloadManager

from agent.associates import serve_tickets
from agent.associates.pin_check import PinCheck, check_pin
from agent.associates.serve_tickets import TICKET_ENV
from agent.errors import StoreError
from agent.store.connection import Store
from agent.store.devices import scan_patterns
from config.addresses import is_loopback
from config.errors import ConfigError
from config.settings import Settings, UiSettings
from drivers.scan_parse import classify
from ui.serve import auth, pages
from ui.serve.app_process import SessionAppService

log = logging.getLogger("store_agent.serve_ui")

COOKIE = "store_agent_session"
STATIC_DIR = Path(textual_serve.__file__).parent / "static"  # xterm.js, textual.js, the font
STOP_TIMEOUT_S = 5.0


def ssl_context_for(ui: UiSettings) -> ssl.SSLContext | None:
    """HTTPS when ui.tls_cert and ui.tls_key are set; a clear config error when they cannot be used."""
    if (ui.tls_cert is None) != (ui.tls_key is None):
        raise ConfigError("ui.tls_cert and ui.tls_key: set both (HTTPS) or neither (HTTP)")
    if ui.tls_cert is None or ui.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(ui.tls_cert, ui.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"ui.tls_cert/ui.tls_key: cannot load {ui.tls_cert} with {ui.tls_key}"
                          f" ({getattr(exc, 'strerror', None) or exc})") from None
    return context


class ServeUi:
    """The aiohttp application of serve-ui. ``clock`` is injectable for the expiry tests."""

    def __init__(self, settings: Settings, *, host: str, port: int, station: str,
                 tls: bool = False, clock: auth.Clock = time.monotonic,
                 watch_interval_s: float = 1.0) -> None:
        self.settings = settings
        self.station = station
        self.tls = tls
        self.sessions = auth.Sessions(settings.ui.idle_logout_s, clock=clock)
        self.limiter = auth.RateLimiter(clock=clock)
        self.allowed = auth.allowed_origins(settings.ui.allowed_origins, host, port, tls=tls)
        self.scan_patterns = scan_patterns(settings)  # compiled once, not per login
        self.watch_interval_s = watch_interval_s
        config_path = getattr(settings, "source_path", None)
        self.child_env = {"STORE_AGENT_CONFIG": str(Path(config_path).resolve())} if config_path else {}
        self.command = shlex.join([sys.executable, "-m", "ui.serve.session", "--station", station])
        self._login_lock = asyncio.Lock()
        self._live: dict[str, web.WebSocketResponse] = {}
        self._stopping: set[asyncio.Task[Any]] = set()

    # --- the application -----------------------------------------------------------------
    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard], client_max_size=16 * 1024)
        app.add_routes([
            web.get("/", self.handle_index),
            web.get("/login", self.handle_login_page),
            web.post("/login", self.handle_login),
            web.post("/logout", self.handle_logout),
            web.get("/ws", self.handle_websocket),
            web.static("/static", STATIC_DIR, show_index=False),
        ])
        app.on_shutdown.append(self._close_all)
        return app

    @web.middleware
    async def _guard(self, request: web.Request,
                     handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
        if (request.method not in ("GET", "HEAD") or upgrade) and not auth.origin_allowed(
                request.headers.get("Origin"), self.allowed):
            log.warning("refused %s %s from %s: Origin %r is not allowed", request.method,
                        request.path, request.remote, request.headers.get("Origin"))
            response: web.StreamResponse = self._html(403, pages.error_page(
                403, "This page was not opened from an address this store allows (ui.allowed_origins)."))
        else:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                if exc.status < 400 or exc.status == 404:
                    raise
                response = self._html(exc.status, pages.error_page(exc.status, exc.reason))
        if not upgrade:
            host = request.host
            response.headers.setdefault("Content-Security-Policy", (
                "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline';"
                f" img-src 'self' data:; font-src 'self'; connect-src 'self' ws://{host} wss://{host};"
                " form-action 'self'; frame-ancestors 'none'; base-uri 'none'"))
            if self.tls:  # the browser never tries plain HTTP for this host again
                response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
            response.headers.setdefault("X-Frame-Options", "DENY")
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            # Not no-referrer: under it browsers send "Origin: null" on our own form posts.
            response.headers.setdefault("Referrer-Policy", "same-origin")
            if not request.path.startswith("/static/"):
                response.headers.setdefault("Cache-Control", "no-store")
        return response

    def _session(self, request: web.Request) -> auth.WebSession | None:
        return self.sessions.get(request.cookies.get(COOKIE))

    @staticmethod
    def _html(status: int, body: str, **headers: str) -> web.Response:
        return web.Response(status=status, text=body, content_type="text/html", headers=headers)

    # --- pages ------------------------------------------------------------------------------
    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        if self._session(request) is None:
            raise web.HTTPSeeOther("/login")
        font_size = max(8, min(40, _to_int(request.query.get("fontsize"), 16)))
        ws_url = f"{'wss' if self.tls else 'ws'}://{request.host}/ws"
        return self._html(200, pages.app_page(station=self.station, ws_url=ws_url, font_size=font_size))

    async def handle_login_page(self, request: web.Request) -> web.StreamResponse:
        if self._session(request) is not None:
            raise web.HTTPSeeOther("/")
        bye = "bye" in request.query
        return self._html(200, pages.login_page(station=self.station, ok=bye,
                                                message="Logged out." if bye else ""))

    async def handle_login(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        raw = str(form.get("associate", "")).strip()[:64]
        pin = str(form.get("pin", ""))[:32]
        scan = classify(raw, self.scan_patterns, expect="badge") if raw else None
        associate_id = scan.value if scan is not None and scan.kind == "badge" else raw
        address = f"ip:{request.remote}"

        def refuse(status: int, text: str, **headers: str) -> web.Response:
            return self._html(status, pages.login_page(station=self.station, associate=associate_id,
                                                       message=text), **headers)

        # One login at a time: the check, the slow hash and the count of failures are one
        # step, so parallel guesses cannot all slip under the limit. Wrong PINs count per id
        # in the store (a lockout holds on every terminal and across restarts, longer each
        # time); per address here, so one handheld cannot try many ids fast.
        async with self._login_lock:
            wait = self.limiter.retry_after(address)
            if wait > 0:
                log.warning("login for %r from %s refused: too many failures", associate_id, request.remote)
                return refuse(429, f"Too many wrong attempts; wait {int(wait) + 1} s.",
                              **{"Retry-After": str(int(wait) + 1)})
            try:
                check = await asyncio.to_thread(self._check_pin, associate_id, pin,
                                                str(request.remote))
            except StoreError as exc:  # the disk or the database: the server stays up
                log.error("login for %r not checked: %s", associate_id, exc)
                return refuse(503, "The store's database cannot be used right now (disk full or"
                                   " damaged); nothing was changed. Tell the manager:"
                                   " store-agent doctor.")
            who = check.associate
            if who is None:
                self.limiter.failed(address)
                log.warning("failed login for %r from %s", associate_id, request.remote)
                if check.locked_for_s is not None:
                    return refuse(429, f"Too many wrong attempts; wait {check.locked_for_s} s.",
                                  **{"Retry-After": str(check.locked_for_s)})
                return refuse(401, "Wrong associate id or PIN.")
        self.sessions.end(request.cookies.get(COOKIE))  # never keep a token across logins
        if len(self.sessions) >= self.settings.ui.max_sessions:
            log.warning("login of %s from %s refused: %d sessions already (ui.max_sessions)",
                        who.id, request.remote, len(self.sessions))
            return refuse(503, "Too many handhelds are logged in; log one out first.")
        device_id = auth.free_device_id(self.settings.ui.handheld_ids, self.sessions.device_ids())
        session = self.sessions.create(who.id, device_id)
        log.info("%s logged in from %s as device %s", who.id, request.remote, device_id)
        response = web.Response(status=303, headers={"Location": "/"})
        response.set_cookie(COOKIE, session.token, path="/", httponly=True, samesite="Strict",
                            secure=self.tls, max_age=int(self.sessions.max_s))
        return response

    def _ticket(self, session: auth.WebSession) -> str:
        with Store(Path(self.settings.storage.path)) as store:
            return serve_tickets.issue(store, session.associate_id, session.device_id)

    def _check_pin(self, associate_id: str, pin: str, remote: str) -> PinCheck:
        # The PIN is read from the store now: a PIN changed a moment ago counts, no restart.
        with Store(Path(self.settings.storage.path)) as store:
            return check_pin(store, self.settings, associate_id, pin, where=f"serve-ui from {remote}")

    async def handle_logout(self, request: web.Request) -> web.StreamResponse:
        token = request.cookies.get(COOKIE)
        await self._end_session(token)
        response = web.Response(status=303, headers={"Location": "/login?bye=1"})
        response.del_cookie(COOKIE, path="/")
        return response

    # --- the terminal -----------------------------------------------------------------------
    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
        session: auth.WebSession | None = self._session(request)
        if session is None:
            raise web.HTTPUnauthorized(reason="log in first")
        token = session.token
        width = max(20, min(400, _to_int(request.query.get("width"), 80)))
        height = max(10, min(200, _to_int(request.query.get("height"), 24)))
        ws = web.WebSocketResponse(heartbeat=15, max_msg_size=64 * 1024)
        await ws.prepare(request)
        previous = self._live.get(token)
        self._live[token] = ws
        if previous is not None:  # one app per session: a reconnect replaces the old one
            await previous.close()
        # The app process proves it was started here by redeeming a one-time ticket.
        try:
            ticket = await asyncio.to_thread(self._ticket, session)
        except StoreError as exc:  # the disk or the database: this session ends, the server stays
            log.error("session of %s not started: %s", session.associate_id, exc)
            if self._live.get(token) is ws:
                del self._live[token]
            await ws.close(message=b"the store's database cannot be used right now")
            return ws
        service = SessionAppService(
            self.command,
            extra_env={**self.child_env, TICKET_ENV: ticket},
            on_logout=lambda: self.sessions.end(token),
            write_bytes=ws.send_bytes, write_str=ws.send_str, close=ws.close,
            download_manager=DownloadManager(),
        )
        watchdog = asyncio.create_task(self._watch(ws, token))
        try:
            await service.start(width, height)
            await self._pump(ws, service, token)
        except Exception:
            log.exception("session of %s failed", session.associate_id)
        finally:
            watchdog.cancel()
            # Shielded and tracked, so a server shutdown waits for every app to be reaped.
            stopping = asyncio.create_task(service.stop_within(STOP_TIMEOUT_S))
            self._stopping.add(stopping)
            stopping.add_done_callback(self._stopping.discard)
            await asyncio.shield(stopping)
            if self._live.get(token) is ws:
                del self._live[token]
            await ws.close()
        return ws

    async def _pump(self, ws: web.WebSocketResponse, service: AppService, token: str) -> None:
        """The browser's messages, as textual-serve's page sends them; anything else is ignored."""
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                envelope = json.loads(message.data)
            except ValueError:
                continue
            if not isinstance(envelope, list) or not envelope:
                continue
            kind, data = envelope[0], envelope[1] if len(envelope) > 1 else None
            if kind == "stdin" and isinstance(data, str):
                if self.sessions.get(token) is None:
                    break
                self.sessions.touch(token)
                await service.send_bytes(data.encode("utf-8"))
            elif kind == "resize" and isinstance(data, dict):
                await service.set_terminal_size(max(20, min(400, _to_int(data.get("width"), 80))),
                                                max(10, min(200, _to_int(data.get("height"), 24))))
            elif kind == "ping" and isinstance(data, str):
                await ws.send_json(["pong", data[:32]])
            elif kind == "blur":
                await service.blur()
            elif kind == "focus":
                await service.focus()

    async def _watch(self, ws: web.WebSocketResponse, token: str) -> None:
        """Close the terminal when its session ends (idle, 12 h, logout elsewhere)."""
        while not ws.closed:
            await asyncio.sleep(self.watch_interval_s)
            if self.sessions.get(token) is None:
                await ws.close(message=b"session ended")
                return

    async def _end_session(self, token: str | None) -> None:
        self.sessions.end(token)
        ws = self._live.pop(token, None) if token else None
        if ws is not None:
            await ws.close(message=b"logged out")

    async def _close_all(self, _app: web.Application) -> None:
        for ws in list(self._live.values()):
            await ws.close(message=b"server shutdown")
        for _ in range(50):  # the handlers wake up to the closed sockets and stop their apps
            if not self._live and not self._stopping:
                break
            await asyncio.sleep(0.1)
        if self._stopping:
            await asyncio.gather(*self._stopping, return_exceptions=True)


def _to_int(value: object, default: int) -> int:
    try:
        return int(value) if isinstance(value, int | float | str) else int(str(value))
    except (TypeError, ValueError):
        return default


def serve(settings: Settings, *, host: str, port: int, station: str, insecure: bool = False) -> int:
    """Run serve-ui until SIGTERM or Ctrl-C."""
    context = ssl_context_for(settings.ui)
    if context is None and not is_loopback(host):
        if not insecure:
            # PINs and session cookies would cross the store's network in clear.
            raise ConfigError(f"serve-ui on {host} without TLS would send PINs and session cookies in"
                              " clear: set ui.tls_cert and ui.tls_key (or --tls-cert/--tls-key), or"
                              " listen on 127.0.0.1 behind a TLS proxy; --insecure only on a closed"
                              " test network")
        warning = (f"serve-ui: WARNING: plain HTTP on {host} (--insecure): PINs and session cookies"
                   " cross the network in clear")
        log.warning(warning)
        sys.stderr.write(warning + "\n")
    front = ServeUi(settings, host=host, port=port, station=station, tls=context is not None)
    scheme = "https" if context else "http"
    if not front.allowed:
        log.warning("serve-ui listens on every interface and ui.allowed_origins is empty: every"
                    " browser will be refused; list the address handhelds use in ui.allowed_origins")

    def ready(_banner: str) -> None:
        sys.stderr.write(f"serve-ui: station {station} on {scheme}://{auth.bracket_host(host)}:{port}"
                         f" (origins allowed: {', '.join(sorted(front.allowed)) or 'none'})\n")
        sys.stderr.flush()

    web.run_app(front.make_app(), host=host, port=port, ssl_context=context, print=ready,
                access_log=None, handle_signals=True)
    return 0
