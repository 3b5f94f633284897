"""Store IT's commands: doctor, backup, restore."""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path
from typing import Any

from agent.oms import agent_version
from agent.ops import doctor, maintenance, support_bundle
from ui.cli.context import Context
from ui.cli.output import emit_json, say

_MARK = {doctor.PASS: "ok  ", doctor.WARN: "WARN", doctor.FAIL: "FAIL"}


def cmd_doctor(ctx: Context) -> int:
    # Not ctx.settings: a broken config is one of the things doctor reports, not a reason to stop.
    checks = doctor.run_checks(ctx.args.config, environ=os.environ, service_user=ctx.args.user)
    result = {**doctor.summary(checks), "version": agent_version()}
    if ctx.args.json:
        emit_json(result)
    else:
        for c in checks:
            say(f"{_MARK[c.result]}  {c.name}: {c.detail}")
            if c.fix and c.result != doctor.PASS:
                say(f"      fix: {c.fix}")
        fails = sum(c.result == doctor.FAIL for c in checks)
        warns = sum(c.result == doctor.WARN for c in checks)
        say(f"{len(checks)} checks: {fails} failed, {warns} warnings")
    # For scripts and monitoring: 2 when the config itself is broken, 5 when the environment is not healthy.
    failed = {c.name for c in checks if c.result == doctor.FAIL}
    return 0 if not failed else 2 if "config" in failed else 5


def cmd_support_bundle(ctx: Context) -> int:
    # Like doctor, a broken config is part of what the bundle reports, not a reason to stop.
    files = support_bundle.collect(ctx.args.config, os.environ)
    store_id = "store"
    with contextlib.suppress(Exception):
        store_id = ctx.settings.store_id
    path = support_bundle.write(Path(ctx.args.path), files, store_id=store_id)
    if ctx.args.json:
        emit_json({"bundle": str(path), **support_bundle.summary(files)})
    else:
        say(f"support bundle written to {path} ({len(files)} files, secrets redacted)")
    return 0


def cmd_backup(ctx: Context) -> int:
    path = maintenance.backup(ctx.settings, Path(ctx.args.path))
    if ctx.args.json:
        emit_json({"backup": str(path), "bytes": path.stat().st_size})
    else:
        say(f"backup written to {path} ({path.stat().st_size / 2**20:.1f} MiB)")
    return 0


def cmd_restore(ctx: Context) -> int:
    result = maintenance.restore(ctx.settings, Path(ctx.args.path))
    if ctx.args.json:
        emit_json(result)
    else:
        say(f"restored {result['restored_to']} from {result['path']} ({result['orders']} orders)")
        if result["previous"] and result.get("damaged"):
            say(f"the damaged database is kept as it was: {result['previous']} (with its -wal"
                " and -shm, if there were any)")
        elif result["previous"]:
            say(f"the previous database is kept as {result['previous']}")
    return 0


def register(sub: argparse._SubParsersAction[Any], common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("doctor", parents=[common],
                       help="check config, database, OMS, clock, devices and permissions")
    p.add_argument("--user", metavar="NAME",
                   help="the account whose file ownership and device groups are checked (default:"
                        f" {doctor.SERVICE_USER} when run as root and it exists, else you)")
    p.set_defaults(handler=cmd_doctor)
    p = sub.add_parser("support-bundle", parents=[common],
                       help="doctor, status, logs, redacted config, versions and database integrity"
                            " in one archive for support")
    p.add_argument("path", metavar="PATH", help="archive to write (.tar.gz, never overwritten), or a"
                                                " directory")
    p.set_defaults(handler=cmd_support_bundle)
    p = sub.add_parser("backup", parents=[common], help="a consistent copy of the database")
    p.add_argument("path", metavar="PATH", help="file to write (never overwritten), or a directory")
    p.set_defaults(handler=cmd_backup)
    p = sub.add_parser("restore", parents=[common],
                       help="put a backup back (refused while the daemon runs)")
    p.add_argument("path", metavar="PATH", help="a backup written by `backup` or the nightly job")
    p.set_defaults(handler=cmd_restore)
