"""The daemon, one-shot sync and reconciliation, and the reference OMS."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from agent.daemon import run_daemon
from agent.oms import make_client
from agent.views import queries
from agent.workers.reconcile import ReconcileReport, reconcile
from agent.workers.sync_once import sync_once
from ui.cli.context import Context
from ui.cli.output import emit_json, say, warn


def cmd_run(ctx: Context) -> int:
    return run_daemon(ctx.settings)


def _progress(done: int, total: int) -> None:
    if sys.stderr.isatty() and total:
        width = 30
        filled = int(width * min(done, total) / total)
        sys.stderr.write(f"\r  sending [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        sys.stderr.flush()


async def _sync_once(ctx: Context) -> dict[str, Any]:
    total = queries.status(ctx.store)["outbox"]["pending"]
    summary = await sync_once(ctx.store, ctx.settings, progress=lambda done: _progress(done, total))
    if sys.stderr.isatty() and total:
        sys.stderr.write("\n")
    return summary


def cmd_sync(ctx: Context) -> int:
    summary = asyncio.run(_sync_once(ctx))
    if ctx.args.json:
        emit_json(summary)
    else:
        say(f"sent {summary['sent']} events ({summary['acked']} acknowledged,"
            f" {summary['dead']} dead letters); {summary['changes']} changes from the feed")
        for error in summary["errors"]:
            warn(f"store-agent: {error}")
    return 0 if not summary["errors"] else 5  # the OMS could not be reached or refused: try again


async def _reconcile(ctx: Context) -> ReconcileReport:
    async with make_client(ctx.settings) as client:
        return await reconcile(ctx.store, ctx.settings, client)


def cmd_reconcile(ctx: Context) -> int:
    report = asyncio.run(_reconcile(ctx))
    if ctx.args.json:
        emit_json(report.as_dict())
    else:
        say(f"compared {report.compared} OMS orders: {len(report.findings)} differences")
        for f in report.findings:
            say(f"  {f.order_id}  {f.kind}  {f.detail}")
    return 0


def cmd_oms_sim(ctx: Context) -> int:
    from sync.oms_sim import run_oms_sim

    a = ctx.args
    run_oms_sim(host=a.host, port=a.port, orders=a.orders, faults=a.faults,
                stores=a.store or ["S042"], token=a.token, trickle=a.trickle, seed=a.seed)
    return 0


def register(sub: argparse._SubParsersAction[Any], common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("run", parents=[common], help="the agent daemon (stops cleanly on SIGTERM)")
    p.set_defaults(handler=cmd_run)
    p = sub.add_parser("sync", parents=[common], help="one drain of the outbox and one pull of the feed")
    p.add_argument("--now", action="store_true", help="accepted for compatibility: sync is immediate")
    p.set_defaults(handler=cmd_sync)
    p = sub.add_parser("reconcile", parents=[common], help="compare the store's orders with the OMS")
    p.add_argument("--now", action="store_true", help="accepted for compatibility: runs immediately")
    p.set_defaults(handler=cmd_reconcile)
    p = sub.add_parser("oms-sim", parents=[common], help="the reference OMS (Store Sync API v1)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8480)
    p.add_argument("--orders", type=int, default=20, help="sample orders per store")
    p.add_argument("--faults", help="fault spec, e.g. error_rate=0.2,rate_limit=0.1,retry_after=2")
    p.add_argument("--store", action="append", help="store id served (repeatable; default S042)")
    p.add_argument("--token", default="demo-token", help="bearer token the stores must present")
    p.add_argument("--trickle", type=float, help="seconds between new orders, cancellations,"
                   " arrivals (default: none)")
    p.add_argument("--seed", type=int, default=42)
    p.set_defaults(handler=cmd_oms_sim)
