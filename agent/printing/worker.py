"""The print worker: the only code that talks to printers, run by the daemon.

At least once. The claim (queued -> printing) commits before a byte is
sent, so a crash mid-job leaves the job ``printing`` and the next worker puts
it back in the queue: it may print twice. The repeat is not marked COPY: the
interrupted print may have stopped half-way, and then the repeat is the
customer's only complete receipt. Two originals beat none.

Waiting is not failing. A printer that is out of paper, open, offline, not
answering or unreachable received none of the job, so the job stays queued,
visible with the printer's reason and ``next_attempt_at``, and is tried again
with capped exponential backoff per printer for as long as it takes: the
receipt comes out when the roll is changed. ``attempts`` counts only sends
that may have reached the printer (bytes went out but were not confirmed, or
a crash while printing); after ``max_attempts`` of those the job fails rather
than print fragments forever. A payload that cannot be rendered, or a printer
no longer configured, fails at once. ``printed`` is recorded only when the
transport says ``PrintOutcome.printed``.

Jobs print in order per printer: any due job of a printer wakes its oldest
queued job, so a new job also makes a waiting printer be tried again at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from agent.clock import iso, utc_now
from agent.printing.queue import UNKNOWN, configured_printer, render_job
from agent.store import sync_state
from agent.store.connection import Store
from agent.store.sync_state import DeviceKind
from config.settings import Printer, Settings
from drivers.errors import DeviceConfigError, DeviceError, ReceiptRenderError
from drivers.printer_transport import PrinterStatus, PrintOutcome, Transport, make_transport

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 30.0
PROBE_INTERVAL_S = 30.0
MISCONFIGURED = "misconfigured"

STATUS_TEXT = {
    PrinterStatus.PAPER_NEAR_END: "paper is running low",
    PrinterStatus.PAPER_OUT: "printer is out of paper",
    PrinterStatus.COVER_OPEN: "printer cover is open",
    PrinterStatus.OFFLINE: "printer is offline (error, cutter jam or feed button)",
    PrinterStatus.NOT_ANSWERING: "printer not answering",
    PrinterStatus.UNREACHABLE: "printer cannot be reached",
}
_INTERRUPTED = "the agent stopped while this job was printing; printed again, check for a duplicate"

TransportFactory = Callable[[str, str], Transport]


@dataclasses.dataclass(frozen=True)
class PrinterState:
    status: str
    since: str | None
    reason: str | None

    def as_json(self) -> dict[str, Any]:
        return {"status": self.status, "since": self.since, "reason": self.reason}


class PrintWorker:
    """Prints queued jobs. One per database: run it only in the daemon, under its lock.

    Give it a Store of its own: ``run()`` uses it from a worker thread, and a
    connection's transactions must not interleave with another thread's.
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        transport_factory: TransportFactory = make_transport,
        max_attempts: int = MAX_ATTEMPTS,
        backoff_base_s: float = BACKOFF_BASE_S,
        backoff_cap_s: float = BACKOFF_CAP_S,
        probe_interval_s: float | None = PROBE_INTERVAL_S,
        clock: Callable[[], datetime] = utc_now,
    ):
        if backoff_base_s <= 0 or max_attempts < 1:
            raise ValueError("backoff_base_s must be > 0 and max_attempts >= 1")
        self.store, self.settings = store, settings
        self.max_attempts = max_attempts
        self._factory = transport_factory
        self._base, self._cap = backoff_base_s, backoff_cap_s
        self._probe_interval = probe_interval_s
        self._clock = clock
        self._transports: dict[str, Transport] = {}
        self._failures: dict[str, int] = {}
        self._checked: dict[str, float] = {}
        self._lock = threading.Lock()
        self._states: dict[str, PrinterState] = {}
        self._recovered = False
        self._stop: asyncio.Event | None = None
        self._halt = threading.Event()

    # --- printer status ---------------------------------------------------------
    def printer_states(self) -> dict[str, PrinterState]:
        with self._lock:
            return dict(self._states)

    def _set_state(self, conn: sqlite3.Connection, printer_id: str, status: str,
                   reason: str | None, stamp: str) -> None:
        with self._lock:
            old = self._states.get(printer_id)
            since = old.since if old is not None and old.status == status else stamp
            new = PrinterState(status, since, reason)
            if new == old:
                return
            self._states[printer_id] = new
        sync_state.put_device(conn, DeviceKind.PRINTER, printer_id, new.as_json())

    def recover(self, now: datetime | None = None) -> int:
        """Requeue jobs a crash left ``printing``; load and tidy the stored printer states."""
        stamp = iso(now or self._clock())
        configured = {p.id for p in self.settings.printers}
        with self.store.write() as conn:
            n = conn.execute(
                "UPDATE print_jobs SET attempts = attempts + 1, updated_at = ?, next_attempt_at = ?,"
                " state = CASE WHEN attempts + 1 >= ? THEN 'failed' ELSE 'queued' END,"
                " reason = CASE WHEN attempts + 1 >= ? THEN 'gave up after ' || (attempts + 1)"
                " || ' attempts: ' || ? ELSE ? END WHERE state = 'printing'",
                (stamp, stamp, self.max_attempts, self.max_attempts, _INTERRUPTED, _INTERRUPTED),
            ).rowcount
            for printer_id, stored in sync_state.device_states(conn, DeviceKind.PRINTER).items():
                if printer_id not in configured:
                    sync_state.delete_device(conn, DeviceKind.PRINTER, printer_id)
                    continue
                with contextlib.suppress(ValueError, TypeError, KeyError), self._lock:
                    self._states[printer_id] = PrinterState(stored["status"], stored.get("since"),
                                                            stored.get("reason"))
            for printer_id in sorted(configured - set(self._states)):
                self._set_state(conn, printer_id, UNKNOWN, None, stamp)
        if n:
            log.warning("print queue: %d job(s) interrupted by a stop are queued again", n)
        self._recovered = True
        return n

    # --- one pass -----------------------------------------------------------------
    def run_once(self, now: datetime | None = None) -> int:
        """Print every job due at ``now``; returns how many jobs were tried."""
        now = now or self._clock()
        t0 = time.monotonic()

        def at() -> datetime:  # due-ness follows `now`; stamps follow the real time spent
            return now + timedelta(seconds=time.monotonic() - t0)

        if not self._recovered:
            self.recover(now)
        tried = 0
        while not self._stopping():
            job = self._claim(now)
            if job is None:
                break
            tried += 1
            self._process(job, at)
        self._probe_idle(at)
        return tried

    def _claim(self, now: datetime) -> sqlite3.Row | None:
        with self.store.write() as conn:
            due = conn.execute(
                "SELECT printer_id FROM print_jobs WHERE state = 'queued' AND next_attempt_at <= ?"
                " ORDER BY next_attempt_at, id LIMIT 1", (iso(now),)
            ).fetchone()
            if due is None:
                return None
            job: sqlite3.Row | None = conn.execute(
                "SELECT * FROM print_jobs WHERE state = 'queued' AND printer_id = ?"
                " ORDER BY id LIMIT 1", (due[0],)
            ).fetchone()
            if job is None:
                return None
            conn.execute("UPDATE print_jobs SET state = 'printing', updated_at = ? WHERE id = ?",
                         (iso(now), job["id"]))
            return job

    def _process(self, job: sqlite3.Row, at: Callable[[], datetime]) -> None:
        printer = configured_printer(self.settings, job["printer_id"])
        if printer is None:
            self._fail(job, f"printer {job['printer_id']!r} is no longer configured", at())
            return
        try:
            data = render_job(job["kind"], json.loads(job["payload"]), copy=bool(job["copy"]),
                              profile=printer.profile)
            transport = self._transport(printer)
        except DeviceConfigError as exc:
            # The printer's config, not the job, is wrong: wait for a fixed config and a restart.
            self._wait(job, MISCONFIGURED, f"printer {printer.id} is misconfigured: {exc}", at())
            return
        except (ReceiptRenderError, KeyError, TypeError, ValueError) as exc:
            self._fail(job, f"cannot render this {job['kind']}: {type(exc).__name__}: {exc}", at())
            return
        self._checked[printer.id] = time.monotonic()
        try:
            outcome = transport.print_job(data)
        except DeviceError as exc:
            outcome = PrintOutcome(False, PrinterStatus.UNREACHABLE, 0, len(data), str(exc))
        except Exception as exc:  # a bug in a transport: bytes may have gone out, so it counts
            log.exception("print job %s: transport failed", job["id"])
            outcome = PrintOutcome(False, PrinterStatus.NOT_ANSWERING, len(data), len(data),
                                   f"unexpected error while printing: {type(exc).__name__}: {exc}")
        self._settle(job, outcome, at())

    def _transport(self, printer: Printer) -> Transport:
        if printer.id not in self._transports:
            self._transports[printer.id] = self._factory(printer.kind, printer.address)
        return self._transports[printer.id]

    def _backoff(self, printer_id: str) -> float:
        n = self._failures.get(printer_id, 0) + 1
        self._failures[printer_id] = n
        return float(min(self._base * 2 ** min(n - 1, 30), self._cap))

    def _fail(self, job: sqlite3.Row, reason: str, t: datetime) -> None:
        stamp = iso(t)
        with self.store.write() as conn:
            conn.execute("UPDATE print_jobs SET state = 'failed', reason = ?, updated_at = ?"
                         " WHERE id = ?", (reason, stamp, job["id"]))
        log.warning("print job %s failed: %s", job["id"], reason)

    def _settle(self, job: sqlite3.Row, outcome: PrintOutcome, t: datetime) -> None:
        stamp, printer_id, status = iso(t), job["printer_id"], outcome.status.value
        if outcome.printed:
            self._failures[printer_id] = 0
            with self.store.write() as conn:
                conn.execute(
                    "UPDATE print_jobs SET state = 'printed', attempts = attempts + 1, printed_at = ?,"
                    " updated_at = ?, reason = ?, printer_status = ? WHERE id = ?",
                    (stamp, stamp, outcome.warning, status, job["id"]),
                )
                self._set_state(conn, printer_id, status, outcome.warning, stamp)
            return
        generic = STATUS_TEXT.get(outcome.status, status)
        if outcome.bytes_sent == 0:
            self._wait(job, status, outcome.reason or generic, t)
            return
        # Bytes went out unconfirmed: the printer may hold part of the job, so this counts.
        attempts = job["attempts"] + 1
        reason = outcome.reason or generic
        give_up = attempts >= self.max_attempts
        if give_up:
            reason = f"gave up after {attempts} attempts: {reason}"
        self._wait(job, status, reason, t, attempts=attempts, others_reason=generic, give_up=give_up)

    def _wait(self, job: sqlite3.Row, status: str, reason: str, t: datetime, *,
              attempts: int | None = None, others_reason: str | None = None,
              give_up: bool = False) -> None:
        """Back to the queue (or failed), with the rest of this printer's queue behind it."""
        stamp, printer_id = iso(t), job["printer_id"]
        retry_at = iso(t + timedelta(seconds=self._backoff(printer_id)))
        with self.store.write() as conn:
            conn.execute(
                "UPDATE print_jobs SET state = ?, attempts = ?, next_attempt_at = ?,"
                " updated_at = ?, reason = ?, printer_status = ? WHERE id = ?",
                ("failed" if give_up else "queued", job["attempts"] if attempts is None else attempts,
                 retry_at, stamp, reason, status, job["id"]),
            )
            conn.execute(
                "UPDATE print_jobs SET next_attempt_at = ?, updated_at = ?, reason = ?,"
                " printer_status = ? WHERE printer_id = ? AND state = 'queued' AND id != ?",
                (retry_at, stamp, f"waiting: {others_reason or reason}", status, printer_id,
                 job["id"]),
            )
            self._set_state(conn, printer_id, status, others_reason or reason, stamp)
        if give_up:
            log.warning("print job %s failed: %s", job["id"], reason)

    def _probe_idle(self, at: Callable[[], datetime]) -> None:
        """Ask idle printers for their status, so a screen shows paper out before a job does."""
        if self._probe_interval is None or self._stopping():
            return
        waiting = {r[0] for r in self.store.conn.execute(
            "SELECT DISTINCT printer_id FROM print_jobs WHERE state = 'queued'")}
        for printer in self.settings.printers:
            last = self._checked.get(printer.id)
            if printer.id in waiting or (last is not None
                                         and time.monotonic() - last < self._probe_interval):
                continue
            self._checked[printer.id] = time.monotonic()
            try:
                found = self._transport(printer).status()
                status, reason = found.value, STATUS_TEXT.get(found)
            except DeviceConfigError as exc:
                status, reason = MISCONFIGURED, str(exc)
            except DeviceError as exc:
                status, reason = PrinterStatus.UNREACHABLE.value, str(exc)
            with self.store.write() as conn:
                self._set_state(conn, printer.id, status, reason, iso(at()))

    # --- the loop -------------------------------------------------------------------
    def _stopping(self) -> bool:
        return self._halt.is_set() or (self._stop is not None and self._stop.is_set())

    async def run(self, stop_event: asyncio.Event, *, interval_s: float = 1.0) -> None:
        """Print until ``stop_event`` is set or the task is cancelled.

        A job being sent is finished and recorded first (a thread cannot be
        interrupted, and its Store must outlive it); no further job is started.
        """
        self._stop = stop_event
        await asyncio.to_thread(self.recover)
        while not stop_event.is_set():
            pass_ = asyncio.ensure_future(asyncio.to_thread(self.run_once))
            try:
                await asyncio.shield(pass_)
            except asyncio.CancelledError:
                self._halt.set()
                with contextlib.suppress(Exception):
                    await pass_
                raise
            except Exception:  # the store may be busy or a printer odd: the queue is durable
                log.exception("print worker: pass failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_event.wait(), interval_s)

    def devices(self) -> list[dict[str, Any]]:
        """Printer health for the heartbeat (sync.models.DeviceHealth)."""
        return [{"id": pid, "kind": "printer", "status": st.status}
                for pid, st in sorted(self.printer_states().items())]
