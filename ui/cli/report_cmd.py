"""`store-agent report`: the store's KPIs over a period, for managers and spreadsheets."""

from __future__ import annotations

import argparse
import csv
import sys
from typing import Any

from agent.clock import iso, parse_iso, utc_now
from agent.kpis.report import BUCKETS, parse_bound, report, today
from config.errors import UsageError
from ui.cli.context import Context
from ui.cli.output import emit_json, say

# One flat table: the period's total first, then its buckets, then one row per
# associate (whose KPI columns stay empty) - what a spreadsheet opens as is.
CSV_COLUMNS = (
    "scope", "from", "to", "associate_id", "orders_released", "orders_ready", "orders_picked_up",
    "fulfillment_time_s_avg", "fulfillment_time_s_p50", "fulfillment_time_s_p90",
    "on_time_ready_rate", "pickup_conversion", "no_show_rate", "curb_wait_s_avg", "curb_wait_s_p90",
    "short_pick_rate", "cancel_to_shelf_s_avg", "cancel_to_shelf_s_p90", "staged", "picked_up",
)


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, dict):
            out.update({f"{key}_{k}": v for k, v in value.items()})
        elif not isinstance(value, list):
            out[key] = value
    return out


def write_csv(result: dict[str, Any], stream: Any) -> None:
    writer = csv.DictWriter(stream, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    writer.writerow({"scope": "total", **_flat(result)})
    for bucket in result.get("buckets", []):
        writer.writerow({"scope": result["by"], **_flat(bucket)})
    for person in result["by_associate"]:
        writer.writerow({"scope": "associate", "from": result["from"], "to": result["to"],
                         **_flat(person)})


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def _s(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f} s" if value < 120 else f"{value / 60:.1f} min"


def text_lines(r: dict[str, Any]) -> list[str]:
    """The report for people (also the printed shift summary's body)."""
    ft, cw, cs = r["fulfillment_time_s"], r["curb_wait_s"], r["cancel_to_shelf_s"]
    lines = [
        f"From {r['from']} to {r['to']}",
        f"Orders released {r['orders_released']}, ready {r['orders_ready']},"
        f" picked up {r['orders_picked_up']}",
        f"Fulfillment time: avg {_s(ft['avg'])}, p50 {_s(ft['p50'])}, p90 {_s(ft['p90'])}",
        f"Ready on time: {_pct(r['on_time_ready_rate'])}",
        f"Pickup conversion: {_pct(r['pickup_conversion'])}   no-shows: {_pct(r['no_show_rate'])}",
        f"Curbside wait: avg {_s(cw['avg'])}, p90 {_s(cw['p90'])}",
        f"Short picks: {_pct(r['short_pick_rate'])}",
        f"Cancel -> back on shelf: avg {_s(cs['avg'])}, p90 {_s(cs['p90'])}",
    ]
    for reason, n in sorted(r.get("short_picks_by_reason", {}).items()):
        lines.append(f"  short {reason}: {n['lines']} line(s), {n['units']} unit(s)")
    for p in r["by_associate"]:
        lines.append(f"{p['associate_id']}: staged {p['staged']}, picked up {p['picked_up']},"
                     f" fulfillment avg {_s(p['fulfillment_time_s']['avg'])}")
    return lines


def cmd_report(ctx: Context) -> int:
    a = ctx.args
    if a.json and a.csv:
        raise UsageError("report: give --json or --csv, not both")
    try:
        start, end = today(utc_now())
        if a.from_:
            start = parse_bound(a.from_)
        if a.to:
            end = parse_bound(a.to)
    except ValueError as exc:
        raise UsageError(f"report --from/--to: {exc}") from None
    if end <= start:
        raise UsageError("report: --to must be after --from")
    result = report(ctx.store, start, end, ctx.settings.sla, by=a.by)
    if a.by:
        result["by"] = a.by
    if a.print is not None:
        job_id = _print_summary(ctx, result, a.print or None)
        if not a.json and not a.csv:
            say(f"shift summary queued as print job {job_id}")
    if a.json:
        emit_json(result)
    elif a.csv:
        write_csv(result, sys.stdout)
    elif a.print is None:
        for line in text_lines(result):
            say(line)
    return 0


def _local(stamp: str) -> str:
    return parse_iso(stamp).astimezone().strftime("%Y-%m-%d %H:%M")


def _print_summary(ctx: Context, result: dict[str, Any], printer_id: str | None) -> int:
    """The text report on the receipt printer, through the durable print queue."""
    from agent.printing import queue as printing

    lines = text_lines(result)
    # Paper is read in the store: the period in local time, not RFC 3339.
    title = f"{_local(result['from'])} - {_local(result['to'])}"
    payload = {"store_id": ctx.settings.store_id, "title": title, "lines": lines[1:],
               "at": _local(iso(utc_now()))}
    printer = printing.station_printer(ctx.settings, printer_id)
    return printing.enqueue(ctx.store, ctx.settings, "shift_summary", printer, payload, created_by="cli")


def register(sub: argparse._SubParsersAction[Any],
             common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("report", parents=[common],
                       help="the store's KPIs over a period (default: today)")
    p.add_argument("--from", dest="from_", metavar="TS",
                   help="start, inclusive: RFC 3339 time or a date (local midnight)")
    p.add_argument("--to", metavar="TS", help="end, exclusive (default: end of today)")
    p.add_argument("--csv", action="store_true", help="CSV for spreadsheets")
    p.add_argument("--by", choices=BUCKETS, help="also one row per hour, day or week")
    p.add_argument("--print", nargs="?", const="", metavar="PRINTER",
                   help="queue it as a shift summary on the receipt printer (default: the station's)")
    p.set_defaults(handler=cmd_report)
