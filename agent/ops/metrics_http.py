"""The /metrics endpoint: plain HTTP on loopback by default; TLS and basic auth for a central
Prometheus scraping 500 stores over the chain's network.

prometheus-client serves TLS itself but has no authentication, so its WSGI app is wrapped
in a basic-auth check (constant-time compare) and served by its own threading server.
"""

from __future__ import annotations

import base64
import hmac
import ssl
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from config.settings import MetricsSettings

REALM = "store-agent metrics"

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every 15 s are not news."""


def password_of(settings: MetricsSettings) -> str | None:
    if settings.basic_auth_password_file is None:
        return None
    return settings.basic_auth_password_file.read_text(encoding="utf-8").strip()


def with_basic_auth(app: WsgiApp, user: str, password: str) -> WsgiApp:
    expected = f"{user}:{password}".encode()

    def guarded(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        header = environ.get("HTTP_AUTHORIZATION", "")
        scheme, _, token = header.partition(" ")
        try:
            given = base64.b64decode(token, validate=True) if scheme.lower() == "basic" else b""
        except ValueError:
            given = b""
        if not hmac.compare_digest(given, expected):
            start_response("401 Unauthorized", [("WWW-Authenticate", f'Basic realm="{REALM}"'),
                                                ("Content-Type", "text/plain")])
            return [b"authentication required\n"]
        return app(environ, start_response)

    return guarded


def start_server(registry: CollectorRegistry, host: str, port: int,
                 settings: MetricsSettings) -> tuple[WSGIServer, threading.Thread, bool]:
    """Serve ``registry``; returns the server, its thread and whether it speaks TLS."""
    app: WsgiApp = make_wsgi_app(registry)
    password = password_of(settings)
    if settings.basic_auth_user and password:
        app = with_basic_auth(app, settings.basic_auth_user, password)
    server = make_server(host, port, app, ThreadingWSGIServer, handler_class=_QuietHandler)
    tls = settings.tls_cert is not None
    if tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(settings.tls_cert), str(settings.tls_key))
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True)
    thread.start()
    return server, thread, tls
