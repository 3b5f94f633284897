"""`store-agent serve-ui`: the associate UI for handheld browsers, behind a login (ui/serve)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ui.cli.context import Context


def cmd_serve_ui(ctx: Context) -> int:
    # Imported here so every other command never loads aiohttp's server, textual-serve or textual.
    from ui.serve.server import serve

    settings = ctx.settings
    host, port = settings.ui.host_port()  # checked when the config loaded
    if ctx.args.host is not None:
        host = ctx.args.host
    if ctx.args.port is not None:
        port = ctx.args.port
    if ctx.args.tls_cert or ctx.args.tls_key:
        ui = settings.ui.model_copy(update={"tls_cert": ctx.args.tls_cert or settings.ui.tls_cert,
                                            "tls_key": ctx.args.tls_key or settings.ui.tls_key})
        settings = settings.model_copy(update={"ui": ui})
    return serve(settings, host=host, port=port, station=settings.default_station,
                 insecure=ctx.args.insecure)


def _port(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise argparse.ArgumentTypeError(f"{value!r} is not a TCP port (1-65535)")
    return int(value)


def register(sub: argparse._SubParsersAction[Any], common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("serve-ui", parents=[common],
                       help="the associate UI for handheld browsers, behind an associate login")
    p.add_argument("--host", metavar="H", help="address to listen on (default: from ui.listen)")
    p.add_argument("--port", metavar="P", type=_port, help="port to listen on (default: from ui.listen)")
    p.add_argument("--tls-cert", metavar="PEM", type=Path, help="certificate (default: ui.tls_cert)")
    p.add_argument("--tls-key", metavar="PEM", type=Path, help="its private key (default: ui.tls_key)")
    p.add_argument("--insecure", action="store_true",
                   help="allow plain HTTP on a non-loopback address (a closed test network only)")
    p.set_defaults(handler=cmd_serve_ui)
