"""A manager is a PIN, not a name: every CLI action that needs a manager asks for theirs.

`--as M1` on dlq, quarantine and conflict decisions and `order pickup
--override-by M1` read the manager's PIN from the terminal (without echo), or
one line on stdin with `--pin-stdin` for scripts; without either the command
is refused (exit 2) before anything changes. The PIN is checked like every
other (agent.associates.pin_check): one answer for a wrong id, someone who is
not a manager and a wrong PIN (exit 3), counted towards a lockout. The id
recorded as the decision's manager is the one whose PIN was checked.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys

from agent.associates.pin_check import check_pin
from agent.errors import NotAManagerError, UsageError
from ui.cli.context import Context

log = logging.getLogger(__name__)


def add_pin_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pin-stdin", action="store_true",
                        help="read the manager's PIN from the first line of stdin (for scripts)")


def authenticate(ctx: Context, manager_id: str, *, flag: str) -> str:
    """The manager's id once their PIN was checked; raises otherwise."""
    pin = _read_pin(ctx, manager_id, flag)
    check = check_pin(ctx.store, ctx.settings, manager_id, pin, manager=True,
                      where="the command line")
    if check.associate is None:
        raise NotAManagerError(f"{flag} {manager_id}: {check.message}; nothing changed")
    log.info("manager %s authenticated with a PIN for %s", check.associate.id, flag)
    return check.associate.id


def _read_pin(ctx: Context, manager_id: str, flag: str) -> str:
    if getattr(ctx.args, "pin_stdin", False):
        return sys.stdin.readline().strip()
    if sys.stdin.isatty():
        return getpass.getpass(f"PIN of manager {manager_id}: ")
    raise UsageError(f"{flag} {manager_id} needs the manager's PIN: type it at the prompt"
                     " on a terminal, or give it on stdin with --pin-stdin")
