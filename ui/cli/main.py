"""Entry point of `store-agent`: parse, dispatch, and map the error tree onto exit codes.

Exit codes are a promise to store IT's scripts (docs/cli.md): 0 done, 1 a bug,
2 usage or configuration, 3 refused by a business rule, 4 needs a person,
5 the OMS, a device, or the store's disk or database is unavailable.
Refusals are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import traceback
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import NoReturn

from agent.store.disk_errors import storage_error
from config.errors import ConfigError, StoreAgentError
from sync.text import strip_controls
from ui.cli import (
    demo,
    it_cmds,
    log_setup,
    manage,
    orders,
    print_cmds,
    report_cmd,
    serve_cmd,
    store_cmds,
    sync_cmds,
    ui_cmd,
)
from ui.cli.context import Context


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse's own usage errors: exit 2, one short message
        self.print_usage(sys.stderr)
        sys.stderr.write(f"store-agent: error: {message}\n")
        raise SystemExit(2)


def installed_version() -> str:
    try:
        return version("store-agent")
    except PackageNotFoundError:
        return "0+unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="store-agent",
        description="Keeps buy-online-pick-up-in-store and curbside pickup honest between the"
        " store and the OMS.",
    )
    parser.add_argument("--config", metavar="PATH",
                        help="config file (default: $STORE_AGENT_CONFIG, else"
                        " /etc/store-agent/config.toml)")
    parser.add_argument("--version", action="version", version=f"store-agent {installed_version()}",
                        help="print the installed version and exit")
    parser.add_argument("--log-format", choices=log_setup.FORMATS, metavar="FORMAT",
                        help="log lines as text, journal (<N> syslog priority prefixes) or json"
                        " (default: $STORE_AGENT_LOG_FORMAT, else auto: journal under systemd)")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="machine-readable output")
    common.add_argument("--station", metavar="ID", help="station id (default: the configured one)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_Parser)
    orders.register(sub, common)
    manage.register(sub, common)
    store_cmds.register(sub, common)
    print_cmds.register(sub, common)
    demo.register(sub, common)
    sync_cmds.register(sub, common)
    it_cmds.register(sub, common)
    ui_cmd.register(sub, common)
    serve_cmd.register(sub, common)
    report_cmd.register(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        log_setup.configure(args.command, args.log_format, os.environ)
    except ConfigError as exc:
        for line in exc.problems:
            sys.stderr.write(f"store-agent: config: {line}\n")
        return exc.exit_code
    ctx = Context(args)
    try:
        return int(args.handler(ctx) or 0)
    except ConfigError as exc:
        for line in exc.problems:
            sys.stderr.write(f"store-agent: config: {strip_controls(line)}\n")
        return exc.exit_code
    except StoreAgentError as exc:
        sys.stderr.write(f"store-agent: {strip_controls(str(exc))}\n")
        return exc.exit_code
    except sqlite3.Error as exc:  # stepped through rows past the store's boundary
        translated = storage_error(exc, Path(ctx.settings.storage.path))
        if translated is None:
            raise
        sys.stderr.write(f"store-agent: {translated}\n")
        return translated.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("store-agent: interrupted\n")
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: say so plainly; the transaction already rolled back
        sys.stderr.write(f"store-agent: unexpected error (a bug): {type(exc).__name__}:"
                         f" {strip_controls(str(exc))}\n")
        if os.environ.get("STORE_AGENT_DEBUG"):
            traceback.print_exc()
        return 1
    finally:
        ctx.close()


if __name__ == "__main__":
    sys.exit(main())
