"""Reconciliation: compare the store's orders with the OMS and repair or flag each difference.

The feed and the outbox are each reliable on their own; reconciliation checks
the boundary between them. Findings:
- a change the store missed: the OMS holds a newer version; it is applied;
- an acknowledged store event whose effect the OMS lacks: the event goes back
  to pending with its same event_id, so an OMS that honours the key can
  apply it once (``effect_missing``);
- ... unless the OMS already answered ``duplicate`` for that id: it says it
  applied it and resending cannot change that, so the order gets a conflict
  for a person instead of a resend every run (``effect_refused``);
- an acknowledged return to the shelf of an order the OMS does not show
  cancelled: the OMS cannot have put those units back (``return_not_applied``,
  for a person: resending a return to an open order would be refused);
- an open store order the OMS does not list: flagged for a person.
A snapshot whose status the map does not know is quarantined once: the next
runs find the same version already waiting in quarantine and add nothing (no
new row, no new mismatch), so the hourly alert can clear. Each finding is
written to the order's audit; more than alerts.reconcile_mismatches_per_hour
(5) in an hour is a critical alert. The outcomes are listed in docs/cli.md.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from agent.alerts import raise_alert
from agent.clock import iso, utc_now
from agent.orders.snapshots import apply_snapshot, quarantine
from agent.store import sync_state
from agent.store.connection import Store
from config.settings import Settings
from config.vocabulary import OPEN_STATES, EventType, OrderState, sql_in
from sync.adapter import OmsAdapter
from sync.models import OrderSnapshot, OrdersPage

log = logging.getLogger("store_agent.reconcile")

# Orders per OMS page, and so per write transaction. A page of 500 parsed
# snapshots (dicts plus models) is ~4 MB of Python objects in the daemon, next
# to the feed's page and the sender's batches; 200 keeps the peak (and so the
# resident size, which CPython rarely gives back) lower and each transaction
# shorter. Reconciliation is a background check: the extra requests cost nothing.
PAGE_SIZE = 200


# Events whose effect shows in the OMS's status; the last acknowledged one is compared.
STATUS_EVENTS = (EventType.STAGED, EventType.PICKED_UP, EventType.CANCELLED)


def _effect_missing(event_type: str, oms_state: str | None) -> bool:
    """Does the OMS state lack what an acknowledged event of this type must have done?"""
    if event_type == EventType.PICKED_UP:
        return oms_state != OrderState.PICKED_UP
    if event_type == EventType.CANCELLED:
        return oms_state != OrderState.CANCELLED
    if event_type == EventType.STAGED:
        return oms_state == OrderState.TO_PICK
    return False  # the other events change no OMS status


@dataclass
class Finding:
    order_id: str
    kind: str  # missed_change, effect_missing, unknown_to_oms
    detail: str


@dataclass
class ReconcileReport:
    compared: int = 0
    findings: list[Finding] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"compared": self.compared,
                "findings": [f.__dict__ for f in self.findings]}


async def reconcile(store: Store, settings: Settings, client: OmsAdapter) -> ReconcileReport:
    """Page by page: each OMS page is compared and repaired in its own short transaction,
    so memory stays flat and associates' actions never wait behind a long reconciliation."""
    now_dt = utc_now()
    since = now_dt - timedelta(hours=48)
    report = ReconcileReport()
    listed: set[str] = set()
    cursor = None
    while True:
        # The page is only an argument: it is freed when _apply_page returns, not kept
        # alive (as a loop variable would be) while the next one is fetched and parsed.
        cursor = _apply_page(store, settings,
                             await client.list_orders(updated_after=since, cursor=cursor,
                                                      limit=PAGE_SIZE),
                             report, listed)
        if not cursor:
            break
    now = iso(utc_now())
    with store.write() as conn:
        for (order_id,) in conn.execute(
                f"SELECT order_id FROM orders WHERE state IN {sql_in(OPEN_STATES)}").fetchall():
            if order_id not in listed:
                _finding(conn, report, Finding(order_id, "unknown_to_oms",
                                               "open in the store, not listed by the OMS"), now)
        hour_ago = iso(now_dt - timedelta(hours=1))
        recent = conn.execute(
            "SELECT COUNT(*) FROM received_changes WHERE source = 'reconcile'"
            " AND outcome LIKE 'finding:%' AND received_at >= ?", (hour_ago,)).fetchone()[0]
        if recent > settings.alerts.reconcile_mismatches_per_hour:
            raise_alert(conn, kind="reconciliation", key="mismatches", now=now,
                        message=f"{recent} differences between the store and the OMS in the last"
                                " hour: see `store-agent audit` of the orders named in the log")
        sync_state.put(conn, last_reconcile_at=now, reconcile_requested=None,
                       mismatches_last_hour=str(recent))
    for f in report.findings:
        log.warning("reconcile finding order=%s kind=%s %s", f.order_id, f.kind, f.detail)
    return report


def _apply_page(store: Store, settings: Settings, page: OrdersPage, report: ReconcileReport,
                listed: set[str]) -> str | None:
    """Compare and repair one OMS page in one transaction; the next page's cursor."""
    now = iso(utc_now())
    with store.write() as conn:
        for entry in page.orders:
            if entry.order_id:
                listed.add(entry.order_id)
            if entry.snapshot is None:
                quarantine(conn, raw=entry.raw, reason=f"invalid snapshot: {entry.error}",
                           source="reconcile", now=now, order_id=entry.order_id)
                continue
            report.compared += 1
            _compare(conn, settings, entry.raw, entry.snapshot, report, now)
    return page.next_cursor


def _finding(conn: sqlite3.Connection, report: ReconcileReport, finding: Finding, now: str) -> None:
    report.findings.append(finding)
    conn.execute(
        "INSERT INTO received_changes (source, order_id, outcome, detail, received_at)"
        " VALUES ('reconcile', ?, ?, ?, ?)",
        (finding.order_id, f"finding:{finding.kind}", finding.detail, now))


def _compare(conn: sqlite3.Connection, settings: Settings, raw: Any, snap: OrderSnapshot,
             report: ReconcileReport, now: str) -> None:
    order_id = snap.order_id
    mine = conn.execute("SELECT state, version, conflict FROM orders WHERE order_id = ?",
                        (order_id,)).fetchone()
    if snap.status not in settings.status_map and _already_quarantined(conn, snap):
        return  # the same unmapped snapshot waits in quarantine since an earlier run
    if mine is None or snap.version > mine["version"]:
        result = apply_snapshot(conn, raw, snapshot=snap, status_map=settings.status_map, now=now,
                                source="reconcile")
        # A newer version that leaves the store's state as it was is the OMS echoing
        # what the store already did (the feed just had not caught up): not a miss.
        if mine is None or result.outcome == "conflict" or result.state != mine["state"]:
            _finding(conn, report, Finding(order_id, "missed_change",
                                           f"applied OMS v{snap.version} ({result.outcome})"), now)
    oms_state = settings.status_map.get(snap.status)
    if oms_state is None:
        return  # quarantined: nothing to compare the store's events with
    marks = ",".join("?" * len(STATUS_EVENTS))
    last_acked = conn.execute(
        "SELECT seq, type, json_extract(oms_result, '$.status') AS answer FROM outbox"
        f" WHERE order_id = ? AND status = 'acked' AND type IN ({marks})"
        " ORDER BY seq DESC LIMIT 1", (order_id, *STATUS_EVENTS)).fetchone()
    if last_acked and _effect_missing(last_acked["type"], oms_state):
        what = f"{last_acked['type']} (seq {last_acked['seq']}) acknowledged but the OMS says {snap.status}"
        if last_acked["answer"] == "duplicate":
            _needs_person(conn, report, order_id, "effect_refused", now,
                          f"{what}, and it answered `duplicate` for that event: resending cannot"
                          " help; settle it with the OMS team, then `order resolve-conflict`")
        else:
            conn.execute("UPDATE outbox SET status = 'pending', acked_at = NULL WHERE seq = ?",
                         (last_acked["seq"],))
            _finding(conn, report, Finding(order_id, "effect_missing", f"{what}: sent again"), now)
    returned = conn.execute(
        "SELECT seq FROM outbox WHERE order_id = ? AND status = 'acked'"
        " AND type = ? ORDER BY seq DESC LIMIT 1",
        (order_id, EventType.RETURNED_TO_SHELF)).fetchone()
    if returned and oms_state != OrderState.CANCELLED:
        _needs_person(conn, report, order_id, "return_not_applied", now,
                      f"order.returned_to_shelf (seq {returned['seq']}) acknowledged but the OMS"
                      f" says {snap.status}, not cancelled: the units may not be sellable at the"
                      " OMS; check the order with the OMS team, then `order resolve-conflict`")


def _already_quarantined(conn: sqlite3.Connection, snap: OrderSnapshot) -> bool:
    return conn.execute(
        "SELECT 1 FROM quarantine WHERE order_id = ? AND resolved_at IS NULL"
        " AND json_extract(payload, '$.version') = ? AND json_extract(payload, '$.status') = ?"
        " LIMIT 1", (snap.order_id, snap.version, snap.status)).fetchone() is not None


def _needs_person(conn: sqlite3.Connection, report: ReconcileReport, order_id: str, kind: str, now: str,
                  detail: str) -> None:
    """A difference only a person can settle: a conflict on the order, once (not every run)."""
    current = conn.execute("SELECT conflict FROM orders WHERE order_id = ?", (order_id,)).fetchone()
    if current is None or current["conflict"] == detail:
        return
    conn.execute("UPDATE orders SET conflict = ? WHERE order_id = ?", (detail, order_id))
    raise_alert(conn, kind="conflict", key=order_id, order_id=order_id, now=now,
                severity="critical", message=f"order {order_id}: {detail}")
    _finding(conn, report, Finding(order_id, kind, detail), now)
