"""Announcing alerts: a log line and a webhook POST when an alert is raised, and again when resolved.

Deduplication comes from the alerts table itself: one open alert per (kind,
key), so a condition that persists is one announcement, not one per check.
Delivery is tracked on the alert row (migration m003): a restart forgets no
undelivered announcement, and a failed POST is retried with exponential
backoff (30 s doubling to 30 min). Delivery is at least once: a crash between
the POST and its bookkeeping repeats that one, so each payload carries an
``id`` a receiver can deduplicate on. Announcements older than a day are
dropped with a log line: a webhook fixed after a week must not page people
with stale news.

The payload works as a Slack or Teams incoming webhook (both show ``text``)
and carries structured fields for anything smarter. The webhook URL often
embeds a secret, so it never appears in a log line or an error.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from agent.clock import iso, parse_iso, utc_now
from agent.store.connection import Store
from config.settings import Settings

log = logging.getLogger("store_agent.alerts")

RETRY_BASE_S = 30.0
RETRY_CAP_S = 1800.0
MAX_AGE = timedelta(hours=24)
BATCH = 20
POST_TIMEOUT_S = 10.0

Poster = Callable[[str, dict], Awaitable[None]]


class _WebhookFailed(Exception):
    """A POST that did not get a 2xx; internal: never leaves deliver(). Never contains the URL."""


@dataclass
class NotifyReport:
    delivered: int = 0
    failed: int = 0
    expired: int = 0


def payload(alert: dict, event: str, settings: Settings) -> dict:
    state = "RESOLVED" if event == "resolved" else str(alert["severity"]).upper()
    text = f"[store-agent {settings.store_id}] {state}: {alert['message']}"
    return {
        "text": text,            # what Slack and Teams show
        "summary": text[:150],   # Teams' notification preview
        "id": f"{alert.get('uuid') or settings.store_id + '-' + str(alert['id'])}-{event}",
        "event": event,
        "store_id": settings.store_id,
        "host": socket.gethostname(),
        "alert": {k: alert.get(k) for k in ("id", "uuid", "kind", "key", "severity", "order_id", "message",
                                        "raised_at", "resolved_at")},
    }


async def http_post(url: str, body: dict) -> None:
    async with httpx.AsyncClient(timeout=POST_TIMEOUT_S, follow_redirects=False) as client:
        try:
            response = await client.post(url, json=body)
        except httpx.HTTPError as exc:
            raise _WebhookFailed(type(exc).__name__) from None
    if not 200 <= response.status_code < 300:
        raise _WebhookFailed(f"HTTP {response.status_code}")


def _due(store: Store, now: str) -> list[dict]:
    return [dict(r) for r in store.conn.execute(
        "SELECT * FROM alerts WHERE (notified_at IS NULL"
        " OR (resolved_at IS NOT NULL AND resolved_notified_at IS NULL))"
        " AND (notify_next_at IS NULL OR notify_next_at <= ?) ORDER BY id LIMIT ?",
        (now, BATCH))]


def _log(alert: dict, event: str) -> None:
    if event == "resolved":
        log.info("alert resolved: %s/%s: %s", alert["kind"], alert["key"], alert["message"])
    else:
        level = logging.ERROR if alert["severity"] == "critical" else logging.WARNING
        log.log(level, "alert raised (%s): %s/%s: %s", alert["severity"], alert["kind"],
                alert["key"], alert["message"])


def _mark(store: Store, alert_id: int, event: str, stamp: str) -> None:
    column = "resolved_notified_at" if event == "resolved" else "notified_at"
    with store.write() as conn:
        conn.execute(f"UPDATE alerts SET {column} = ?, notify_attempts = 0, notify_next_at = NULL,"
                     " notify_error = NULL WHERE id = ?", (stamp, alert_id))


def _retry_later(store: Store, alert: dict, error: str, now: datetime) -> None:
    attempts = alert["notify_attempts"] + 1
    delay = min(RETRY_CAP_S, RETRY_BASE_S * 2 ** (attempts - 1))
    with store.write() as conn:
        conn.execute("UPDATE alerts SET notify_attempts = ?, notify_next_at = ?, notify_error = ?"
                     " WHERE id = ?", (attempts, iso(now + timedelta(seconds=delay)), error[:200],
                                       alert["id"]))
    log.warning("alert webhook failed for %s/%s (%s), attempt %d; retrying in %.0f s",
                alert["kind"], alert["key"], error, attempts, delay)


async def deliver(store: Store, settings: Settings, *, now: datetime | None = None,
                  post: Poster = http_post) -> NotifyReport:
    """Announce every alert raised or resolved since the last call (and retry due failures)."""
    now = now or utc_now()
    stamp = iso(now)
    url = settings.alert_webhook_url()
    report = NotifyReport()
    for alert in _due(store, stamp):
        events = [] if alert["notified_at"] else ["raised"]
        if alert["resolved_at"] and not alert["resolved_notified_at"]:
            events.append("resolved")
        for event in events:
            happened = alert["resolved_at"] if event == "resolved" else alert["raised_at"]
            if not alert["notify_attempts"]:  # logged once, not at every retry
                _log(alert, event)
            if url and now - parse_iso(happened) > MAX_AGE:
                log.warning("alert %s/%s %s more than a day ago was never delivered to the webhook;"
                            " dropped", alert["kind"], alert["key"], event)
                report.expired += 1
            elif url:
                try:
                    await post(url, payload(alert, event, settings))
                except _WebhookFailed as exc:
                    _retry_later(store, alert, str(exc), now)
                    report.failed += 1
                    break  # "resolved" never goes out before its "raised"
                report.delivered += 1
            _mark(store, alert["id"], event, stamp)
    return report
