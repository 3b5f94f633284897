"""Alert rules fire and resolve on a walked clock; the webhook gets each one once, with retry."""

from __future__ import annotations

import asyncio
import json
from collections import namedtuple
from datetime import timedelta

import pytest
from aiohttp import web

from agent.alerts import notify as alert_notify
from agent.alerts import rules as alert_rules
from agent.clock import iso, utc_now
from agent.orders import dead_letters
from agent.store import sync_state
from config import load_settings
from tests.factories import write_config
from tests.local_http import ThreadedApp

Usage = namedtuple("Usage", "total used free")
ROOMY = lambda path: Usage(1000, 500, 500)  # noqa: E731


def open_alerts(store) -> dict[tuple[str, str], dict]:
    return {(r["kind"], r["key"]): dict(r) for r in store.conn.execute(
        "SELECT * FROM alerts WHERE resolved_at IS NULL")}


def evaluate(store, settings, now, disk=ROOMY):
    return alert_rules.evaluate(store, settings, now=now, disk_usage=disk)


@pytest.fixture
def staged(seed, actions, store):
    """One order staged: one pending event."""
    seed(seed.snapshot("W1"))
    actions.stage("W1", bin="B-1", associate_id="A100")
    return store.conn.execute("SELECT seq FROM outbox").fetchone()[0]


def test_dead_letter_unresolved_for_15_min(store, settings, staged):
    t0 = utc_now()
    with store.write() as conn:
        conn.execute("UPDATE outbox SET status = 'dead', dead_kind = 'rejected', dead_at = ?",
                     (iso(t0),))
    evaluate(store, settings, t0 + timedelta(minutes=14))
    assert ("dead_letter_overdue", "outbox") not in open_alerts(store)
    report = evaluate(store, settings, t0 + timedelta(minutes=16))
    assert report.raised == [("dead_letter_overdue", "outbox")]
    assert "order W1" in open_alerts(store)[("dead_letter_overdue", "outbox")]["message"]
    event_id = store.conn.execute("SELECT event_id FROM outbox").fetchone()[0]
    dead_letters.discard(store, settings, event_id, manager_id="M1", reason="duplicate")
    report = evaluate(store, settings, t0 + timedelta(minutes=17))
    assert report.resolved == [("dead_letter_overdue", "outbox")]


def test_pending_too_old_while_the_oms_answers(store, settings, staged):
    t0 = utc_now()
    with store.write() as conn:
        conn.execute("UPDATE outbox SET occurred_at = ?", (iso(t0),))
        sync_state.put(conn, last_contact_at=iso(t0 + timedelta(minutes=11)), last_error="HTTP 500")
    later = t0 + timedelta(minutes=11, seconds=30)
    assert evaluate(store, settings, later).raised == [("pending_age", "outbox")]
    alert = open_alerts(store)[("pending_age", "outbox")]
    assert alert["severity"] == "critical" and "HTTP 500" in alert["message"]
    # The OMS stops answering: the outbox waiting is expected then, not this alert's business.
    assert evaluate(store, settings, later + timedelta(minutes=5)).resolved == [("pending_age", "outbox")]
    with store.write() as conn:
        sync_state.put(conn, last_contact_at=iso(later + timedelta(minutes=5)))
    assert evaluate(store, settings, later + timedelta(minutes=5)).raised == [("pending_age", "outbox")]
    with store.write() as conn:
        conn.execute("UPDATE outbox SET status = 'acked', acked_at = ?", (iso(later),))
    assert evaluate(store, settings, later + timedelta(minutes=5)).resolved == [("pending_age", "outbox")]


def test_thresholds_are_configurable(tmp_path, store, staged):
    path = write_config(tmp_path, extra="\n[alerts]\npending_age_min = 1\n")
    settings = load_settings(path, environ={})
    t0 = utc_now()
    with store.write() as conn:
        conn.execute("UPDATE outbox SET occurred_at = ?", (iso(t0),))
        sync_state.put(conn, last_contact_at=iso(t0 + timedelta(seconds=90)))
    assert evaluate(store, settings, t0 + timedelta(seconds=100)).raised == [("pending_age", "outbox")]


def test_printer_not_ready_for_5_min(store, settings):
    t0 = utc_now()
    with store.write() as conn:
        sync_state.put(conn, **{"printer:counter": json.dumps(
            {"status": "paper_out", "since": iso(t0), "reason": "printer is out of paper"})})
    assert not evaluate(store, settings, t0 + timedelta(minutes=4)).raised
    assert evaluate(store, settings, t0 + timedelta(minutes=5)).raised == [("printer", "counter")]
    assert "out of paper" in open_alerts(store)[("printer", "counter")]["message"]
    with store.write() as conn:
        sync_state.put(conn, **{"printer:counter": json.dumps(
            {"status": "ready", "since": iso(t0 + timedelta(minutes=6)), "reason": None})})
    assert evaluate(store, settings, t0 + timedelta(minutes=7)).resolved == [("printer", "counter")]


def test_disk_under_10_percent(store, settings):
    full = lambda path: Usage(1000, 950, 50)  # noqa: E731
    now = utc_now()
    assert evaluate(store, settings, now, disk=full).raised == [("disk", "database")]
    assert "5.0 %" in open_alerts(store)[("disk", "database")]["message"]
    assert evaluate(store, settings, now, disk=ROOMY).resolved == [("disk", "database")]


def test_quarantine_not_empty_and_emptied(store, settings, seed):
    seed({"order_id": "BAD", "version": "x"})
    assert ("quarantine", "snapshots") in open_alerts(store)  # raised by the feed itself
    evaluate(store, settings, utc_now())
    assert ("quarantine", "snapshots") in open_alerts(store)
    with store.write() as conn:
        conn.execute("UPDATE quarantine SET resolved_at = ?", (iso(utc_now()),))
    assert evaluate(store, settings, utc_now()).resolved == [("quarantine", "snapshots")]


def test_reconciliation_mismatches_per_hour(store, settings):
    t0 = utc_now()
    with store.write() as conn:
        for i in range(6):
            conn.execute("INSERT INTO received_changes (source, order_id, outcome, detail, received_at)"
                         " VALUES ('reconcile', ?, 'finding:missed_change', '', ?)", (f"W{i}", iso(t0)))
    assert evaluate(store, settings, t0).raised == [("reconciliation", "mismatches")]
    assert open_alerts(store)[("reconciliation", "mismatches")]["severity"] == "critical"
    assert evaluate(store, settings, t0 + timedelta(minutes=61)).resolved == [
        ("reconciliation", "mismatches")]


def _contact(store, **state) -> None:
    with store.write() as conn:
        sync_state.put(conn, **state)


def test_an_unreachable_oms_warns_after_5_min_and_turns_critical_after_30(store, settings):
    t0 = utc_now()
    _contact(store, daemon_started_at=iso(t0 - timedelta(hours=1)), last_contact_at=iso(t0),
             last_feed_success_at=iso(t0), last_error="GET /changes: connection refused")
    assert evaluate(store, settings, t0 + timedelta(minutes=4, seconds=59)).raised == []
    assert evaluate(store, settings, t0 + timedelta(minutes=5)).raised == [("oms_unreachable", "oms")]
    alert = open_alerts(store)[("oms_unreachable", "oms")]
    assert alert["severity"] == "warning" and "connection refused" in alert["message"]
    assert "5 min" in alert["message"]
    assert evaluate(store, settings, t0 + timedelta(minutes=29)).raised == []
    assert open_alerts(store)[("oms_unreachable", "oms")]["severity"] == "warning"
    assert evaluate(store, settings, t0 + timedelta(minutes=30)).raised == []  # the same alert...
    escalated = open_alerts(store)[("oms_unreachable", "oms")]
    assert escalated["id"] == alert["id"] and escalated["severity"] == "critical"  # ...escalated
    assert ("feed_stalled", "feed") not in open_alerts(store)  # a silent OMS is one alert
    back = t0 + timedelta(minutes=31)
    _contact(store, last_contact_at=iso(back), last_feed_success_at=iso(back), last_error=None)
    assert evaluate(store, settings, back).resolved == [("oms_unreachable", "oms")]


def test_a_daemon_that_never_reached_the_oms_counts_from_its_start(store, settings):
    t0 = utc_now()
    _contact(store, daemon_started_at=iso(t0), last_error="connect timeout")
    assert evaluate(store, settings, t0 + timedelta(minutes=6)).raised == [("oms_unreachable", "oms")]
    assert "since the daemon started" in open_alerts(store)[("oms_unreachable", "oms")]["message"]


def test_refused_credentials_warn_after_1_min_and_turn_critical_after_10(store, settings):
    t0 = utc_now()
    _contact(store, daemon_started_at=iso(t0 - timedelta(hours=1)), last_contact_at=iso(t0),
             last_feed_success_at=iso(t0),
             last_error='GET /changes answered 401: {"error": "unauthorized"}')
    assert evaluate(store, settings, t0 + timedelta(seconds=59)).raised == []
    assert evaluate(store, settings, t0 + timedelta(minutes=1)).raised == [("credentials_refused", "oms")]
    assert open_alerts(store)[("credentials_refused", "oms")]["severity"] == "warning"
    evaluate(store, settings, t0 + timedelta(minutes=10))
    alerts = open_alerts(store)
    assert alerts[("credentials_refused", "oms")]["severity"] == "critical"
    assert ("oms_unreachable", "oms") not in alerts  # refused is not unreachable: another fix
    _contact(store, last_contact_at=iso(t0 + timedelta(minutes=11)), last_error=None)
    assert evaluate(store, settings, t0 + timedelta(minutes=11)).resolved == [
        ("credentials_refused", "oms")]


def test_a_feed_that_stops_advancing_while_the_oms_answers(store, settings):
    t0 = utc_now()
    _contact(store, daemon_started_at=iso(t0 - timedelta(hours=1)), last_feed_success_at=iso(t0))
    for minutes, expected in ((9, None), (10, "warning"), (30, "critical")):
        now = t0 + timedelta(minutes=minutes)
        _contact(store, last_contact_at=iso(now))  # the sender and heartbeat still get answers
        evaluate(store, settings, now)
        got = open_alerts(store).get(("feed_stalled", "feed"))
        assert (got and got["severity"]) == expected, (minutes, got)
    _contact(store, last_feed_success_at=iso(t0 + timedelta(minutes=31)))
    assert evaluate(store, settings, t0 + timedelta(minutes=31)).resolved == [("feed_stalled", "feed")]


def test_outage_thresholds_come_from_the_config_and_critical_never_precedes_warning(tmp_path):
    from config import ConfigError

    path = write_config(tmp_path, extra="\n[alerts]\noms_unreachable_warning_min = 2\n"
                                         "oms_unreachable_critical_min = 3\n")
    assert load_settings(path, environ={}).alerts.oms_unreachable_critical_min == 3
    path = write_config(tmp_path, extra="\n[alerts]\nfeed_stalled_warning_min = 20\n"
                                         "feed_stalled_critical_min = 5\n")
    with pytest.raises(ConfigError, match="feed_stalled_critical_min"):
        load_settings(path, environ={})


# --- the webhook ----------------------------------------------------------------------------
class Receiver:
    def __init__(self, fail_first: int = 0):
        self.fail_first = fail_first
        self.calls = 0
        self.received: list[dict] = []
        self.app = web.Application()
        self.app.router.add_post("/hook", self.hook)

    async def hook(self, request):
        self.calls += 1
        if self.calls <= self.fail_first:
            return web.Response(status=500, text="try later")
        self.received.append(await request.json())
        return web.Response(text="ok")


def test_webhook_retries_after_500_and_delivers_each_once(tmp_path, store):
    receiver = Receiver(fail_first=1)
    with ThreadedApp(receiver.app) as server:
        path = write_config(tmp_path, extra=f'\n[alerts]\nwebhook_url = "{server.url}/hook"\n')
        settings = load_settings(path, environ={})
        t0 = utc_now()
        evaluate(store, settings, t0, disk=lambda p: Usage(1000, 990, 10))

        report = asyncio.run(alert_notify.deliver(store, settings, now=t0))
        assert (report.delivered, report.failed) == (0, 1) and receiver.received == []
        row = store.conn.execute("SELECT * FROM alerts WHERE kind = 'disk'").fetchone()
        assert row["notify_attempts"] == 1 and row["notify_error"] == "HTTP 500"
        # Not due yet: nothing is sent before the backoff elapses.
        assert asyncio.run(alert_notify.deliver(store, settings, now=t0)).delivered == 0

        report = asyncio.run(alert_notify.deliver(store, settings, now=t0 + timedelta(seconds=31)))
        assert report.delivered == 1
        (body,) = receiver.received
        assert body["event"] == "raised" and body["store_id"] == "S042"
        assert body["text"].startswith("[store-agent S042] CRITICAL:")
        assert body["alert"]["kind"] == "disk" and body["id"].endswith("-raised")

        # Deduplicated: the condition persists, nothing new is announced.
        evaluate(store, settings, t0 + timedelta(minutes=1), disk=lambda p: Usage(1000, 990, 10))
        asyncio.run(alert_notify.deliver(store, settings, now=t0 + timedelta(minutes=1)))
        assert len(receiver.received) == 1

        evaluate(store, settings, t0 + timedelta(minutes=2))
        asyncio.run(alert_notify.deliver(store, settings, now=t0 + timedelta(minutes=2)))
        assert [b["event"] for b in receiver.received] == ["raised", "resolved"]
        assert receiver.received[1]["text"].startswith("[store-agent S042] RESOLVED:")
        assert asyncio.run(alert_notify.deliver(store, settings,
                                                now=t0 + timedelta(minutes=3))).delivered == 0


def test_without_webhook_alerts_are_logged_once(store, settings, caplog):
    evaluate(store, settings, utc_now(), disk=lambda p: Usage(1000, 990, 10))
    with caplog.at_level("INFO", logger="store_agent.alerts"):
        asyncio.run(alert_notify.deliver(store, settings))
        asyncio.run(alert_notify.deliver(store, settings))
    assert sum("alert raised (critical): disk/database" in r.getMessage() for r in caplog.records) == 1
