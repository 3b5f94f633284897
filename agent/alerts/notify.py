"""Announcing alerts: a log line, the webhook and the apprise channels when raised, when
escalated from warning to critical, and when resolved.

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

The apprise channels of ``[alerts] channels`` (agent/alerts/channels.py) get
the same text, routed by the alert's severity. Each target's delivery is
recorded on its own (alert_sends, migration m008): a retry after one target
failed goes only to those still missing the announcement.

An alert that rises from warning to critical in place (the outage rules) is
announced once more, as ``escalated`` (migration m017): the channels routed
only critical alerts (a manager's mail, a pager) hear of it for the first time,
the others learn it got worse. An alert first announced when already critical
needs no second word, and one back at warning before the news went out gets none.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from agent.alerts.channels import Channel, load_channels, send
from agent.clock import iso, parse_iso, utc_now
from agent.store.connection import Store
from config.settings import ALERT_SEVERITIES, Settings

log = logging.getLogger("store_agent.alerts")

RETRY_BASE_S = 30.0
RETRY_CAP_S = 1800.0
MAX_AGE = timedelta(hours=24)
BATCH = 20
POST_TIMEOUT_S = 10.0

Poster = Callable[[str, dict[str, Any]], Awaitable[None]]


class _WebhookFailed(Exception):
    """A POST that did not get a 2xx; internal: never leaves deliver(). Never contains the URL."""


@dataclass
class NotifyReport:
    delivered: int = 0
    failed: int = 0
    expired: int = 0


def payload(alert: dict[str, Any], event: str, settings: Settings) -> dict[str, Any]:
    state = "RESOLVED" if event == "resolved" else str(alert["severity"]).upper()
    if event == "escalated":
        state += " (escalated from warning)"
    text = f"[store-agent {settings.store_id}] {state}: {alert['message']}"
    return {
        "text": text,            # what Slack and Teams show
        "summary": text[:150],   # Teams' notification preview
        "id": f"{alert.get('uuid') or settings.store_id + '-' + str(alert['id'])}-{event}",
        "event": event,
        "store_id": settings.store_id,
        "host": socket.gethostname(),
        "alert": {k: alert.get(k) for k in ("id", "uuid", "kind", "key", "severity", "order_id", "message",
                                        "raised_at", "escalated_at", "resolved_at")},
    }


async def http_post(url: str, body: dict[str, Any]) -> None:
    async with httpx.AsyncClient(timeout=POST_TIMEOUT_S, follow_redirects=False) as client:
        try:
            response = await client.post(url, json=body)
        except httpx.HTTPError as exc:
            raise _WebhookFailed(type(exc).__name__) from None
    if not 200 <= response.status_code < 300:
        raise _WebhookFailed(f"HTTP {response.status_code}")


def _due(store: Store, now: str) -> list[dict[str, Any]]:
    return [dict(r) for r in store.conn.execute(
        "SELECT * FROM alerts WHERE (notified_at IS NULL"
        " OR (escalated_at IS NOT NULL AND escalated_notified_at IS NULL)"
        " OR (resolved_at IS NOT NULL AND resolved_notified_at IS NULL))"
        " AND (notify_next_at IS NULL OR notify_next_at <= ?) ORDER BY id LIMIT ?",
        (now, BATCH))]


def _log(alert: dict[str, Any], event: str) -> None:
    if event == "resolved":
        log.info("alert resolved: %s/%s: %s", alert["kind"], alert["key"], alert["message"])
    elif event == "escalated":
        log.error("alert escalated to critical: %s/%s: %s", alert["kind"], alert["key"],
                  alert["message"])
    else:
        level = logging.ERROR if alert["severity"] == "critical" else logging.WARNING
        log.log(level, "alert raised (%s): %s/%s: %s", alert["severity"], alert["kind"],
                alert["key"], alert["message"])


_NOTIFIED_COLUMN = {"raised": "notified_at", "escalated": "escalated_notified_at",
                    "resolved": "resolved_notified_at"}
_HAPPENED_COLUMN = {"raised": "raised_at", "escalated": "escalated_at", "resolved": "resolved_at"}


def _events(alert: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(to announce, to mark as announced without a word), in the order they happened."""
    announce = [] if alert["notified_at"] else ["raised"]
    silent = []
    if alert["escalated_at"] and not alert["escalated_notified_at"]:
        if announce or alert["severity"] != "critical":  # raised as critical, or back down
            silent.append("escalated")
        else:
            announce.append("escalated")
    if alert["resolved_at"] and not alert["resolved_notified_at"]:
        announce.append("resolved")
    return announce, silent


def _mark(store: Store, alert_id: int, event: str, stamp: str) -> None:
    column = _NOTIFIED_COLUMN[event]
    with store.write() as conn:
        conn.execute(f"UPDATE alerts SET {column} = ?, notify_attempts = 0, notify_next_at = NULL,"
                     " notify_error = NULL WHERE id = ?", (stamp, alert_id))


def _retry_later(store: Store, alert: dict[str, Any], error: str, now: datetime) -> None:
    attempts = alert["notify_attempts"] + 1
    delay = min(RETRY_CAP_S, RETRY_BASE_S * 2 ** (attempts - 1))
    with store.write() as conn:
        conn.execute("UPDATE alerts SET notify_attempts = ?, notify_next_at = ?, notify_error = ?"
                     " WHERE id = ?", (attempts, iso(now + timedelta(seconds=delay)), error[:200],
                                       alert["id"]))
    log.warning("alert delivery failed for %s/%s (%s), attempt %d; retrying in %.0f s",
                alert["kind"], alert["key"], error, attempts, delay)


@dataclass(frozen=True)
class _Target:
    key: str
    name: str
    severities: frozenset[str]
    send: Callable[[dict[str, Any], str], Awaitable[None]]


def _targets(settings: Settings, post: Poster) -> list[_Target]:
    out = []
    url = settings.alert_webhook_url()
    if url:
        async def to_webhook(alert: dict[str, Any], event: str) -> None:
            await post(url, payload(alert, event, settings))

        out.append(_Target("webhook", "webhook", frozenset(ALERT_SEVERITIES), to_webhook))
    for channel in load_channels(settings):
        async def to_channel(alert: dict[str, Any], event: str, channel: Channel = channel) -> None:
            body = payload(alert, event, settings)
            if not await send(channel, title=body["summary"], body=body["text"] + f"\n(id {body['id']})",
                              severity=str(alert["severity"]), event=event):
                raise _WebhookFailed("not delivered")

        out.append(_Target(channel.key, channel.name, channel.severities, to_channel))
    return out


def _sent(store: Store, alert_id: int, event: str) -> set[str]:
    return {r[0] for r in store.conn.execute(
        "SELECT target FROM alert_sends WHERE alert_id = ? AND event = ?", (alert_id, event))}


def _record_send(store: Store, alert_id: int, event: str, target: str, stamp: str) -> None:
    with store.write() as conn:
        conn.execute("INSERT OR IGNORE INTO alert_sends (alert_id, event, target, sent_at)"
                     " VALUES (?, ?, ?, ?)", (alert_id, event, target, stamp))


async def _announce(store: Store, alert: dict[str, Any], event: str, targets: list[_Target],
                    stamp: str) -> str | None:
    """Send to every target of the alert's severity that does not have it yet; the first error."""
    done = _sent(store, alert["id"], event)
    error = None
    for target in targets:
        if target.key in done or str(alert["severity"]) not in target.severities:
            continue
        try:
            await target.send(alert, event)
        except _WebhookFailed as exc:
            error = error or (str(exc) if target.key == "webhook" else f"{target.name}: {exc}")
            continue
        _record_send(store, alert["id"], event, target.key, stamp)
    return error


async def deliver(store: Store, settings: Settings, *, now: datetime | None = None,
                  post: Poster = http_post) -> NotifyReport:
    """Announce every alert raised or resolved since the last call (and retry due failures)."""
    now = now or utc_now()
    stamp = iso(now)
    report = NotifyReport()
    due = _due(store, stamp)
    targets = _targets(settings, post) if due else []
    for alert in due:
        events, silent = _events(alert)
        for event in silent:
            _mark(store, alert["id"], event, stamp)
        for event in events:
            happened = alert[_HAPPENED_COLUMN[event]]
            if not alert["notify_attempts"]:  # logged once, not at every retry
                _log(alert, event)
            routed = [t for t in targets if str(alert["severity"]) in t.severities]
            if routed and now - parse_iso(happened) > MAX_AGE:
                log.warning("alert %s/%s %s more than a day ago was never delivered to its channels;"
                            " dropped", alert["kind"], alert["key"], event)
                report.expired += 1
            elif routed:
                error = await _announce(store, alert, event, routed, stamp)
                if error is not None:
                    _retry_later(store, alert, error, now)
                    report.failed += 1
                    break  # "resolved" never goes out before its "raised" (nor "escalated")
                report.delivered += 1
            _mark(store, alert["id"], event, stamp)
    return report
