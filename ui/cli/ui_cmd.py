"""`store-agent ui`: the associate's terminal UI (textual is imported only here, lazily)."""

from __future__ import annotations

import argparse
from typing import Any

from ui.cli.context import Context


def cmd_ui(ctx: Context) -> int:
    # Imported here so `store-agent status` and every other command never load textual.
    from ui.tui.app import StoreAgentApp

    StoreAgentApp(ctx.settings, station_id=ctx.args.station).run()
    return 0


def register(sub: argparse._SubParsersAction[Any], common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("ui", parents=[common], help="the associate's terminal UI")
    p.set_defaults(handler=cmd_ui)
