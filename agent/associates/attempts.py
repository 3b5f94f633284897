"""Wrong attempts, counted where every terminal sees them: PINs per associate id, pickup
codes per order and per station.

A person gets a few tries; then the id, order or station is locked for a
while, each further lockout twice as long (up to ``lockout_max_s``), and an
alert tells a manager someone is guessing. The counts live in the store
database (table ``attempt_limits``), so a lockout holds across back-room
terminals, serve-ui sessions, the CLI and restarts. A right attempt clears the
count; a long quiet spell (``forget_after_h``) forgets the escalation.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta

from agent.alerts import raise_alert, resolve_alert
from agent.clock import iso, parse_iso
from config import Settings

ALERT_KIND = "lockout"


@dataclass(frozen=True)
class Policy:
    scope: str
    """What is counted: pin (per associate id), code_order, code_station."""
    max_failures: int
    lockout_s: int
    lockout_max_s: int
    forget_after_s: int
    what: str
    """How the alert names the subject: 'associate id', 'order', 'station'."""


def pin_policy(settings: Settings) -> Policy:
    sec = settings.security
    return Policy("pin", sec.pin_max_failures, sec.pin_lockout_s, sec.lockout_max_s,
                  sec.forget_after_h * 3600, "associate id")


def code_policies(settings: Settings) -> tuple[Policy, Policy]:
    """(per order, per station) for pickup codes."""
    sec = settings.security
    common = (sec.code_lockout_s, sec.lockout_max_s, sec.forget_after_h * 3600)
    return (Policy("code_order", sec.code_max_failures_per_order, *common, "order"),
            Policy("code_station", sec.code_max_failures_per_station, *common, "station"))


@dataclass(frozen=True)
class Lock:
    subject: str
    until: datetime
    policy: Policy

    def seconds_left(self, now: datetime) -> int:
        return max(1, int((self.until - now).total_seconds() + 0.999))


def _row(conn: sqlite3.Connection, policy: Policy, subject: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT failures, lockouts, locked_until, last_failure_at FROM attempt_limits"
        " WHERE scope = ? AND subject = ?", (policy.scope, subject)).fetchone()
    return row


def locked(conn: sqlite3.Connection, policy: Policy, subject: str, now: datetime) -> Lock | None:
    """The lock on ``subject`` if it holds at ``now``."""
    row = _row(conn, policy, subject)
    if row is None or row["locked_until"] is None:
        return None
    until = parse_iso(row["locked_until"])
    return Lock(subject, until, policy) if until > now else None


def record_failure(conn: sqlite3.Connection, policy: Policy, subject: str, now: datetime, *,
                   where: str = "") -> Lock | None:
    """Count a wrong attempt (inside the caller's write transaction); the new lock if this one
    reached the limit. Raises the lockout alert then."""
    row = _row(conn, policy, subject)
    failures, lockouts = (0, 0) if row is None else (row["failures"], row["lockouts"])
    if row is not None and row["last_failure_at"] is not None:
        quiet = (now - parse_iso(row["last_failure_at"])).total_seconds()
        if quiet > policy.forget_after_s:
            failures, lockouts = 0, 0
    failures += 1
    lock = None
    locked_until = row["locked_until"] if row is not None else None
    if failures >= policy.max_failures:
        seconds = min(policy.lockout_max_s, policy.lockout_s * 2 ** min(lockouts, 30))
        lock = Lock(subject, now + timedelta(seconds=seconds), policy)
        failures, lockouts, locked_until = 0, lockouts + 1, iso(lock.until)
    conn.execute(
        "INSERT INTO attempt_limits (scope, subject, failures, lockouts, locked_until, last_failure_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (scope, subject) DO UPDATE SET"
        " failures = excluded.failures, lockouts = excluded.lockouts,"
        " locked_until = excluded.locked_until, last_failure_at = excluded.last_failure_at",
        (policy.scope, subject, failures, lockouts, locked_until, iso(now)))
    if lock is not None:
        at = f" at {where}" if where else ""
        raise_alert(conn, kind=ALERT_KIND, key=f"{policy.scope}:{subject}"[:200], now=iso(now),
                    severity="critical",
                    order_id=subject if policy.scope == "code_order" else None,
                    message=f"{policy.max_failures} wrong {_noun(policy)} in a row for {policy.what}"
                            f" {subject}{at}: locked for {lock.seconds_left(now)} s (lockout"
                            f" {lockouts}); someone may be guessing")
    return lock


def record_success(conn: sqlite3.Connection, policy: Policy, subject: str, now: datetime) -> None:
    """A right attempt: the count starts again (escalation is kept until forgotten)."""
    conn.execute("UPDATE attempt_limits SET failures = 0 WHERE scope = ? AND subject = ?",
                 (policy.scope, subject))
    resolve_alert(conn, kind=ALERT_KIND, key=f"{policy.scope}:{subject}"[:200], now=iso(now))


def _noun(policy: Policy) -> str:
    return "PINs" if policy.scope == "pin" else "pickup codes"
