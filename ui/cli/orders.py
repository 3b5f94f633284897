"""Associate actions and reading commands."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from agent.errors import UsageError
from agent.oms import agent_version
from agent.orders import dead_letters
from agent.orders.actions import CANCEL_REASONS, ID_CHECK_TYPES, SHORT_REASONS, ActionResult, Actions
from agent.views import queries
from agent.workers.live_check import check_before_stage_sync, check_order_sync
from ui.cli.context import Context
from ui.cli.manager_pin import add_pin_flag, authenticate
from ui.cli.output import emit_json, say, table


def _line_overrides(specs: list[str] | None) -> dict[str, int] | None:
    if not specs:
        return None
    out: dict[str, int] = {}
    for spec in specs:
        line_id, sep, qty = spec.partition("=")
        if not sep or not line_id or not qty.isdigit():
            raise UsageError(f"--line {spec!r}: expected LINE_ID=QTY with QTY a whole number")
        out[line_id] = int(qty)
    return out


def _actions(ctx: Context) -> Actions:
    return Actions(ctx.store, ctx.settings, device_id=ctx.settings.default_station)


def _done(ctx: Context, result: ActionResult) -> int:
    if ctx.args.json:
        emit_json({"order_id": result.order_id, "state": result.state,
                   "event_id": result.event.event_id, "seq": result.event.seq,
                   "event_status": result.event.status, "message": result.message,
                   "verification": result.verification,
                   "return_task_id": result.return_task_id})
    else:
        say(result.message)
    return 0


def cmd_stage(ctx: Context) -> int:
    a = ctx.args
    picked = _line_overrides(a.line)
    actions = _actions(ctx)
    actions.associate(a.associate)  # an unknown associate is refused before asking the OMS
    check_before_stage_sync(ctx.store, ctx.settings, a.order_id)  # applies a cancel made online
    return _done(ctx, actions.stage(a.order_id, bins=a.bin, associate_id=a.associate,
                                    picked=picked))


def cmd_short(ctx: Context) -> int:
    a = ctx.args
    lines = _line_overrides(a.line) or {}
    return _done(ctx, _actions(ctx).short(a.order_id, lines=lines, reason=a.reason,
                                          associate_id=a.associate))


def cmd_extend_hold(ctx: Context) -> int:
    a = ctx.args
    try:
        until = datetime.fromisoformat(a.until.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--until {a.until!r}: expected an RFC 3339 time such as"
                         " 2026-12-03T18:00:00Z") from None
    if until.tzinfo is None:
        raise UsageError("--until needs a time zone, e.g. 2026-12-03T18:00:00Z")
    return _done(ctx, _actions(ctx).extend_hold(a.order_id, until=until, reason=a.reason,
                                                associate_id=a.associate))


def cmd_pickup(ctx: Context) -> int:
    a = ctx.args
    if a.code is None and a.override_by is None:
        raise UsageError("order pickup: give --code CODE (the customer's pickup code),"
                         " or --override-by MANAGER when the customer has none")
    actions = _actions(ctx)
    actions.associate(a.associate)  # an unknown associate is refused before asking the OMS
    manager = authenticate(ctx, a.override_by, flag="--override-by") if a.override_by else None
    check = check_order_sync(ctx.store, ctx.settings, a.order_id)
    result = actions.pickup(a.order_id, associate_id=a.associate, code=a.code,
                            oms_confirmed=check.reached, confirmed=a.yes,
                            override_id=manager, lines=_line_overrides(a.line),
                            scanned_bins=a.scan_bin or (), id_check=a.id_check,
                            collected_by=a.collected_by, acknowledgment_signed=a.signed)
    return _done(ctx, result)


def cmd_cancel(ctx: Context) -> int:
    a = ctx.args
    return _done(ctx, _actions(ctx).cancel(a.order_id, reason=a.reason, associate_id=a.associate,
                                           note=a.note))


def cmd_return(ctx: Context) -> int:
    a = ctx.args
    return _done(ctx, _actions(ctx).return_to_shelf(a.order_id, associate_id=a.associate))


def cmd_resolve_conflict(ctx: Context) -> int:
    a = ctx.args
    manager = authenticate(ctx, a.associate, flag="--as")
    r = dead_letters.resolve_conflict(ctx.store, ctx.settings, a.order_id, manager_id=manager,
                                      note=a.note)
    emit_json(r) if a.json else say(f"order {r['order_id']}: conflict resolved by"
                                    f" {r['resolved_by']}; it stays {r['state']}")
    return 0


def cmd_orders(ctx: Context) -> int:
    rows = queries.list_orders(ctx.store, state=ctx.args.state, no_shows=ctx.args.no_shows)
    if ctx.args.json:
        emit_json([{k: r[k] for k in ("order_id", "state", "bin", "version", "fulfillment",
                                      "customer_name", "hold_until", "pending_events",
                                      "arrived_at", "conflict")} for r in rows])
    else:
        table(rows, ["order_id", "state", "bin", "fulfillment", "customer_name", "hold_until",
                     "pending_events"], empty="no orders")
    return 0


def cmd_show(ctx: Context) -> int:
    d = queries.order_detail(ctx.store, ctx.args.order_id)
    if ctx.args.json:
        emit_json(d)
        return 0
    say(f"order {d['order_id']}  {d['state']}  bin {d['bin'] or '-'}  v{d['version']}"
        f" (OMS: {d['oms_status']})  {d['fulfillment']}  {d['customer_name']}")
    if d["conflict"]:
        say(f"CONFLICT: {d['conflict']}")
    if d["arrival"]:
        say(f"ARRIVED {d['arrival']['arrived_at']} bay {d['arrival']['bay']}"
            f" {d['arrival']['vehicle'] or ''}")
    if d["return_task"]:
        say(f"return-to-shelf task: {d['return_task']['state']} (bin {d['return_task']['bin']})")
    if len(d["bins"]) > 1:
        say(f"bins: {', '.join(d['bins'])}")
    table(d["lines"], ["line_id", "sku", "description", "location", "quantity",
                       "quantity_picked", "quantity_short", "quantity_picked_up"])
    say("")
    for e in d["events"]:
        e["payload"] = json.dumps(e["data"], separators=(",", ":")) if e["data"] else None
    table(d["events"], ["seq", "type", "status", "occurred_at", "acked_at", "payload", "event_id"],
          empty="no events")
    return 0


def cmd_audit(ctx: Context) -> int:
    entries = queries.audit(ctx.store, ctx.args.order_id)
    if ctx.args.json:
        emit_json(entries)
    else:
        for e in entries:  # both clocks: the store's `at`, the OMS's updated_at or the ack
            e["oms_side"] = e.get("oms_updated_at") or e.get("acked_at")
            e["payload"] = json.dumps(e["data"], separators=(",", ":")) if e.get("data") else None
        table(entries, ["at", "oms_side", "direction", "what", "outcome", "summary", "payload",
                        "detail"])
    return 0


def cmd_status(ctx: Context) -> int:
    s = queries.status(ctx.store)
    if ctx.args.json:
        emit_json({**s, "version": agent_version()})
        return 0
    ob = s["outbox"]
    say(f"{'ONLINE' if s['online'] else 'OFFLINE'}; last feed success:"
        f" {s['last_feed_success_at'] or 'never'}")
    say(f"outbox: {ob['pending']} pending (oldest {ob['oldest_pending_age_s'] or 0:.0f} s),"
        f" {ob['dead_letters']} dead letters, {ob['blocked_orders']} blocked orders")
    say("orders: " + ", ".join(f"{k} {v}" for k, v in s["orders"].items())
        + f"; {s['open_return_tasks']} open return tasks; {s['quarantined']} quarantined")
    for alert in s["alerts"]:
        say(f"ALERT [{alert['severity']}] {alert['message']}")
    return 0


def register(sub: argparse._SubParsersAction[Any], common: argparse.ArgumentParser) -> None:
    order = sub.add_parser("order", help="act on one order, or show it")
    osub = order.add_subparsers(dest="order_command", required=True, metavar="ACTION")

    p = osub.add_parser("stage", parents=[common], help="stage an order in one or more bins")
    p.add_argument("order_id")
    p.add_argument("--bin", required=True, action="append",
                   help="a bin (tote) of the order; repeat for each tote")
    p.add_argument("--as", dest="associate", required=True, metavar="ASSOCIATE")
    p.add_argument("--line", action="append", metavar="LINE_ID=QTY",
                   help="quantity picked for a line, when fewer than ordered")
    p.set_defaults(handler=cmd_stage)

    p = osub.add_parser("pickup", parents=[common], help="hand an order to the customer")
    p.add_argument("order_id")
    p.add_argument("--code", help="the customer's pickup code")
    p.add_argument("--as", dest="associate", required=True, metavar="ASSOCIATE")
    p.add_argument("--yes", action="store_true", help="confirm an offline handoff (warn policy)")
    p.add_argument("--override-by", metavar="MANAGER", help="a manager approves the handoff")
    add_pin_flag(p)
    p.add_argument("--line", action="append", metavar="LINE_ID=QTY",
                   help="hand over only these units (a partial pickup); the rest stays READY")
    p.add_argument("--scan-bin", action="append", metavar="BIN",
                   help="a bin (tote) brought to the counter; every bin of the order is needed")
    p.add_argument("--id-check", choices=ID_CHECK_TYPES,
                   help="the ID checked (needed for age-restricted items)")
    p.add_argument("--collected-by", choices=("customer", "alternate"), default="customer",
                   help="alternate: the person the order names collects it")
    p.add_argument("--signed", action="store_true",
                   help="the customer signed the printed acknowledgment ([handoff] signed_acknowledgment)")
    p.set_defaults(handler=cmd_pickup)

    p = osub.add_parser("short", parents=[common], help="record units that cannot be picked")
    p.add_argument("order_id")
    p.add_argument("--line", action="append", required=True, metavar="LINE_ID=QTY")
    p.add_argument("--reason", required=True, choices=SHORT_REASONS)
    p.add_argument("--as", dest="associate", required=True, metavar="ASSOCIATE")
    p.set_defaults(handler=cmd_short)

    p = osub.add_parser("extend-hold", parents=[common], help="hold an order for longer")
    p.add_argument("order_id")
    p.add_argument("--until", required=True, metavar="TIMESTAMP")
    p.add_argument("--reason", required=True)
    p.add_argument("--as", dest="associate", required=True, metavar="ASSOCIATE")
    p.set_defaults(handler=cmd_extend_hold)

    p = osub.add_parser("cancel", parents=[common], help="cancel an order in the store")
    p.add_argument("order_id")
    p.add_argument("--reason", required=True, choices=CANCEL_REASONS)
    p.add_argument("--as", dest="associate", required=True, metavar="ASSOCIATE")
    p.add_argument("--note")
    p.set_defaults(handler=cmd_cancel)

    p = osub.add_parser("return", parents=[common], help="items of a cancelled order are back")
    p.add_argument("order_id")
    p.add_argument("--as", dest="associate", required=True, metavar="ASSOCIATE")
    p.set_defaults(handler=cmd_return)

    p = osub.add_parser("resolve-conflict", parents=[common],
                        help="a manager settled the order's conflict with the OMS")
    p.add_argument("order_id")
    p.add_argument("--note", required=True, help="what was done (customer called, ...)")
    p.add_argument("--as", dest="associate", required=True, metavar="MANAGER")
    add_pin_flag(p)
    p.set_defaults(handler=cmd_resolve_conflict)

    p = osub.add_parser("show", parents=[common], help="one order with lines and events")
    p.add_argument("order_id")
    p.set_defaults(handler=cmd_show)

    p = sub.add_parser("orders", parents=[common], help="list orders")
    p.add_argument("--state", choices=queries.STATES)
    p.add_argument("--no-shows", action="store_true",
                   help="only open orders past their hold (the customer did not come)")
    p.set_defaults(handler=cmd_orders)

    p = sub.add_parser("audit", parents=[common], help="an order's whole chain, oldest first")
    p.add_argument("order_id")
    p.set_defaults(handler=cmd_audit)

    p = sub.add_parser("status", parents=[common], help="sync, outbox and alert summary")
    p.set_defaults(handler=cmd_status)
