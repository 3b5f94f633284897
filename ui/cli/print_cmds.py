"""Print queue commands: queue a test page, list jobs, retry a failed one.

The command line only queues; the daemon's print worker talks to printers
(agent/printing.py), so these commands never wait on a printer.
"""

from __future__ import annotations

import argparse

from agent import printing
from ui.cli.context import Context
from ui.cli.output import emit_json, say, table

LIST_FIELDS = ("id", "printer_id", "kind", "order_id", "state", "attempts", "reason", "created_at",
               "printed_at", "copy")


def cmd_print_test(ctx: Context) -> int:
    job_id = printing.enqueue_test_page(ctx.store, ctx.settings, ctx.args.printer,
                                        created_by="cli")
    if ctx.args.json:
        emit_json({"id": job_id, "printer_id": ctx.args.printer, "kind": "test_page",
                   "state": "queued"})
    else:
        say(f"test page queued as job {job_id} for printer {ctx.args.printer};"
            " the daemon prints it (see `store-agent print list`)")
    return 0


def cmd_print_list(ctx: Context) -> int:
    jobs = printing.list_jobs(ctx.store, state=ctx.args.state, printer_id=ctx.args.printer,
                              limit=ctx.args.limit)
    if ctx.args.json:
        emit_json([{k: j[k] for k in (*LIST_FIELDS, "next_attempt_at")} for j in jobs])
    else:
        table(jobs, ["id", "printer_id", "kind", "order_id", "state", "attempts", "created_at",
                     "reason"], empty="no print jobs")
    return 0


def cmd_print_retry(ctx: Context) -> int:
    job = printing.retry_job(ctx.store, ctx.args.job_id)
    if ctx.args.json:
        emit_json({k: job[k] for k in LIST_FIELDS})
    else:
        say(f"print job {job['id']} is queued again for printer {job['printer_id']}")
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    pr = sub.add_parser("print", help="the print queue")
    psub = pr.add_subparsers(dest="print_command", required=True, metavar="ACTION")
    p = psub.add_parser("test", parents=[common], help="queue a test page for a printer")
    p.add_argument("printer", metavar="PRINTER")
    p.set_defaults(handler=cmd_print_test)
    p = psub.add_parser("list", parents=[common], help="list print jobs, newest first")
    p.add_argument("--state", choices=printing.STATES)
    p.add_argument("--printer", metavar="PRINTER")
    p.add_argument("--limit", type=int, default=100, metavar="N")
    p.set_defaults(handler=cmd_print_list)
    p = psub.add_parser("retry", parents=[common], help="queue a failed print job again")
    p.add_argument("job_id", type=int, metavar="JOB")
    p.set_defaults(handler=cmd_print_retry)
