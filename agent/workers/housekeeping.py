"""Periodic facts the daemon reports: the heartbeat body and the no-show scan."""

from __future__ import annotations

from typing import Any

from agent.alerts import raise_alert, resolve_alert
from agent.clock import iso, utc_now
from agent.oms import agent_version
from agent.store import sync_state
from agent.store.connection import Store
from agent.store.sync_state import SyncKey
from agent.views import queries
from config.vocabulary import OPEN_STATES, sql_in
from sync.models import API_VERSION


def heartbeat_body(store: Store, devices: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    s = queries.status(store)
    conn = store.conn
    mismatches = sync_state.get(conn, SyncKey.MISMATCHES_LAST_HOUR)
    return {
        "agent_version": agent_version(),
        "sent_at": iso(utc_now()),
        "outbox": s["outbox"],
        "feed": {"cursor": sync_state.get(conn, SyncKey.CURSOR),
                 "last_change_at": sync_state.get(conn, SyncKey.LAST_CHANGE_AT)},
        "devices": devices or [],
        "reconciliation": {"last_run_at": sync_state.get(conn, SyncKey.LAST_RECONCILE_AT),
                           "mismatches_last_hour": int(mismatches or 0)},
        "api_version": API_VERSION,
    }


def scan_no_shows(store: Store) -> list[str]:
    """Open orders past hold_until: alerted once each; associates decide what to do."""
    now = iso(utc_now())
    with store.write() as conn:
        late = [r[0] for r in conn.execute(
            f"SELECT order_id FROM orders WHERE state IN {sql_in(OPEN_STATES)}"
            " AND hold_until IS NOT NULL AND hold_until < ?", (now,))]
        for order_id in late:
            raise_alert(conn, kind="no_show", key=order_id, order_id=order_id, now=now,
                        message=f"order {order_id} is past its hold: a no-show; cancel it with"
                                " reason no_show when the customer is not coming")
        for (key,) in conn.execute("SELECT key FROM alerts WHERE kind = 'no_show'"
                                   " AND resolved_at IS NULL").fetchall():
            if key not in late:
                resolve_alert(conn, kind="no_show", key=key, now=now)
    return late
