"""Configuration, roster, dead letters and quarantine commands."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Any

from agent.associates import roster
from agent.associates.pins import hash_pin
from agent.errors import ConfigError, InvalidActionError, UnknownAssociateError, UsageError
from agent.orders import dead_letters
from agent.printing.profiles import unknown_profiles
from agent.views import queries
from config import resolve_config_path
from config.loader import drop_ins, source_path, template_placeholders
from config.template import render_docs, render_template
from ui.cli.context import Context
from ui.cli.files import write_file
from ui.cli.manager_pin import add_pin_flag, authenticate
from ui.cli.output import emit_json, say, table


def cmd_config_check(ctx: Context) -> int:
    s = ctx.settings
    problems = template_placeholders(s) + unknown_profiles(s)
    if problems:
        raise ConfigError(problems)
    if ctx.args.json:
        emit_json({"ok": True, "path": str(source_path(s)), "drop_ins": [str(p) for p in drop_ins(s)],
                   "store_id": s.store_id, "associates": len(s.associates),
                   "printers": len(s.printers), "stations": len(s.stations)})
        return 0
    dropped = drop_ins(s)
    drop_in_note = f", {len(dropped)} drop-ins" if dropped else ""
    say(f"{source_path(s)}: ok (store {s.store_id}, {len(s.associates)} associates,"
        f" {len(s.printers)} printers, {len(s.stations)} stations{drop_in_note})")
    return 0


def cmd_config_init(ctx: Context) -> int:
    target = ctx.args.path or str(resolve_config_path(ctx.args.config, os.environ))
    text = render_template()
    if target == "-":
        sys.stdout.write(text)
        return 0
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The file will hold the OMS token: readable by its owner only.
    write_file(path, text, mode=0o600, replace=bool(ctx.args.force))
    say(f"wrote {path}: set store_id, oms.url and oms.token, then run"
        " `store-agent config check`")
    return 0


def cmd_config_docs(ctx: Context) -> int:
    sys.stdout.write(render_docs())
    return 0


def _read_pin() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("New PIN (digits): ")
        if getpass.getpass("Again: ") != first:
            raise UsageError("the two PINs differ; nothing changed")
        return first
    return sys.stdin.readline().strip()


def _act_as_database_owner(db_path: Path) -> None:
    """Run as root, become the database's owner before touching it, so that no file of the
    store (the database, its -wal and -shm) ends up owned by root where the service cannot
    write it. The configuration was read already, as root."""
    if os.geteuid() != 0:
        return
    for path in (db_path, *(db_path.with_name(db_path.name + x) for x in ("-wal", "-shm"))):
        if path.is_symlink():
            raise UsageError(f"{path} is a symbolic link: refusing to open it as root (was it"
                             " planted?); remove it and run again")
    owner = roster.database_owner(db_path)
    if owner is None or owner[0] == 0:
        return
    uid, gid = owner
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)


def cmd_set_pin(ctx: Context) -> int:
    settings = ctx.settings
    associate_id = ctx.args.associate_id
    if settings.associate(associate_id) is None:
        raise UnknownAssociateError(f"associate {associate_id!r} is not in the roster")
    pin = _read_pin()
    shortest = settings.security.pin_min_length
    if len(pin) < shortest:
        raise InvalidActionError(f"a new PIN needs at least {shortest} digits"
                                 " (security.pin_min_length); nothing changed")
    pin_hash = hash_pin(pin)
    _act_as_database_owner(Path(settings.storage.path))
    roster.set_pin_hash(ctx.store, associate_id, pin_hash)
    if ctx.args.json:
        emit_json({"associate_id": associate_id, "pin_set": True})
    else:
        say(f"PIN set for {associate_id} (kept in the store database, not in the config)")
    return 0


def cmd_dlq_list(ctx: Context) -> int:
    rows = queries.dead_letters(ctx.store)
    if ctx.args.json:
        emit_json([{k: r[k] for k in ("event_id", "order_id", "type", "kind", "code", "message",
                                      "dead_at")} for r in rows])
    else:
        table(rows, ["event_id", "order_id", "type", "kind", "code", "message", "dead_at"],
              empty="no dead letters")
    return 0


def cmd_dlq_retry(ctx: Context) -> int:
    manager = authenticate(ctx, ctx.args.associate, flag="--as")
    r = dead_letters.retry(ctx.store, ctx.settings, ctx.args.event_id, manager_id=manager)
    emit_json(r) if ctx.args.json else say(f"{r['event_id']} will be sent again"
                                           f" (order {r['order_id']})")
    return 0


def cmd_dlq_discard(ctx: Context) -> int:
    manager = authenticate(ctx, ctx.args.associate, flag="--as")
    r = dead_letters.discard(ctx.store, ctx.settings, ctx.args.event_id,
                             manager_id=manager, reason=ctx.args.reason)
    emit_json(r) if ctx.args.json else say(f"{r['event_id']} discarded; order {r['order_id']}"
                                           " flows again")
    return 0


def cmd_quarantine_list(ctx: Context) -> int:
    rows = queries.quarantined(ctx.store)
    if ctx.args.json:
        emit_json([{k: r[k] for k in ("id", "order_id", "reason", "received_at")} for r in rows])
    else:
        table(rows, ["id", "order_id", "reason", "received_at"], empty="nothing quarantined")
    return 0


def cmd_quarantine_resolve(ctx: Context) -> int:
    manager = authenticate(ctx, ctx.args.associate, flag="--as")
    r = dead_letters.resolve_quarantine(ctx.store, ctx.settings, ctx.args.quarantine_id,
                                        manager_id=manager, reason=ctx.args.reason)
    if ctx.args.json:
        emit_json(r)
    else:
        order = f" (order {r['order_id']})" if r["order_id"] else ""
        say(f"quarantined snapshot {r['id']}{order} resolved; {r['quarantined_left']} left")
    return 0


def register(sub: argparse._SubParsersAction[Any], common: argparse.ArgumentParser) -> None:
    config = sub.add_parser("config", help="validate or create the configuration")
    csub = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    p = csub.add_parser("check", parents=[common], help="validate the configuration")
    p.set_defaults(handler=cmd_config_check)
    p = csub.add_parser("init", parents=[common], help="write a commented template")
    p.add_argument("path", nargs="?", help="where to write it ('-' for stdout);"
                   " default: the config path")
    p.add_argument("--force", action="store_true", help="replace an existing file")
    p.set_defaults(handler=cmd_config_init)
    p = csub.add_parser("docs", parents=[common], help="print docs/configuration.md")
    p.set_defaults(handler=cmd_config_docs)

    assoc = sub.add_parser("associate", help="the roster")
    asub = assoc.add_subparsers(dest="associate_command", required=True, metavar="ACTION")
    p = asub.add_parser("set-pin", parents=[common],
                        help="set a PIN (terminal prompt, or one line on stdin)")
    p.add_argument("associate_id")
    p.set_defaults(handler=cmd_set_pin)

    dlq = sub.add_parser("dlq", help="dead letters: events the OMS refused")
    dsub = dlq.add_subparsers(dest="dlq_command", required=True, metavar="ACTION")
    p = dsub.add_parser("list", parents=[common], help="list unresolved dead letters")
    p.set_defaults(handler=cmd_dlq_list)
    p = dsub.add_parser("retry", parents=[common], help="send a dead letter again")
    p.add_argument("event_id")
    p.add_argument("--as", dest="associate", required=True, metavar="MANAGER")
    add_pin_flag(p)
    p.set_defaults(handler=cmd_dlq_retry)
    p = dsub.add_parser("discard", parents=[common], help="give a dead letter up, with a reason")
    p.add_argument("event_id")
    p.add_argument("--reason", required=True)
    p.add_argument("--as", dest="associate", required=True, metavar="MANAGER")
    add_pin_flag(p)
    p.set_defaults(handler=cmd_dlq_discard)

    q = sub.add_parser("quarantine", help="OMS snapshots that were not applied")
    qsub = q.add_subparsers(dest="quarantine_command", required=True, metavar="ACTION")
    p = qsub.add_parser("list", parents=[common], help="list quarantined snapshots")
    p.set_defaults(handler=cmd_quarantine_list)
    p = qsub.add_parser("resolve", parents=[common],
                        help="mark a quarantined snapshot dealt with, with a reason")
    p.add_argument("quarantine_id", type=int, metavar="ID")
    p.add_argument("--reason", required=True)
    p.add_argument("--as", dest="associate", required=True, metavar="MANAGER")
    add_pin_flag(p)
    p.set_defaults(handler=cmd_quarantine_resolve)
