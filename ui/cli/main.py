"""Entry point of `store-agent`: parse, dispatch, and map the error tree onto exit codes.

Exit codes are a promise to store IT's scripts (docs/cli.md): 0 done, 1 a bug,
2 usage or configuration, 3 refused by a business rule, 4 needs a person,
5 the OMS or a device is unavailable (our extension).
Refusals are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback

from config.errors import ConfigError, StoreAgentError
from ui.cli import demo, it_cmds, manage, orders, print_cmds, serve_cmd, store_cmds, sync_cmds, ui_cmd
from ui.cli.context import Context


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own usage errors: exit 2, one short message
        self.print_usage(sys.stderr)
        sys.stderr.write(f"store-agent: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="store-agent",
        description="Keeps buy-online-pick-up-in-store and curbside pickup honest between the"
        " store and the OMS.",
    )
    parser.add_argument("--config", metavar="PATH",
                        help="config file (default: $STORE_AGENT_CONFIG, else"
                        " /etc/store-agent/config.toml)")
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
    return parser


def _configure_logging(command: str) -> None:
    # The daemon talks to journald (which adds timestamps); one-shot commands stay quiet.
    default = "INFO" if command == "run" else "WARNING"
    logging.basicConfig(
        level=os.environ.get("STORE_AGENT_LOG_LEVEL", default).upper(),
        format="%(levelname)s %(name)s: %(message)s" if os.environ.get("JOURNAL_STREAM")
        else "%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("apscheduler", "httpx", "httpcore", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging(args.command)
    ctx = Context(args)
    try:
        return int(args.handler(ctx) or 0)
    except ConfigError as exc:
        for line in exc.problems:
            sys.stderr.write(f"store-agent: config: {line}\n")
        return exc.exit_code
    except StoreAgentError as exc:
        sys.stderr.write(f"store-agent: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("store-agent: interrupted\n")
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: say so plainly; the transaction already rolled back
        sys.stderr.write(f"store-agent: unexpected error (a bug): {type(exc).__name__}: {exc}\n")
        if os.environ.get("STORE_AGENT_DEBUG"):
            traceback.print_exc()
        return 1
    finally:
        ctx.close()


if __name__ == "__main__":
    sys.exit(main())
