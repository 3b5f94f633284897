"""Rules for a long outage: the OMS silent, the token refused, the feed stuck.

They watch what the daemon records in ``sync_state`` (``last_contact_at``:
the last answer the OMS gave to anything; ``last_error``; the sender's
``credentials_rejected``; ``last_feed_success_at``) and so fire while the OMS
does not answer, which is when the pending-age rule in ``rules`` cannot. Each
turns from warning to critical at a second threshold (keys of ``[alerts]``):
the same alert, escalated in place, never a second one.

The time without contact counts from the last contact, or from the daemon's
start when it never had one. A refusal (401/403 in the last error, or the
sender's flag) is ``credentials_refused``, not ``oms_unreachable``: the fix is
another one.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime

from agent.clock import age_s
from agent.store import sync_state
from agent.store.sync_state import SyncKey
from config.settings import Settings

ESCALATING_KINDS = ("oms_unreachable", "credentials_refused", "feed_stalled")
_REFUSED = re.compile(r"\banswered 40[13]\b|\b40[13]\b.*(unauthori[sz]ed|forbidden)", re.I)


def _severity(age: float | None, warning_min: int, critical_min: int) -> str | None:
    if age is None or age < warning_min * 60:
        return None
    return "critical" if age >= critical_min * 60 else "warning"


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min"


def outage_conditions(conn: sqlite3.Connection, settings: Settings, now: datetime) -> list[
        tuple[str, str, str | None, str]]:
    """(kind, key, severity or None when it does not hold, message) for each outage rule."""
    a = settings.alerts
    state = {k.value: sync_state.get(conn, k) for k in (
        SyncKey.LAST_CONTACT_AT, SyncKey.DAEMON_STARTED_AT, SyncKey.LAST_ERROR,
        SyncKey.CREDENTIALS_REJECTED, SyncKey.LAST_FEED_SUCCESS_AT)}
    silent = age_s(state["last_contact_at"] or state["daemon_started_at"], now)
    error = state["last_error"] or ""
    refused = state["credentials_rejected"] == "1" or bool(_REFUSED.search(error))
    since = "since the daemon started" if state["last_contact_at"] is None else "for"
    out: list[tuple[str, str, str | None, str]] = []

    level = _severity(silent, a.credentials_refused_warning_min, a.credentials_refused_critical_min) \
        if refused else None
    out.append(("credentials_refused", "oms", level,
                f"the OMS has refused this store's token (401/403) {since} {_minutes(silent or 0)}:"
                " nothing is sent or received; fix oms.token or oms.token_file, then"
                " `sudo systemctl reload store-agent`"))

    level = None if refused else _severity(silent, a.oms_unreachable_warning_min,
                                           a.oms_unreachable_critical_min)
    out.append(("oms_unreachable", "oms", level,
                f"no answer from the OMS ({settings.oms.url}) {since} {_minutes(silent or 0)}"
                f"{f' (last error: {error[:200]})' if error else ''}: events wait in the outbox;"
                " check the network and the OMS, `store-agent doctor` tests the connection"))

    # Only while the OMS answers otherwise: a silent OMS is the alert above, not this one.
    stalled = age_s(state["last_feed_success_at"] or state["daemon_started_at"], now)
    reachable = silent is not None and not refused and \
        _severity(silent, a.oms_unreachable_warning_min, a.oms_unreachable_critical_min) is None
    level = _severity(stalled, a.feed_stalled_warning_min, a.feed_stalled_critical_min) \
        if reachable else None
    out.append(("feed_stalled", "feed", level,
                f"the change feed has not advanced for {_minutes(stalled or 0)} although the OMS"
                " answers: cancellations and new orders do not arrive; see the daemon's log"))
    return out


def escalate(conn: sqlite3.Connection, kind: str, key: str, severity: str, now: str) -> None:
    """Set an open alert's severity (warning -> critical, or back) without a second alert.

    The first rise to critical is stamped ``escalated_at``: the channels that take only
    critical alerts never heard of the warning, so it is announced to them then (notify).
    """
    conn.execute("UPDATE alerts SET severity = ?, escalated_at = COALESCE(escalated_at,"
                 " CASE WHEN ? = 'critical' THEN ? END) WHERE kind = ? AND key = ?"
                 " AND resolved_at IS NULL AND severity != ?",
                 (severity, severity, now, kind, key, severity))
