"""Print queue commands: test page, bin label, list, retry a failed job, reprint a printed one.

The command line only queues; the daemon's print worker talks to printers
(agent/printing/queue.py), so these commands never wait on a printer.
"""

from __future__ import annotations

import argparse
from typing import Any

from agent.errors import UnknownAssociateError
from agent.printing import queue as printing
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


def cmd_print_reprint(ctx: Context) -> int:
    a = ctx.args
    if ctx.settings.associate(a.associate) is None:  # a reprint says who asked for it
        raise UnknownAssociateError(f"associate {a.associate} is not in the roster")
    job_id = printing.reprint(ctx.store, ctx.settings, a.job_id, printer_id=a.printer,
                              created_by=a.associate)
    job = printing.get_job(ctx.store, job_id)
    if a.json:
        emit_json({k: job[k] for k in LIST_FIELDS})
    else:
        marked = " marked COPY" if job["copy"] else ""
        say(f"job {a.job_id} reprinted as job {job_id}{marked} on printer {job['printer_id']}")
    return 0


def cmd_print_bin_label(ctx: Context) -> int:
    a = ctx.args
    job_id = printing.enqueue_bin_label(ctx.store, ctx.settings, a.bin, printer_id=a.printer,
                                        created_by="cli")
    job = printing.get_job(ctx.store, job_id)
    if a.json:
        emit_json({k: job[k] for k in LIST_FIELDS})
    else:
        say(f"bin label queued as job {job_id} for printer {job['printer_id']}")
    return 0


def register(sub: argparse._SubParsersAction[Any], common: argparse.ArgumentParser) -> None:
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
    p = psub.add_parser("reprint", parents=[common],
                        help="print a printed job again (a receipt is marked COPY)")
    p.add_argument("job_id", type=int, metavar="JOB")
    p.add_argument("--as", dest="associate", required=True, metavar="A")
    p.add_argument("--printer", metavar="PRINTER", help="another printer (default: the job's)")
    p.set_defaults(handler=cmd_print_reprint)
    p = psub.add_parser("bin-label", parents=[common], help="queue a label for a staging bin")
    p.add_argument("bin", metavar="BIN")
    p.add_argument("--printer", metavar="PRINTER", help="default: this station's printer")
    p.set_defaults(handler=cmd_print_bin_label)
