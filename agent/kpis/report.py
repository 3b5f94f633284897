"""The store's KPIs over a period, from its own database (``store-agent report``, the KPI screen).

Definitions (docs/kpis.md; the JSON fields are the promise of cli.md):

- ``orders_released``: orders released to the store in the period (first
  snapshot received as TO_PICK); ``orders_ready``: orders made READY in it;
  ``orders_picked_up``: orders handed over in it.
- ``fulfillment_time_s``: released -> READY, for orders made READY in the
  period that the store saw released. ``on_time_ready_rate``: the share of
  those READY by their target (``promised_ready_at``, else release +
  ``[sla] ready_within_min``).
- ``pickup_conversion``: picked up / (picked up + cancelled after READY,
  no-shows included), over orders that reached that end in the period.
  ``no_show_rate``: no-shows over the same whole. A no-show is an order
  cancelled after READY with the reason ``no_show``, or cancelled by the
  OMS after its hold ran out.
- ``curb_wait_s``: check-in -> handover, for orders handed over in the period.
- ``short_pick_rate``: the share of orders made READY in the period with
  a short pick recorded, or fewer units staged than ordered, on some line;
  ``short_picks_by_reason``: short picks recorded in the period (lines and
  units) by reason.
- ``cancel_to_shelf_s``: return-to-shelf task opened -> done, for tasks done in the period.

A period is ``[from, to)``. A rate or a summary with nothing to count is null.
"""

from __future__ import annotations

import sqlite3
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any

from agent.clock import iso, parse_iso
from agent.kpis.stats import rate, summary
from agent.store.connection import Store
from config.settings import SlaSettings

BUCKETS = ("hour", "day", "week")
_SECONDS = "(julianday({end}) - julianday({start})) * 86400.0"

# Lines picked short: the same condition as the partial index order_lines_short (m010),
# so the set of short orders is read from that small index once, not per order.
SHORT_LINE = "quantity_short > 0 OR (quantity_picked IS NOT NULL AND quantity_picked < quantity)"
# Rows are plain tuples (row_factory None): a year is half a million rows, and
# sqlite3.Row costs more than the query. Positions below.
_READY_SQL = (
    "SELECT t.ready_at, t.staged_by,"
    f" CASE WHEN t.released_at IS NOT NULL THEN {_SECONDS.format(end='t.ready_at', start='t.released_at')}"
    " END AS fulfillment_s,"
    " CASE WHEN t.released_at IS NULL THEN NULL"
    "      WHEN julianday(t.ready_at) <= COALESCE(julianday(t.promised_ready_at),"
    "           julianday(t.released_at) + ? / 1440.0) THEN 1 ELSE 0 END AS on_time,"
    f" t.order_id IN (SELECT order_id FROM order_lines WHERE {SHORT_LINE}) AS short"
    " FROM order_times t WHERE t.ready_at >= ? AND t.ready_at < ?"
)
R_AT, R_BY, R_FULFILLMENT, R_ON_TIME, R_SHORT = range(5)
# Two index ranges rather than one OR: each end is counted in the period it happened in.
_CLOSED_SQL = (
    "SELECT 'picked_up' AS outcome, t.picked_up_at AS at, t.picked_up_by AS who,"
    f" CASE WHEN t.arrived_at IS NOT NULL THEN {_SECONDS.format(end='t.picked_up_at', start='t.arrived_at')}"
    " END AS curb_wait_s"
    " FROM order_times t WHERE t.picked_up_at >= ? AND t.picked_up_at < ?"
    " UNION ALL "
    "SELECT CASE WHEN t.cancel_reason = 'no_show' OR (t.cancel_reason IS NULL"
    "   AND o.hold_until IS NOT NULL AND julianday(o.hold_until) <= julianday(t.cancelled_at))"
    "   THEN 'no_show' ELSE 'cancelled' END, t.cancelled_at, NULL, NULL"
    " FROM order_times t JOIN orders o ON o.order_id = t.order_id"
    " WHERE t.cancelled_at >= ? AND t.cancelled_at < ? AND t.cancelled_from = 'READY'"
)
C_OUTCOME, C_AT, C_WHO, C_CURB = range(4)
_RETURNS_SQL = (
    f"SELECT done_at, {_SECONDS.format(end='done_at', start='created_at')} AS shelf_s"
    " FROM return_tasks WHERE done_at >= ? AND done_at < ?"
)


@dataclass(frozen=True)
class Facts:
    """The rows of one period that every KPI is computed from."""

    released: list[str]                   # released_at of each order released in the period
    ready: list[tuple[Any, ...]]          # ready_at, staged_by, fulfillment_s, on_time, short
    closed: list[tuple[Any, ...]]         # outcome, at, who, curb_wait_s
    returns: list[tuple[Any, ...]]        # done_at, shelf_s


def load_facts(conn: sqlite3.Connection, start: datetime, end: datetime, sla: SlaSettings) -> Facts:
    a, b = iso(start), iso(end)
    cur = conn.cursor()
    cur.row_factory = None
    released = [r[0] for r in cur.execute(
        "SELECT released_at FROM order_times WHERE released_at >= ? AND released_at < ?", (a, b))]
    return Facts(
        released=released,
        ready=cur.execute(_READY_SQL, (sla.ready_within_min, a, b)).fetchall(),
        closed=cur.execute(_CLOSED_SQL, (a, b, a, b)).fetchall(),
        returns=cur.execute(_RETURNS_SQL, (a, b)).fetchall(),
    )


def _kpis(facts: Facts) -> dict[str, Any]:
    timed = [r for r in facts.ready if r[R_FULFILLMENT] is not None]
    outcomes = Counter(r[C_OUTCOME] for r in facts.closed)
    ended = outcomes["picked_up"] + outcomes["cancelled"] + outcomes["no_show"]
    return {
        "orders_released": len(facts.released),
        "orders_ready": len(facts.ready),
        "orders_picked_up": outcomes["picked_up"],
        "fulfillment_time_s": summary([r[R_FULFILLMENT] for r in timed], 50, 90),
        "on_time_ready_rate": rate(sum(r[R_ON_TIME] for r in timed), len(timed)),
        "pickup_conversion": rate(outcomes["picked_up"], ended),
        "no_show_rate": rate(outcomes["no_show"], ended),
        "curb_wait_s": summary([r[C_CURB] for r in facts.closed if r[C_CURB] is not None], 90),
        "short_pick_rate": rate(sum(r[R_SHORT] for r in facts.ready), len(facts.ready)),
        "cancel_to_shelf_s": summary([r[1] for r in facts.returns], 90),
    }


def _by_associate(facts: Facts) -> list[dict[str, Any]]:
    staged: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for r in facts.ready:
        if r[R_BY]:
            staged[r[R_BY]].append(r)
    picked = Counter(r[C_WHO] for r in facts.closed if r[C_OUTCOME] == "picked_up" and r[C_WHO])
    out = []
    for who in sorted(set(staged) | set(picked)):
        times = [r[R_FULFILLMENT] for r in staged[who] if r[R_FULFILLMENT] is not None]
        out.append({"associate_id": who, "staged": len(staged[who]), "picked_up": picked[who],
                    "fulfillment_time_s": {"avg": summary(times)["avg"]}})
    return out


def bucket_start(moment: datetime, bucket: str) -> datetime:
    """The start of the local hour, day or ISO week (Monday) that holds ``moment``."""
    local = moment.astimezone()
    if bucket == "hour":
        start = local.replace(minute=0, second=0, microsecond=0)
    else:
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        if bucket == "week":
            start -= timedelta(days=start.weekday())
    return start.astimezone(UTC)


def _next_bucket(start: datetime, bucket: str) -> datetime:
    if bucket == "hour":
        return start + timedelta(hours=1)
    # Days and weeks on the wall clock: a day across a daylight-saving change is 23 or 25 h.
    wall = start.astimezone().replace(tzinfo=None) + timedelta(days=1 if bucket == "day" else 7)
    return wall.astimezone().astimezone(UTC)


def _split(facts: Facts, start: datetime, end: datetime,
           bucket: str) -> list[tuple[datetime, datetime, Facts]]:
    edges = [start]
    while edges[-1] < end:
        edges.append(min(end, _next_bucket(bucket_start(edges[-1], bucket), bucket)))
    keys = [iso(e) for e in edges[1:-1]]  # inner edges: bisect gives the bucket's index

    parts: list[dict[str, list[Any]]] = [
        {"released": [], "ready": [], "closed": [], "returns": []} for _ in edges[:-1]]

    def spread(name: str, rows: Iterable[Any], when: Callable[[Any], str]) -> None:
        for row in rows:
            parts[bisect_right(keys, when(row))][name].append(row)

    spread("released", facts.released, lambda s: s)
    spread("ready", facts.ready, itemgetter(R_AT))
    spread("closed", facts.closed, itemgetter(C_AT))
    spread("returns", facts.returns, itemgetter(0))
    return [(edges[i], edges[i + 1], Facts(**p)) for i, p in enumerate(parts)]


def report(store: Store | sqlite3.Connection, start: datetime, end: datetime, sla: SlaSettings, *,
           by: str | None = None) -> dict[str, Any]:
    """The KPIs of ``[start, end)``: cli.md's fields, plus ``buckets`` per hour/day/week with ``by``."""
    if by is not None and by not in BUCKETS:
        raise ValueError(f"by must be one of {', '.join(BUCKETS)}")
    if isinstance(store, Store):
        with store.read() as conn:
            facts = load_facts(conn, start, end, sla)
    else:
        facts = load_facts(store, start, end, sla)
    out: dict[str, Any] = {"from": iso(start), "to": iso(end), **_kpis(facts),
                           "by_associate": _by_associate(facts)}
    out["short_picks_by_reason"] = (short_picks_by_reason(store.conn if isinstance(store, Store)
                                                          else store, start, end))
    if by is not None:
        out["buckets"] = [{"from": iso(a), "to": iso(b), **_kpis(part)}
                          for a, b, part in _split(facts, start, end, by)]
    return out


def short_picks_by_reason(conn: sqlite3.Connection, start: datetime,
                          end: datetime) -> dict[str, dict[str, int]]:
    """``{reason: {"lines": n, "units": u}}`` of short picks recorded in the period."""
    return {r[0]: {"lines": r[1], "units": r[2]} for r in conn.execute(
        "SELECT reason, COUNT(*), SUM(quantity) FROM line_shorts"
        " WHERE recorded_at >= ? AND recorded_at < ? GROUP BY reason ORDER BY reason",
        (iso(start), iso(end)))}


def today(now: datetime) -> tuple[datetime, datetime]:
    """The local calendar day holding ``now``, as UTC instants: report's default period."""
    start = bucket_start(now, "day")
    return start, _next_bucket(start, "day")


def parse_bound(text: str) -> datetime:
    """A --from/--to value: an RFC 3339 time, or a date (local midnight)."""
    try:
        if len(text) == 10:
            return datetime.fromisoformat(text).astimezone().astimezone(UTC)
        return parse_iso(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date (2026-11-23) or an RFC 3339 time") from None
