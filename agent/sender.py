"""The outbox sender: delivers events to the OMS in seq order, per-order strictly in turn.

An event is sendable only when every earlier event of its order is
acknowledged (or its dead letter was discarded), so each batch carries at
most one event per order: if that one is refused, the order's later events
are still here to be held. Other orders keep flowing.

Whole-request answers follow the contract: 400 bisects to find the bad
events, 413 halves the batch, 401/403 stop sending (retried slowly so a fixed
token resumes by itself), 429/503 wait at least Retry-After, anything else
transient backs off with full jitter. Each answer's bookkeeping commits in one
transaction with any snapshot the OMS sent back.
"""

from __future__ import annotations

import json
import logging
import random
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from pydantic import ValidationError

from agent import sync_state
from agent.alerts import raise_alert, resolve_alert
from agent.clock import iso, utc_now
from agent.snapshots import apply_snapshot, quarantine
from agent.store import Store
from config.settings import Settings
from sync.client import StoreSyncClient, backoff_delay, retry_after_floor
from sync.errors import (
    BadRequestError,
    CredentialsError,
    RateLimitedError,
    SyncError,
    TooLargeError,
)
from sync.models import Event

log = logging.getLogger("store_agent.sender")

_SENDABLE = """
SELECT o.* FROM outbox o
WHERE o.status = 'pending'
  AND NOT EXISTS (
    SELECT 1 FROM outbox p
    WHERE p.order_id = o.order_id AND p.seq < o.seq AND p.status != 'acked'
      AND NOT (p.status = 'dead' AND p.resolved_at IS NOT NULL))
ORDER BY o.seq LIMIT ?
"""


@dataclass
class DrainReport:
    sent: int = 0
    acked: int = 0
    dead: int = 0
    requests: int = 0
    wait_s: float = 0.0  # how long the caller should wait before the next drain
    error: str | None = None
    credentials_rejected: bool = False


class OutboxSender:
    def __init__(self, store: Store, settings: Settings, client: StoreSyncClient, *,
                 rng: random.Random | None = None,
                 on_ack: Callable[[str, str], None] | None = None):
        self.store = store
        self.settings = settings
        self.client = client
        self.rng = rng or random.Random()
        self.batch_limit = settings.sync.batch_size
        self.failures = 0  # consecutive transient failures, for the backoff exponent
        # Called with (occurred_at, acked_at) per acknowledged event, after the commit
        # (the daemon's latency histogram, agent/metrics.py).
        self.on_ack = on_ack

    # --- reading ---------------------------------------------------------------
    def sendable(self, limit: int) -> list[sqlite3.Row]:
        return self.store.conn.execute(_SENDABLE, (limit,)).fetchall()

    @staticmethod
    def wire_event(row: sqlite3.Row) -> dict:
        return {
            "event_id": row["event_id"], "seq": row["seq"], "type": row["type"],
            "order_id": row["order_id"], "based_on_version": row["based_on_version"],
            "occurred_at": row["occurred_at"], "associate_id": row["associate_id"],
            "device_id": row["device_id"], "data": json.loads(row["data"]),
        }

    # --- one drain -----------------------------------------------------------
    async def drain(self, *, max_requests: int = 1_000_000) -> DrainReport:
        """Send until nothing is sendable or the OMS stops us; report when to come back."""
        report = DrainReport()
        while report.requests < max_requests:
            rows = self.sendable(self.batch_limit)
            if not rows:
                break
            try:
                await self._send(rows, report)
            except RateLimitedError as exc:
                report.wait_s, report.error = retry_after_floor(exc.retry_after_s, self.rng), str(exc)
                self._note_failure(rows, f"rate limited: {exc}", report.wait_s)
                return report
            except CredentialsError as exc:
                self._credentials_rejected(str(exc))
                report.wait_s, report.error = float(self.settings.sync.credentials_retry_s), str(exc)
                report.credentials_rejected = True
                return report
            except SyncError as exc:
                report.wait_s = backoff_delay(self.failures, rng=self.rng)
                report.error = str(exc)
                self._note_failure(rows, str(exc), report.wait_s)
                return report
        return report

    async def _send(self, rows: list[sqlite3.Row], report: DrainReport) -> None:
        events, bad = [], []
        for row in rows:
            wire = self.wire_event(row)
            try:
                events.append((row, Event.model_validate(wire)))
            except ValidationError as exc:
                bad.append((row, f"invalid event: {exc.error_count()} problem(s)"))
        if bad:  # a local bug: never block the queue on it, make it visible instead
            self._kill(bad, kind="rejected", code="invalid_locally", report=report)
        if not events:
            return
        try:
            report.requests += 1
            # Validated once, here: the client does not validate model instances again.
            results = await self.client.post_events([e for _, e in events])
        except TooLargeError:
            if len(events) == 1:
                self._kill([(events[0][0], "the OMS says this single event is too large")],
                           kind="rejected", code="too_large", report=report)
                return
            self.batch_limit = max(1, len(events) // 2)
            log.warning("413 from the OMS: batch size now %d", self.batch_limit)
            return
        except BadRequestError as exc:
            if len(events) == 1:
                self._kill([(events[0][0], f"bad request: {exc}")], kind="rejected",
                           code="bad_request", report=report)
                return
            middle = len(events) // 2
            await self._send([r for r, _ in events[:middle]], report)
            await self._send([r for r, _ in events[middle:]], report)
            return
        report.sent += len(events)
        self._record_results([r for r, _ in events], results, report)

    # --- bookkeeping ------------------------------------------------------------
    def _record_results(self, rows, results, report: DrainReport) -> None:
        now = iso(utc_now())
        status_map = self.settings.status_map
        pairs = list(zip(rows, results, strict=True))
        ok = [(row, result) for row, result in pairs if result.status in ("accepted", "duplicate")]
        acked = [row["occurred_at"] for row, _ in ok]
        with self.store.write() as conn:
            # Acknowledgements first and in one statement: a snapshot carried by a result
            # below must see its own event as acknowledged.
            conn.executemany(
                "UPDATE outbox SET status = 'acked', acked_at = ?, oms_result = ?,"
                " attempts = attempts + 1, last_error = NULL WHERE seq = ?",
                [(now, _result_json(result), row["seq"]) for row, result in ok])
            report.acked += len(ok)
            for row, result in pairs:
                if result.status not in ("accepted", "duplicate"):
                    self._dead_in(conn, row, kind=result.status, code=result.code,
                                  message=result.message, now=now, oms_result=_result_json(result))
                    report.dead += 1
                if result.order is not None:
                    apply_snapshot(conn, result.order.model_dump(mode="json"), status_map=status_map,
                                   now=now, source=f"result:{result.status}")
                elif result.order_raw is not None:
                    quarantine(conn, raw=result.order_raw, reason=f"invalid snapshot in a"
                               f" {result.status} result: {result.order_error}", source="result",
                               now=now, order_id=row["order_id"])
            self._mark_online(conn, now)
        self.failures = 0
        if self.on_ack is not None:
            for occurred_at in acked:
                self.on_ack(occurred_at, now)

    def _dead_in(self, conn, row, *, kind: str, code, message, now: str, oms_result=None) -> None:
        conn.execute(
            "UPDATE outbox SET status = 'dead', dead_kind = ?, result_code = ?, result_message = ?,"
            " dead_at = ?, oms_result = ?, attempts = attempts + 1, resolution = NULL,"
            " resolved_by = NULL, resolved_at = NULL WHERE seq = ?",
            (kind, code, message, now, oms_result, row["seq"]))
        conn.execute("UPDATE outbox SET status = 'held' WHERE order_id = ? AND seq > ?"
                     " AND status = 'pending'", (row["order_id"], row["seq"]))
        bin_ = conn.execute("SELECT bin FROM orders WHERE order_id = ?",
                            (row["order_id"],)).fetchone()
        where = f" (bin {bin_[0]})" if bin_ and bin_[0] else ""
        what = "contradicts the OMS" if kind == "conflict" else "was refused by the OMS"
        raise_alert(conn, kind="dead_letter", key=row["order_id"], order_id=row["order_id"],
                    now=now, severity="critical" if kind == "conflict" else "warning",
                    message=f"order {row['order_id']}{where}: {row['type']} {what}"
                            f" ({code or kind}: {message or 'no message'}); a manager must retry"
                            " or discard it (store-agent dlq list)")
        log.warning("dead letter %s %s order=%s kind=%s code=%s", row["event_id"], row["type"],
                    row["order_id"], kind, code)

    def _kill(self, items, *, kind: str, code: str, report: DrainReport) -> None:
        now = iso(utc_now())
        with self.store.write() as conn:
            for row, message in items:
                self._dead_in(conn, row, kind=kind, code=code, message=message, now=now)
                report.dead += 1

    def _note_failure(self, rows, error: str, wait_s: float) -> None:
        self.failures += 1
        now = utc_now()
        with self.store.write() as conn:
            # Only rows still pending: a bisection may have had part of the
            # batch acknowledged or dead-lettered before the failure.
            conn.executemany(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?"
                " WHERE seq = ? AND status = 'pending'",
                [(error[:500], iso(now + timedelta(seconds=wait_s)), r["seq"]) for r in rows])
            sync_state.put(conn, online="0", last_error=error[:500])

    def _credentials_rejected(self, error: str) -> None:
        now = iso(utc_now())
        with self.store.write() as conn:
            raise_alert(conn, kind="credentials", key="oms", now=now, severity="critical",
                        message="the OMS rejected this store's credentials (401/403): sending is"
                                " paused, every event is kept; fix oms.token")
            sync_state.put(conn, online="0", last_error=error[:500])
        log.error("credentials rejected by the OMS; events kept, retrying every %d s",
                  self.settings.sync.credentials_retry_s)

    @staticmethod
    def _mark_online(conn, now: str) -> None:
        sync_state.put(conn, online="1", last_contact_at=now, last_error=None)
        resolve_alert(conn, kind="credentials", key="oms", now=now)


def _result_json(result) -> str:
    return json.dumps({"status": result.status, "code": result.code, "message": result.message})
