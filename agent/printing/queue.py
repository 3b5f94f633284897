"""The durable print queue: jobs in SQLite, printed by the daemon's worker.

Whoever wants paper (an action, the UI, ``print test``) inserts a row; only
the daemon's ``PrintWorker`` talks to printers, so a receipt survives a
printer that is off, a full queue and a restart. States: queued -> printing
-> printed, or failed with a reason.

The worker that prints them, and its at-least-once rules, is agent/printing/worker.py.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sqlite3
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from agent.clock import iso, utc_now
from agent.errors import InvalidActionError
from agent.store.connection import Store
from config.settings import Printer, Settings
from drivers.errors import ReceiptRenderError

log = logging.getLogger(__name__)

KINDS = ("receipt", "bin_label", "return_slip", "test_page", "shift_summary")
STATES = ("queued", "printing", "printed", "failed")
UNKNOWN = "unknown"


# --- queueing -----------------------------------------------------------------
def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def configured_printer(settings: Settings, printer_id: str) -> Printer | None:
    return next((p for p in settings.printers if p.id == printer_id), None)


def enqueue_in(
    conn: sqlite3.Connection,
    settings: Settings,
    kind: str,
    printer_id: str,
    payload: Mapping[str, Any] | Any,
    *,
    order_id: str | None = None,
    copy: bool = False,
    created_by: str | None = None,
    now: datetime | None = None,
) -> int:
    """Queue a job inside the caller's transaction, so it commits (or not) with the action."""
    if kind not in KINDS:
        raise InvalidActionError(f"unknown print job kind {kind!r} (one of {', '.join(KINDS)})")
    if configured_printer(settings, printer_id) is None:
        known = ", ".join(p.id for p in settings.printers) or "none configured"
        raise InvalidActionError(f"printer {printer_id!r} is not in [[printers]] (known: {known})")
    if copy and kind != "receipt":
        raise InvalidActionError("only a receipt carries a COPY marker")
    if dataclasses.is_dataclass(payload) and not isinstance(payload, type):
        payload = dataclasses.asdict(payload)
    if not isinstance(payload, Mapping):
        raise InvalidActionError(f"a print payload is a mapping, not {type(payload).__name__}")
    try:
        text = json.dumps(payload, default=_jsonable, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InvalidActionError(f"print payload cannot be stored: {exc}") from None
    stamp = iso(now or utc_now())
    cur = conn.execute(
        "INSERT INTO print_jobs (printer_id, kind, order_id, payload, copy, state, attempts,"
        " next_attempt_at, created_at, updated_at, created_by)"
        " VALUES (?, ?, ?, ?, ?, 'queued', 0, ?, ?, ?, ?)",
        (printer_id, kind, order_id, text, int(copy), stamp, stamp, stamp, created_by),
    )
    assert cur.lastrowid is not None  # an INSERT into a rowid table always has one
    return cur.lastrowid


def enqueue(
    store: Store,
    settings: Settings,
    kind: str,
    printer_id: str,
    payload: Mapping[str, Any] | Any,
    *,
    order_id: str | None = None,
    copy: bool = False,
    created_by: str | None = None,
    now: datetime | None = None,
) -> int:
    with store.write() as conn:
        return enqueue_in(conn, settings, kind, printer_id, payload, order_id=order_id, copy=copy,
                          created_by=created_by, now=now)


def enqueue_test_page(store: Store, settings: Settings, printer_id: str, *,
                      created_by: str | None = None, now: datetime | None = None) -> int:
    now = now or utc_now()
    # The time is fixed at queueing, so a retried test page has the same bytes.
    payload = {"printer_id": printer_id, "store_id": settings.store_id, "at": iso(now)}
    return enqueue(store, settings, "test_page", printer_id, payload, created_by=created_by, now=now)


def station_printer(settings: Settings, printer_id: str | None = None) -> str:
    """``printer_id`` when given, else the printer of this PC's station; refused when there is none."""
    if printer_id:
        return printer_id
    station = settings.station_by_id(settings.default_station)
    if station is None or station.printer is None:
        raise InvalidActionError(f"station {settings.default_station} has no printer:"
                                 " name one with --printer")
    return station.printer


def enqueue_bin_label(store: Store, settings: Settings, bin_id: str, *, printer_id: str | None = None,
                      created_by: str | None = None, now: datetime | None = None) -> int:
    """A label for a staging bin (large id and a Code 128 the stage dialog scans back)."""
    bin_id = bin_id.strip().upper()
    if not settings.pickup.is_bin_id(bin_id):
        raise InvalidActionError(f"bin {bin_id!r} does not match pickup.bin_pattern"
                                 f" ({settings.pickup.bin_pattern})")
    return enqueue(store, settings, "bin_label", station_printer(settings, printer_id),
                   {"bin_id": bin_id, "store_id": settings.store_id}, created_by=created_by, now=now)


def _job(conn: sqlite3.Connection, job_id: int) -> sqlite3.Row:
    row: sqlite3.Row | None = conn.execute("SELECT * FROM print_jobs WHERE id = ?", (job_id,)).fetchone()
    if row is None:
        raise InvalidActionError(f"there is no print job {job_id}")
    return row


def _public(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"], "printer_id": row["printer_id"], "kind": row["kind"],
        "order_id": row["order_id"], "state": row["state"], "attempts": row["attempts"],
        "reason": row["reason"], "created_at": row["created_at"], "printed_at": row["printed_at"],
        "copy": bool(row["copy"]), "next_attempt_at": row["next_attempt_at"],
        "printer_status": row["printer_status"], "updated_at": row["updated_at"],
        "created_by": row["created_by"],
    }


def get_job(store: Store, job_id: int) -> dict[str, Any]:
    return _public(_job(store.conn, job_id))


def list_jobs(store: Store, *, state: str | None = None, printer_id: str | None = None,
              order_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Newest first."""
    where, args = [], []
    for column, value in (("state", state), ("printer_id", printer_id), ("order_id", order_id)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    sql = "SELECT * FROM print_jobs" + (" WHERE " + " AND ".join(where) if where else "")
    sql += " ORDER BY id DESC LIMIT ?"
    return [_public(r) for r in store.conn.execute(sql, (*args, limit))]


def retry_job(store: Store, job_id: int, *, now: datetime | None = None) -> dict[str, Any]:
    """A failed job goes back to the queue with a fresh attempt budget."""
    stamp = iso(now or utc_now())
    with store.write() as conn:
        row = _job(conn, job_id)
        if row["state"] != "failed":
            raise InvalidActionError(f"print job {job_id} is {row['state']}; only a failed job"
                                     " can be retried")
        conn.execute(
            "UPDATE print_jobs SET state = 'queued', attempts = 0, next_attempt_at = ?,"
            " updated_at = ?, reason = ? WHERE id = ?",
            (stamp, stamp, f"retry requested (failed: {row['reason']})", job_id),
        )
        return _public(_job(conn, job_id))


def reprint(store: Store, settings: Settings, job_id: int, *, printer_id: str | None = None,
            created_by: str | None = None, now: datetime | None = None) -> int:
    """Queue another copy of a printed job; a receipt's copy is marked COPY."""
    with store.write() as conn:
        row = _job(conn, job_id)
        if row["state"] != "printed":
            hint = " (use retry for a failed job)" if row["state"] == "failed" else ""
            raise InvalidActionError(f"print job {job_id} is {row['state']}, not printed{hint}")
        return enqueue_in(conn, settings, row["kind"], printer_id or row["printer_id"],
                          json.loads(row["payload"]), order_id=row["order_id"],
                          copy=row["kind"] == "receipt", created_by=created_by, now=now)


def render_job(kind: str, payload: Any, *, copy: bool = False, profile: str = "default") -> bytes:
    # Imported here: python-escpos takes ~0.5 s to import, which every CLI command would pay.
    from drivers import receipts

    if kind == "receipt":
        return receipts.render_pickup_receipt({**payload, "reprint": copy}, profile)
    if kind == "bin_label":
        return receipts.render_bin_label(str(payload["bin_id"]), store_id=payload.get("store_id"),
                                         profile=profile, order_id=payload.get("order_id"),
                                         n=payload.get("n"), of=payload.get("of"))
    if kind == "return_slip":
        return receipts.render_return_slip(payload, profile)
    if kind == "test_page":
        return receipts.render_test_page(printer_id=str(payload["printer_id"]),
                                         store_id=str(payload["store_id"]), at=payload["at"],
                                         profile=profile)
    if kind == "shift_summary":
        return receipts.render_shift_summary(store_id=str(payload["store_id"]),
                                             title=str(payload["title"]),
                                             lines=[str(x) for x in payload["lines"]],
                                             at=payload["at"], profile=profile)
    raise ReceiptRenderError(f"unknown print job kind {kind!r}")


