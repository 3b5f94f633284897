"""Escalations: what waits too long goes on the banner, then, still unfixed, to the alert channels.

Three clocks escalate (thresholds in ``[sla]``):

- ``order_late`` (one alert for the queue): TO_PICK orders more than
  ``late_order_escalate_min`` past their target (agent/kpis/timers.py);
- ``curbside_wait`` (one per order): a checked-in customer waiting longer
  than ``curbside_wait_min``;
- ``return_overdue`` (one per order): a return-to-shelf task open longer
  than ``return_within_min``.

Each is a row in ``alerts``, so every terminal's banner shows it at once.
The alert channels (agent/alerts/notify.py) hear of it only
``channel_after_min`` later (its ``notify_next_at``): the banner is the
first step, and a wait fixed within that time never pages anyone - its
announcements are marked done when it resolves. Acknowledging it on a
terminal stops the ringing, not the escalation: only fixing the wait does.

Evaluated with the daemon's other alert rules every 30 s; ``now`` is
injectable so tests walk the clock.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from agent.alerts import raise_alert, resolve_alert
from agent.clock import iso, parse_iso, utc_now
from agent.kpis.timers import arrival_timers, open_order_timers
from agent.store.connection import Store
from config.settings import Settings

KINDS = ("order_late", "curbside_wait", "return_overdue")


@dataclass(frozen=True)
class Escalation:
    kind: str
    key: str
    message: str
    order_id: str | None = None
    severity: str = "warning"


@dataclass
class EscalationReport:
    raised: list[tuple[str, str]] = field(default_factory=list)
    resolved: list[tuple[str, str]] = field(default_factory=list)


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min"


def _late_orders(conn: sqlite3.Connection, settings: Settings, now: datetime) -> list[Escalation]:
    grace_s = settings.sla.late_order_escalate_min * 60
    late = [t for t in open_order_timers(conn, settings.sla, now=now)
            if t.state == "late" and t.late_by_s >= grace_s]
    if not late:
        return []
    worst = late[0]  # most urgent first: the earliest target
    names = ", ".join(t.order_id for t in late[:5]) + (f" and {len(late) - 5} more" if len(late) > 5 else "")
    return [Escalation("order_late", "queue", order_id=worst.order_id,
                       message=f"{len(late)} order(s) late to pick ({names}); the oldest, {worst.order_id},"
                               f" is {_minutes(worst.late_by_s)} past its target")]


def _curbside(conn: sqlite3.Connection, settings: Settings, now: datetime) -> list[Escalation]:
    out = []
    for t in arrival_timers(conn, settings.sla, now=now):
        if t.state != "late":
            continue
        where = ", ".join(x for x in (f"bay {t.bay}" if t.bay else "", t.vehicle or "") if x)
        ready = "READY" if t.order_state == "READY" else "not staged yet"
        out.append(Escalation("curbside_wait", t.order_id, order_id=t.order_id,
                              message=f"curbside customer of order {t.order_id} has waited"
                                      f" {_minutes(t.waited_s)}{f' ({where})' if where else ''};"
                                      f" the order is {ready}"))
    return out


def _returns(conn: sqlite3.Connection, settings: Settings, now: datetime) -> list[Escalation]:
    cutoff = iso(now - timedelta(minutes=settings.sla.return_within_min))
    return [Escalation("return_overdue", r["order_id"], order_id=r["order_id"],
                       message=f"order {r['order_id']}: its items in bin {r['bin'] or '-'} have waited"
                               f" {_minutes((now - parse_iso(r['created_at'])).total_seconds())}"
                               " to go back to the shelf")
            for r in conn.execute("SELECT order_id, bin, created_at FROM return_tasks"
                                  " WHERE state = 'OPEN' AND created_at <= ? ORDER BY created_at",
                                  (cutoff,))]


def evaluate_escalations(store: Store, settings: Settings, *,
                         now: datetime | None = None) -> EscalationReport:
    """Raise what now waits too long, refresh what still does, resolve what no longer does."""
    now = now or utc_now()
    stamp = iso(now)
    channel_at = iso(now + timedelta(minutes=settings.sla.channel_after_min))
    report = EscalationReport()
    with store.write() as conn:
        due = {(e.kind, e.key): e for e in (*_late_orders(conn, settings, now),
                                            *_curbside(conn, settings, now),
                                            *_returns(conn, settings, now))}
        marks = ", ".join("?" for _ in KINDS)
        open_now = {(r["kind"], r["key"]): r for r in conn.execute(
            f"SELECT id, kind, key, notified_at FROM alerts WHERE resolved_at IS NULL"
            f" AND kind IN ({marks})", KINDS)}
        for key, e in due.items():
            alert_id = raise_alert(conn, kind=e.kind, key=e.key, message=e.message, now=stamp,
                                   order_id=e.order_id, severity=e.severity)
            if key not in open_now:
                # The banner now; the channels only if it is still open later.
                conn.execute("UPDATE alerts SET notify_next_at = ? WHERE id = ?", (channel_at, alert_id))
                report.raised.append(key)
        for key, row in open_now.items():
            if key in due:
                continue
            resolve_alert(conn, kind=key[0], key=key[1], now=stamp)
            if row["notified_at"] is None:  # fixed while only on the banner: nothing to announce
                conn.execute("UPDATE alerts SET notified_at = ?, resolved_notified_at = ?,"
                             " notify_next_at = NULL WHERE id = ?", (stamp, stamp, row["id"]))
            report.resolved.append(key)
    return report
