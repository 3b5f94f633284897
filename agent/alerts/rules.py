"""Alert rules the daemon evaluates every 30 s: raise while a condition holds, resolve once it clears.

Some alerts are raised by the code that sees the event happen and stay with
it: ``credentials`` (the sender raises it on 401/403, the sender and the feed
resolve it on the next success), ``dead_letter`` per order (the sender; `dlq`
resolves it), ``quarantine`` (raised on each quarantined snapshot; resolved
when a newer snapshot supersedes the last one or a manager resolves it),
``unknown_status``, ``conflict`` and ``cancelled_while_ready`` (raised by the
snapshot that reveals them; resolved in the transaction that clears them) and
``reconciliation`` (raised by a reconciliation run). The rules here watch what
only time reveals - a dead letter nobody handles, events that do not leave
while the OMS answers, a printer that stays down, a filling disk, and a long
outage (``outage_rules``: the OMS silent, the token refused, the feed stuck,
each warning then critical) - and also
resolve ``reconciliation``, which nothing else closes. For the event-raised
kinds they are a safety net: an alert whose condition no longer holds (a
status the fixed status map now knows, an alert left open by an older
version) is resolved here, never raised.

Every threshold is a key of ``[alerts]``; ``now`` and ``disk_usage`` are
injectable so tests can walk the clock instead of waiting.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from agent.alerts import raise_alert, resolve_alert
from agent.alerts.outage_rules import ESCALATING_KINDS, escalate, outage_conditions
from agent.clock import age_s, iso, utc_now
from agent.orders.snapshots import QUARANTINED_STATUS_SQL
from agent.store import sync_state
from agent.store.connection import Store
from agent.store.sync_state import DeviceKind, SyncKey
from config.settings import Settings

log = logging.getLogger("store_agent.alerts")

# Statuses that do not stop printing, or that say nothing yet (the daemon has not asked).
PRINTER_FINE = frozenset({"ready", "paper_near_end", "unknown"})


@dataclass(frozen=True)
class Condition:
    kind: str
    key: str
    holds: bool
    message: str = ""
    severity: str = "warning"
    # False for alerts whose message belongs to the code that raised them first.
    refresh: bool = True


@dataclass
class RuleReport:
    raised: list[tuple[str, str]] = field(default_factory=list)
    resolved: list[tuple[str, str]] = field(default_factory=list)


def disk_free_pct(path: Path, disk_usage: Callable[..., Any] = shutil.disk_usage) -> float:
    usage = disk_usage(path)
    return 100.0 * usage.free / usage.total if usage.total else 100.0


def _minutes(seconds: float | None) -> str:
    return "?" if seconds is None else f"{int(seconds // 60)} min"


def _dead_letters(conn: sqlite3.Connection, settings: Settings, now: datetime) -> Condition:
    limit = settings.alerts.dead_letter_after_min
    cutoff = iso(now - timedelta(minutes=limit))
    count, oldest, order_id = conn.execute(
        "SELECT COUNT(*), MIN(dead_at), (SELECT order_id FROM outbox WHERE status = 'dead'"
        " AND resolved_at IS NULL ORDER BY dead_at LIMIT 1) FROM outbox"
        " WHERE status = 'dead' AND resolved_at IS NULL AND dead_at <= ?", (cutoff,)).fetchone()
    message = ""
    if count:
        message = (f"{count} dead letter(s) unresolved for more than {limit} min (oldest: order"
                   f" {order_id}, {_minutes(age_s(oldest, now))}); a manager must retry or discard"
                   " them: store-agent dlq list")
    return Condition("dead_letter_overdue", "outbox", bool(count), message)


def _pending_age(conn: sqlite3.Connection, settings: Settings, now: datetime) -> Condition:
    limit_s = settings.alerts.pending_age_min * 60
    oldest = conn.execute("SELECT MIN(occurred_at) FROM outbox WHERE status = 'pending'").fetchone()[0]
    # Pending although the OMS answers recently (whatever the last request said).
    reachable = sync_state.reachable(sync_state.get(conn, SyncKey.LAST_CONTACT_AT), now)
    age = age_s(oldest, now)
    holds = reachable and age is not None and age > limit_s
    message = ""
    if holds:
        error = sync_state.get(conn, SyncKey.LAST_ERROR)
        message = (f"events are not leaving: the oldest pending event is {_minutes(age)} old although"
                   f" the OMS answers{f' (last error: {error[:200]})' if error else ''};"
                   " see the daemon's log and store-agent status")
    return Condition("pending_age", "outbox", holds, message, severity="critical")


def _printers(conn: sqlite3.Connection, settings: Settings, now: datetime) -> list[Condition]:
    limit_s = settings.alerts.printer_not_ready_min * 60
    out = []
    for printer in settings.printers:
        state = sync_state.device_state(conn, DeviceKind.PRINTER, printer.id)
        status = state.get("status", "unknown")
        since = state.get("since")
        down_s = age_s(since, now) if since else None
        holds = status not in PRINTER_FINE and down_s is not None and down_s >= limit_s
        message = ""
        if holds:
            reason = state.get("reason") or status.replace("_", " ")
            message = (f"printer {printer.id} ({printer.address}) has not been ready for"
                       f" {_minutes(down_s)}: {reason}; its jobs wait in the queue")
        out.append(Condition("printer", printer.id, holds, message))
    configured = {p.id for p in settings.printers}
    for (key,) in conn.execute("SELECT key FROM alerts WHERE kind = 'printer'"
                               " AND resolved_at IS NULL").fetchall():
        if key not in configured:  # removed from the config: nobody will ever fix it
            out.append(Condition("printer", key, False))
    return out


def _disk(settings: Settings, disk_usage: Callable[..., Any]) -> Condition:
    directory = Path(settings.storage.path).parent
    try:
        free = disk_free_pct(directory, disk_usage)
    except OSError as exc:
        log.warning("cannot measure free disk space of %s: %s", directory, exc.strerror)
        free = 100.0
    holds = free < settings.alerts.disk_free_pct
    message = (f"only {free:.1f} % free on the file system of {directory} (alert under"
               f" {settings.alerts.disk_free_pct:g} %): the database and its backups need room;"
               " delete old files or grow the disk") if holds else ""
    return Condition("disk", "database", holds, message, severity="critical")


def _quarantine(conn: sqlite3.Connection) -> Condition:
    count = conn.execute("SELECT COUNT(*) FROM quarantine WHERE resolved_at IS NULL").fetchone()[0]
    return Condition("quarantine", "snapshots", count > 0, refresh=False,
                     message=f"{count} OMS snapshot(s) quarantined: see `store-agent quarantine list`")


def _event_raised(conn: sqlite3.Connection, settings: Settings) -> list[Condition]:
    """Open alerts raised by events, checked against the state that should keep them open."""
    out = []
    for kind, key in conn.execute(
            "SELECT kind, key FROM alerts WHERE resolved_at IS NULL AND kind IN"
            " ('cancelled_while_ready', 'conflict', 'unknown_status', 'oms_api_version')"
            ).fetchall():
        if kind == "oms_api_version":  # until no 1.1 event of that type waits refused as unknown
            holds = conn.execute("SELECT 1 FROM outbox WHERE status = 'dead' AND resolved_at IS NULL"
                                 " AND result_code = 'unknown_type' AND type = ? LIMIT 1",
                                 (key,)).fetchone() is not None
        elif kind == "cancelled_while_ready":  # until its items are back on the shelf
            holds = conn.execute("SELECT 1 FROM return_tasks WHERE order_id = ?"
                                 " AND state = 'OPEN'", (key,)).fetchone() is not None
        elif kind == "conflict":  # until the OMS agrees or a manager settles it
            holds = conn.execute("SELECT 1 FROM orders WHERE order_id = ?"
                                 " AND conflict IS NOT NULL", (key,)).fetchone() is not None
        else:  # until the status map knows it, or no snapshot with it waits in quarantine
            holds = key not in settings.status_map and conn.execute(
                f"SELECT 1 FROM quarantine WHERE resolved_at IS NULL AND {QUARANTINED_STATUS_SQL} = ?"
                " LIMIT 1", (key,)).fetchone() is not None
        out.append(Condition(kind, key, holds, refresh=False))
    return out


def _reconciliation(conn: sqlite3.Connection, settings: Settings, now: datetime) -> Condition:
    threshold = settings.alerts.reconcile_mismatches_per_hour
    recent = conn.execute(
        "SELECT COUNT(*) FROM received_changes WHERE source = 'reconcile'"
        " AND outcome LIKE 'finding:%' AND received_at >= ?",
        (iso(now - timedelta(hours=1)),)).fetchone()[0]
    return Condition("reconciliation", "mismatches", recent > threshold, refresh=False,
                     severity="critical",
                     message=f"{recent} differences between the store and the OMS in the last hour:"
                             " see `store-agent audit` of the orders named in the log")


def _outage(conn: sqlite3.Connection, settings: Settings, now: datetime) -> list[Condition]:
    return [Condition(kind, key, severity is not None, message, severity=severity or "warning")
            for kind, key, severity, message in outage_conditions(conn, settings, now)]


def evaluate(store: Store, settings: Settings, *, now: datetime | None = None,
             disk_usage: Callable[..., Any] = shutil.disk_usage) -> RuleReport:
    """Check every rule once, in one transaction; report what was newly raised or resolved."""
    now = now or utc_now()
    stamp = iso(now)
    report = RuleReport()
    disk = _disk(settings, disk_usage)  # a syscall: outside the write lock
    with store.write() as conn:
        conditions = [_dead_letters(conn, settings, now), _pending_age(conn, settings, now),
                      *_printers(conn, settings, now), disk, _quarantine(conn),
                      _reconciliation(conn, settings, now), *_event_raised(conn, settings),
                      *_outage(conn, settings, now)]
        open_now = {(r[0], r[1]) for r in conn.execute(
            "SELECT kind, key FROM alerts WHERE resolved_at IS NULL")}
        for c in conditions:
            is_open = (c.kind, c.key) in open_now
            if c.holds and (not is_open or c.refresh):
                raise_alert(conn, kind=c.kind, key=c.key, message=c.message, now=stamp,
                            severity=c.severity)
                if not is_open:
                    report.raised.append((c.kind, c.key))
            elif not c.holds and is_open:
                resolve_alert(conn, kind=c.kind, key=c.key, now=stamp)
                report.resolved.append((c.kind, c.key))
            if c.holds and c.kind in ESCALATING_KINDS:
                escalate(conn, c.kind, c.key, c.severity, stamp)
    return report

