"""apprise alert channels against real receivers on 127.0.0.1: an SMTP server and a JSON webhook."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller

from agent.alerts import notify as alert_notify
from agent.alerts import raise_alert, resolve_alert
from agent.alerts import rules as alert_rules
from agent.alerts.outage_rules import escalate
from agent.clock import iso, parse_iso, utc_now
from agent.store import sync_state
from config import load_settings
from config.errors import ConfigError
from tests.factories import free_port, write_config
from tests.local_http import ThreadedApp
from tests.test_alerts import ROOMY, Receiver

T0 = parse_iso("2026-11-23T10:00:00Z")
SECRET = "s3cret-pass"


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], str]] = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's handler hook
        self.messages.append((envelope.mail_from, envelope.rcpt_tos,
                              envelope.content.decode("utf-8", "replace")))
        return "250 OK"


@pytest.fixture
def smtp():
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.port = controller.port
    yield box
    controller.stop()


def _settings(tmp_path, smtp_port: int, hook_url: str):
    mail = (f"critical=mailto://127.0.0.1:{smtp_port}?from=agent@store.example"
            "&to=manager@store.example&mode=insecure")
    hook = hook_url.replace("http://", f"json://agent:{SECRET}@")
    extra = f'\n[alerts]\nchannels = ["{mail}", "warning,critical={hook}/hook"]\n'
    return load_settings(write_config(tmp_path, extra=extra), environ={})


def _raise(store, kind: str, severity: str, at, message: str) -> None:
    with store.write() as conn:
        raise_alert(conn, kind=kind, key="k", message=message, now=iso(at), severity=severity)


def test_each_alert_reaches_the_channels_of_its_severity(tmp_path, store, smtp, caplog):
    receiver = Receiver()
    caplog.set_level(logging.DEBUG)
    with ThreadedApp(receiver.app) as server:
        settings = _settings(tmp_path, smtp.port, server.url)
        _raise(store, "order_late", "warning", T0, "3 orders late to pick")
        _raise(store, "disk", "critical", T0, "only 2 % free")
        report = asyncio.run(alert_notify.deliver(store, settings, now=T0))
        assert (report.delivered, report.failed) == (2, 0)

        # The warning went to the webhook only; the critical one to both.
        assert [b["message"].split(": ", 1)[1].split("\n")[0] for b in receiver.received] == [
            "3 orders late to pick", "only 2 % free"]
        assert receiver.received[1]["type"] == "failure"
        ((sender, rcpts, mail),) = smtp.messages
        assert (sender, rcpts) == ("agent@store.example", ["manager@store.example"])
        assert "only 2 % free" in mail and "CRITICAL" in mail

        with store.write() as conn:
            resolve_alert(conn, kind="disk", key="k", now=iso(T0 + timedelta(minutes=1)))
        asyncio.run(alert_notify.deliver(store, settings, now=T0 + timedelta(minutes=1)))
        assert len(smtp.messages) == 2 and "RESOLVED" in smtp.messages[1][2]
        assert receiver.received[2]["type"] == "success"
    # What the agent and apprise logged (not the test's own SMTP server): no secret, no address.
    ours = [r for r in caplog.records if r.name.startswith(("store_agent", "apprise"))]
    logged = "\n".join(r.getMessage() for r in ours)
    assert SECRET not in logged and "manager@store.example" not in logged
    assert f":{smtp.port}" not in logged and f":{server.port}" not in logged
    assert all(SECRET not in r.getMessage() for r in caplog.records)


def test_a_failing_channel_is_retried_alone(tmp_path, store, smtp):
    receiver = Receiver(fail_first=1)
    with ThreadedApp(receiver.app) as server:
        settings = _settings(tmp_path, smtp.port, server.url)
        _raise(store, "disk", "critical", T0, "only 2 % free")
        report = asyncio.run(alert_notify.deliver(store, settings, now=T0))
        assert (report.delivered, report.failed) == (0, 1)
        assert len(smtp.messages) == 1 and receiver.received == []
        row = store.conn.execute("SELECT notify_error FROM alerts").fetchone()
        assert row[0] == "channel 2 (json): not delivered"  # named by position, never by URL

        report = asyncio.run(alert_notify.deliver(store, settings, now=T0 + timedelta(seconds=31)))
        assert report.delivered == 1
        assert len(receiver.received) == 1
        assert len(smtp.messages) == 1  # the mail was not sent twice


def test_an_outage_escalated_to_critical_reaches_the_critical_only_channel_once(tmp_path, store, smtp):
    """The OMS silent for 5 min warns (webhook only); at 30 min the same alert turns critical:
    the manager's mail (critical only) hears of it then, the webhook learns it got worse, and
    neither hears of it again while it stays critical."""
    receiver = Receiver()
    t0 = utc_now()
    with store.write() as conn:
        sync_state.put(conn, daemon_started_at=iso(t0 - timedelta(hours=1)), last_contact_at=iso(t0),
                       last_feed_success_at=iso(t0), last_error="GET /changes: connection refused")
    with ThreadedApp(receiver.app) as server:
        settings = _settings(tmp_path, smtp.port, server.url)

        def minute(m: int) -> None:
            at = t0 + timedelta(minutes=m)
            alert_rules.evaluate(store, settings, now=at, disk_usage=ROOMY)
            asyncio.run(alert_notify.deliver(store, settings, now=at))

        minute(5)
        (warned,) = receiver.received
        assert warned["title"].startswith("[store-agent S042] WARNING: no answer from the OMS")
        assert smtp.messages == []  # the mail takes critical alerts only
        minute(29)
        assert len(receiver.received) == 1 and smtp.messages == []
        minute(30)
        ((_, _, mail),) = smtp.messages
        assert "CRITICAL (escalated from warning)" in mail and "no answer from the OMS" in mail
        assert len(receiver.received) == 2
        assert receiver.received[1]["title"].startswith("[store-agent S042] CRITICAL (escalated")
        minute(31)
        minute(45)
        assert len(smtp.messages) == 1 and len(receiver.received) == 2  # news once, not per check
        with store.write() as conn:
            sync_state.put(conn, last_contact_at=iso(t0 + timedelta(minutes=46)),
                           last_feed_success_at=iso(t0 + timedelta(minutes=46)), last_error=None)
        minute(46)
        assert len(smtp.messages) == 2 and "RESOLVED" in smtp.messages[1][2]
        row = store.conn.execute("SELECT * FROM alerts WHERE kind = 'oms_unreachable'").fetchone()
        sends = store.conn.execute("SELECT event, count(*) FROM alert_sends WHERE alert_id = ?"
                                   " GROUP BY event ORDER BY event", (row["id"],)).fetchall()
        assert [tuple(r) for r in sends] == [("escalated", 2), ("raised", 1), ("resolved", 2)]


def test_an_alert_first_announced_as_critical_is_not_announced_again_as_escalated(tmp_path, store, smtp):
    """Warning and critical within one delivery pass: one announcement, already critical."""
    receiver = Receiver()
    with ThreadedApp(receiver.app) as server:
        settings = _settings(tmp_path, smtp.port, server.url)
        _raise(store, "oms_unreachable", "warning", T0, "no answer from the OMS")
        with store.write() as conn:
            escalate(conn, "oms_unreachable", "k", "critical", iso(T0 + timedelta(seconds=30)))
        asyncio.run(alert_notify.deliver(store, settings, now=T0 + timedelta(minutes=1)))
        asyncio.run(alert_notify.deliver(store, settings, now=T0 + timedelta(minutes=2)))
        ((_, _, mail),) = smtp.messages
        assert "CRITICAL" in mail and "escalated" not in mail
        assert [b["title"].split(":")[0] for b in receiver.received] == ["[store-agent S042] CRITICAL"]


def test_a_bad_channel_entry_is_a_config_error_that_does_not_quote_it(tmp_path):
    extra = f'\n[alerts]\nchannels = ["pager=json://u:{SECRET}@127.0.0.1/x"]\n'
    with pytest.raises(ConfigError) as err:
        load_settings(write_config(tmp_path, extra=extra), environ={})
    text = "\n".join(err.value.problems)
    assert "alerts.channels" in text and "unknown severity pager" in text
    assert SECRET not in text


def test_apprise_log_lines_are_withheld(caplog):
    import agent.alerts.channels  # noqa: F401  (installs the filter)

    with caplog.at_level(logging.DEBUG):
        logging.getLogger("apprise").warning("Failed to send to json://agent:%s@10.0.0.9/x", SECRET)
        logging.getLogger("apprise").info("Sent Email to %s", "manager@store.example")
    (record,) = [r for r in caplog.records if r.name == "apprise"]
    assert SECRET not in record.getMessage() and "withheld" in record.getMessage()


def test_channel_urls_are_scrubbed_from_a_support_bundle(tmp_path):
    from agent.ops.support_bundle import _secrets, scrub

    settings = _settings(tmp_path, 2525, "http://127.0.0.1:8080")
    secrets = _secrets(settings, tmp_path / "none.db")
    line = f"a log line that quoted json://agent:{SECRET}@127.0.0.1:8080/hook by mistake"
    assert SECRET not in scrub(line, secrets)


def test_a_url_apprise_cannot_use_is_said_once_and_its_alerts_wait(tmp_path, store, caplog):
    extra = '\n[alerts]\nchannels = ["nosuchservice://token@somewhere"]\n'
    settings = load_settings(write_config(tmp_path, extra=extra), environ={})
    _raise(store, "disk", "critical", T0, "only 2 % free")
    with caplog.at_level(logging.INFO, logger="store_agent.alerts"):
        for seconds in (0, 31, 95):
            asyncio.run(alert_notify.deliver(store, settings, now=T0 + timedelta(seconds=seconds)))
    said = [r.getMessage() for r in caplog.records if "apprise cannot use" in r.getMessage()]
    assert said == ["alert channel 1 (nosuchservice): apprise cannot use this URL (unknown scheme or"
                    " missing parts); see docs/monitoring.md#alert-channels"]
    row = store.conn.execute("SELECT notified_at, notify_error, notify_attempts FROM alerts").fetchone()
    assert row[0] is None and row[1] == "channel 1 (nosuchservice): not delivered" and row[2] == 3
