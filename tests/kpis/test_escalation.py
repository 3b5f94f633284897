"""Escalations on a walked clock: the banner first, the alert channel only if still unfixed."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from agent.alerts import notify as alert_notify
from agent.clock import iso, parse_iso
from agent.kpis.escalation import evaluate_escalations
from agent.orders.snapshots import apply_snapshot
from config import load_settings
from tests.factories import snapshot, write_config
from tests.local_http import ThreadedApp
from tests.test_alerts import Receiver

T0 = parse_iso("2026-11-23T10:00:00Z")


def _apply(store, settings, snap: dict, at) -> None:
    with store.write() as conn:
        apply_snapshot(conn, snap, status_map=settings.status_map, now=iso(at), source="feed")


def _open(store) -> dict[tuple[str, str], str]:
    return {(r["kind"], r["key"]): r["message"] for r in store.conn.execute(
        "SELECT kind, key, message FROM alerts WHERE resolved_at IS NULL")}


def _with_webhook(tmp_path, url: str):
    return load_settings(write_config(tmp_path, extra=f'\n[alerts]\nwebhook_url = "{url}/hook"\n'),
                         environ={})


def at(minutes: float):
    return T0 + timedelta(minutes=minutes)


def test_a_late_order_goes_on_the_banner_then_to_the_channel_then_resolves(tmp_path, store, actions):
    receiver = Receiver()
    with ThreadedApp(receiver.app) as server:
        settings = _with_webhook(tmp_path, server.url)

        def tick(minutes: float):
            report = evaluate_escalations(store, settings, now=at(minutes))
            asyncio.run(alert_notify.deliver(store, settings, now=at(minutes)))
            return report

        _apply(store, settings, snapshot("W1"), T0)
        assert tick(14).raised == [] and _open(store) == {}
        assert tick(15).raised == [("order_late", "queue")]   # its 15 min target
        assert "W1" in _open(store)[("order_late", "queue")]
        assert receiver.received == []                         # the banner only, for now
        tick(19)
        assert receiver.received == []
        tick(20)                                               # [sla] channel_after_min = 5
        assert [b["event"] for b in receiver.received] == ["raised"]
        assert receiver.received[0]["alert"]["kind"] == "order_late"
        assert "5 min past its target" in receiver.received[0]["text"]

        actions.stage("W1", bin="B-1", associate_id="A100", now=at(21))
        assert tick(21).resolved == [("order_late", "queue")]
        assert [b["event"] for b in receiver.received] == ["raised", "resolved"]


def test_a_wait_fixed_while_on_the_banner_never_pages(tmp_path, store, actions):
    receiver = Receiver()
    with ThreadedApp(receiver.app) as server:
        settings = _with_webhook(tmp_path, server.url)
        arrival = {"arrived_at": iso(at(1)), "bay": "4", "vehicle": "grey Golf"}
        _apply(store, settings, snapshot("W2", fulfillment="curbside", arrival=arrival), T0)
        actions.stage("W2", bin="B-2", associate_id="A100", now=at(3))
        assert evaluate_escalations(store, settings, now=at(5)).raised == []
        assert evaluate_escalations(store, settings, now=at(6)).raised == [("curbside_wait", "W2")]
        message = _open(store)[("curbside_wait", "W2")]
        assert "bay 4, grey Golf" in message and "READY" in message
        asyncio.run(alert_notify.deliver(store, settings, now=at(8)))
        actions.pickup("W2", associate_id="A100", code="K7Q9MX", oms_confirmed=True, now=at(9))
        assert evaluate_escalations(store, settings, now=at(9)).resolved == [("curbside_wait", "W2")]
        report = asyncio.run(alert_notify.deliver(store, settings, now=at(30)))
        assert report.delivered == 0 and receiver.received == []
        row = store.conn.execute("SELECT * FROM alerts WHERE kind = 'curbside_wait'").fetchone()
        assert row["resolved_at"] == iso(at(9)) and row["notified_at"] is not None


def test_a_return_to_shelf_task_escalates_after_its_limit(store, settings, actions):
    _apply(store, settings, snapshot("W3"), T0)
    actions.stage("W3", bin="B-3", associate_id="A100", now=at(2))
    actions.cancel("W3", reason="customer_refused", associate_id="A100", now=at(10))
    assert evaluate_escalations(store, settings, now=at(39)).raised == []
    assert evaluate_escalations(store, settings, now=at(40)).raised == [("return_overdue", "W3")]
    assert "bin B-3" in _open(store)[("return_overdue", "W3")]
    actions.return_to_shelf("W3", associate_id="A100", now=at(41))
    assert evaluate_escalations(store, settings, now=at(41)).resolved == [("return_overdue", "W3")]


def test_thresholds_come_from_sla(tmp_path, store):
    settings = load_settings(write_config(tmp_path, extra="\n[sla]\nready_within_min = 30\n"
                                          "late_order_escalate_min = 10\n"), environ={})
    _apply(store, settings, snapshot("W4"), T0)
    assert evaluate_escalations(store, settings, now=at(39)).raised == []
    assert evaluate_escalations(store, settings, now=at(40)).raised == [("order_late", "queue")]
