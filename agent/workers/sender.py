"""The outbox sender: delivers events to the OMS in seq order, per-order strictly in turn.

An event is sendable only when every earlier event of its order is
acknowledged (or its dead letter was discarded), so each batch carries at
most one event per order: if that one is refused, the order's later events
are still here to be held. Other orders keep flowing.

Up to ``max_in_flight`` batches are in flight at once (the client says how many
its OMS takes; 3 for the Store Sync API, 1 otherwise). The next batch is read
with every order of the batches in flight excluded, so two batches never hold
the same order and an order's next event still waits for the previous one's
acknowledgement. Overlapping requests keeps the store's CPU (reading, encoding,
recording) and the OMS's busy at the same time instead of taking turns.

Whole-request answers follow the contract: 400 bisects to find the bad
events, 413 halves the batch, 401/403 stop sending (retried slowly so a fixed
token resumes by itself), 429/503 wait at least Retry-After, anything else
transient backs off with full jitter. After a failure no new batch starts; the
ones in flight finish and are recorded, then the drain returns when to come
back. Each answer's bookkeeping commits in one transaction with any snapshot
the OMS sent back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from agent.alerts import raise_alert, resolve_alert
from agent.clock import iso, utc_now
from agent.orders import superseded
from agent.orders.snapshots import apply_snapshot, quarantine
from agent.store import sync_state
from agent.store.connection import Store
from config.settings import Settings
from sync.adapter import OmsAdapter
from sync.errors import (
    BadRequestError,
    CredentialsError,
    RateLimitedError,
    SyncError,
    TooLargeError,
)
from sync.models import EVENT_TYPES_1_1, Event, EventResult
from sync.retry import backoff_delay, retry_after_floor

log = logging.getLogger("store_agent.sender")

# Only what goes on the wire and into the bookkeeping: fewer columns to convert per row.
_SENDABLE = """
SELECT o.seq, o.event_id, o.order_id, o.type, o.data, o.occurred_at, o.associate_id, o.device_id,
       o.based_on_version
FROM outbox o
WHERE o.status = 'pending'
  AND o.status != 'acked'  -- implied, but lets SQLite use the partial index outbox_unsent
  AND NOT EXISTS (
    SELECT 1 FROM outbox p
    WHERE p.order_id = o.order_id AND p.seq < o.seq AND p.status != 'acked'
      AND NOT (p.status = 'dead' AND p.resolved_at IS NOT NULL))
  {busy}
ORDER BY o.seq LIMIT :limit
"""
_SENDABLE_ALL = _SENDABLE.format(busy="")
# Orders with a batch in flight: their pending event is the one in flight.
_SENDABLE_NOT_BUSY = _SENDABLE.format(busy="AND o.order_id NOT IN (SELECT value FROM json_each(:busy))")

_ACK = ("UPDATE outbox SET status = 'acked', acked_at = ?, oms_result = ?, attempts = attempts + 1,"
        " last_error = NULL WHERE seq IN (SELECT value FROM json_each(?))")
_DONE = ("accepted", "duplicate")


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
    def __init__(self, store: Store, settings: Settings, client: OmsAdapter, *,
                 rng: random.Random | None = None,
                 on_ack: Callable[[str, str], None] | None = None):
        self.store = store
        self.settings = settings
        self.client = client
        self.rng = rng or random.Random()
        self.batch_limit = settings.sync.batch_size
        # Batches in flight at once; an adapter that says nothing gets one at a time.
        self.max_in_flight = max(1, client.max_in_flight)
        self.failures = 0  # consecutive transient failures, for the backoff exponent
        # Called with (occurred_at, acked_at) per acknowledged event, after the commit
        # (the daemon's latency histogram, agent/ops/metrics.py).
        self.on_ack = on_ack

    # --- reading ---------------------------------------------------------------
    def sendable(self, limit: int, busy: set[str] | frozenset[str] = frozenset()) -> list[sqlite3.Row]:
        """At most ``limit`` sendable events in seq order, none of an order in ``busy``."""
        if not busy:
            return self.store.conn.execute(_SENDABLE_ALL, {"limit": limit}).fetchall()
        return self.store.conn.execute(
            _SENDABLE_NOT_BUSY, {"limit": limit, "busy": json.dumps(list(busy))}).fetchall()

    @staticmethod
    def wire_event(row: sqlite3.Row) -> dict[str, Any]:
        return {
            "event_id": row["event_id"], "seq": row["seq"], "type": row["type"],
            "order_id": row["order_id"], "based_on_version": row["based_on_version"],
            "occurred_at": row["occurred_at"], "associate_id": row["associate_id"],
            "device_id": row["device_id"], "data": json.loads(row["data"]),
        }

    # --- one drain -----------------------------------------------------------
    async def drain(self, *, max_requests: int = 1_000_000) -> DrainReport:
        """Send until nothing is sendable or the OMS stops us; report when to come back.

        Starts at most ``max_requests`` requests (bisection halves count), keeping up to
        ``max_in_flight`` of them in flight.
        """
        report = DrainReport()
        flights: dict[asyncio.Task[None], list[sqlite3.Row]] = {}
        busy: set[str] = set()  # orders of the batches in flight
        failed: list[tuple[list[sqlite3.Row], SyncError]] = []
        try:
            while True:
                while not failed and len(flights) < self.max_in_flight and report.requests < max_requests:
                    rows = self.sendable(self.batch_limit, busy)
                    if not rows:
                        break
                    rows, events = self._validated(rows, report)
                    if not rows:
                        continue  # all of them were dead-lettered: read again
                    report.requests += 1
                    flights[asyncio.create_task(self._post(rows, events, report))] = rows
                    del events  # only the task holds them now (see _post)
                    busy.update(row["order_id"] for row in rows)
                if not flights:
                    break
                done, _ = await asyncio.wait(flights, return_when=asyncio.FIRST_COMPLETED)
                for task in [t for t in flights if t in done]:  # in the order they started
                    rows = flights.pop(task)
                    busy.difference_update(row["order_id"] for row in rows)
                    error = task.exception()
                    if isinstance(error, SyncError):
                        failed.append((rows, error))
                    elif error is not None:
                        raise error
        finally:
            if flights:  # cancelled, or a bug in one of them: their events stay pending
                for task in flights:
                    task.cancel()
                await asyncio.gather(*flights, return_exceptions=True)
        if failed:
            self._failed(failed, report)
        return report

    def _validated(self, rows: list[sqlite3.Row], report: DrainReport
                   ) -> tuple[list[sqlite3.Row], list[Event]]:
        """The rows that make valid events, and those events; the others become dead letters."""
        ok, events, bad = [], [], []
        for row in rows:
            wire = self.wire_event(row)
            try:
                events.append(Event.model_validate(wire))
                ok.append(row)
            except ValidationError as exc:
                bad.append((row, f"invalid event: {exc.error_count()} problem(s)"))
        if bad:  # a local bug: never block the queue on it, make it visible instead
            self._kill(bad, kind="rejected", code="invalid_locally", report=report)
        return ok, events

    async def _post(self, rows: list[sqlite3.Row], events: list[Event], report: DrainReport) -> None:
        """One request for ``rows`` (counted by the caller); its results recorded before it returns."""
        # Validated once, in _validated: the client does not validate model instances again.
        # Nothing here keeps the models while the request is in flight: the client drops them
        # once the body is encoded (about 3 KB an event, times max_in_flight batches).
        sending = self.client.post_events(events)
        del events
        try:
            results = await sending
        except TooLargeError:
            if len(rows) == 1:
                self._kill([(rows[0], "the OMS says this single event is too large")],
                           kind="rejected", code="too_large", report=report)
                return
            # Relative to this batch: two batches refused at once halve the limit once.
            self.batch_limit = max(1, min(self.batch_limit, len(rows) // 2))
            log.warning("413 from the OMS: batch size now %d", self.batch_limit)
            return
        except BadRequestError as exc:
            if len(rows) == 1:
                self._kill([(rows[0], f"bad request: {exc}")], kind="rejected",
                           code="bad_request", report=report)
                return
            middle = len(rows) // 2
            for half in (rows[:middle], rows[middle:]):
                half_rows, half_events = self._validated(half, report)  # valid a moment ago: all of them
                report.requests += 1
                await self._post(half_rows, half_events, report)
            return
        report.sent += len(rows)
        self._record_results(rows, results, report)

    def _failed(self, failed: list[tuple[list[sqlite3.Row], SyncError]], report: DrainReport) -> None:
        """The drain's failures, once: the longest wait any of them asks for, one backoff step."""
        credentials = [exc for _, exc in failed if isinstance(exc, CredentialsError)]
        limited = [exc for _, exc in failed if isinstance(exc, RateLimitedError)]
        others = [exc for _, exc in failed if not isinstance(exc, CredentialsError | RateLimitedError)]
        waits = [retry_after_floor(exc.retry_after_s, self.rng) for exc in limited]
        if others:
            waits.append(backoff_delay(self.failures, rng=self.rng))
        if credentials:
            self._credentials_rejected(str(credentials[0]))
            report.credentials_rejected = True
            waits.append(float(self.settings.sync.credentials_retry_s))
        report.wait_s = max(waits)
        report.error = str((credentials or limited or others)[0])
        noted = [(rows, f"rate limited: {exc}" if isinstance(exc, RateLimitedError) else str(exc))
                 for rows, exc in failed if not isinstance(exc, CredentialsError)]
        if noted:
            self._note_failure(noted)

    # --- bookkeeping ------------------------------------------------------------
    def _record_results(self, rows: list[sqlite3.Row], results: list[EventResult],
                        report: DrainReport) -> None:
        now = iso(utc_now())
        status_map = self.settings.status_map
        pairs = list(zip(rows, results, strict=True))
        acked: dict[str, list[int]] = {}  # oms_result -> seqs; nearly always one entry
        occurred = []
        for row, result in pairs:
            if result.status in _DONE:
                acked.setdefault(_result_json(result), []).append(row["seq"])
                occurred.append(row["occurred_at"])
        with self.store.write() as conn:
            # Acknowledgements first, one statement per distinct result: a snapshot
            # carried by a result below must see its own event as acknowledged.
            for oms_result, seqs in acked.items():
                conn.execute(_ACK, (now, oms_result, json.dumps(seqs)))
            report.acked += len(occurred)
            for row, result in pairs:
                if result.status in _DONE:
                    pass
                elif result.order is not None and superseded.cancelled_at_oms(
                        row["type"], result.status, result.order.status, status_map):
                    superseded.settle(conn, row, oms_status=result.order.status,
                                      oms_version=result.order.version,
                                      oms_result=_result_json(result), now=now)
                    report.acked += 1
                else:
                    self._dead_in(conn, row, kind=result.status, code=result.code,
                                  message=result.message, now=now, oms_result=_result_json(result))
                    report.dead += 1
                if result.order is not None:  # validated by the client: not validated again
                    raw = result.order_raw if result.order_raw is not None else result.order.model_dump(
                        mode="json")
                    apply_snapshot(conn, raw, status_map=status_map, now=now,
                                   source=f"result:{result.status}", snapshot=result.order)
                elif result.order_raw is not None:
                    quarantine(conn, raw=result.order_raw, reason=f"invalid snapshot in a"
                               f" {result.status} result: {result.order_error}", source="result",
                               now=now, order_id=row["order_id"])
            self._mark_online(conn, now)
        self.failures = 0
        if self.on_ack is not None:
            for occurred_at in occurred:
                self.on_ack(occurred_at, now)

    def _dead_in(self, conn: sqlite3.Connection, row: sqlite3.Row, *, kind: str, code: str | None,
                 message: str | None, now: str, oms_result: str | None = None) -> None:
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
        if code == "unknown_type" and row["type"] in EVENT_TYPES_1_1:
            raise_alert(conn, kind="oms_api_version", key=row["type"], now=now,
                        message=f"the OMS does not speak Store Sync API 1.1: it rejected a"
                                f" {row['type']} event as an unknown type")
        log.warning("dead letter %s %s order=%s kind=%s code=%s", row["event_id"], row["type"],
                    row["order_id"], kind, code)

    def _kill(self, items: list[tuple[sqlite3.Row, str]], *, kind: str, code: str,
              report: DrainReport) -> None:
        now = iso(utc_now())
        with self.store.write() as conn:
            for row, message in items:
                self._dead_in(conn, row, kind=kind, code=code, message=message, now=now)
                report.dead += 1

    def _note_failure(self, failed: list[tuple[list[sqlite3.Row], str]]) -> None:
        self.failures += 1
        with self.store.write() as conn:
            # Only rows still pending: a bisection may have had part of the
            # batch acknowledged or dead-lettered before the failure. When to try again is
            # the sender's backoff, in memory (outbox.next_attempt_at stays NULL: never read).
            conn.executemany(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?"
                " WHERE seq = ? AND status = 'pending'",
                [(error[:500], r["seq"]) for rows, error in failed for r in rows])
            sync_state.mark_offline(conn, failed[0][1])

    def _credentials_rejected(self, error: str) -> None:
        now = iso(utc_now())
        with self.store.write() as conn:
            raise_alert(conn, kind="credentials", key="oms", now=now, severity="critical",
                        message="the OMS rejected this store's credentials (401/403): sending is"
                                " paused, every event is kept; fix oms.token")
            # Until the sender itself succeeds: a feed that may still read must not
            # resolve what writing proved (that would flap raise/resolve).
            sync_state.mark_offline(conn, error)
            sync_state.put(conn, credentials_rejected="1")
        log.error("credentials rejected by the OMS; events kept, retrying every %d s",
                  self.settings.sync.credentials_retry_s)

    @staticmethod
    def _mark_online(conn: sqlite3.Connection, now: str) -> None:
        sync_state.mark_online(conn, now)
        sync_state.put(conn, credentials_rejected=None)
        resolve_alert(conn, kind="credentials", key="oms", now=now)


_PLAIN_RESULT = {status: json.dumps({"status": status, "code": None, "message": None}) for status in _DONE}


def _result_json(result: EventResult) -> str:
    if result.code is None and result.message is None and result.status in _PLAIN_RESULT:
        return _PLAIN_RESULT[result.status]  # the usual answer, without encoding it each time
    return json.dumps({"status": result.status, "code": result.code, "message": result.message})
