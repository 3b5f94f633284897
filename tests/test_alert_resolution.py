"""Every event-raised alert clears when its condition clears, in the transaction that clears it.

Quarantined snapshots resolve by a newer valid snapshot or a manager; conflicts
by the OMS agreeing or a manager; cancelled_while_ready by the return to the
shelf; unknown_status with its quarantined snapshots or a fixed status map.
"""

from __future__ import annotations

import json
import sqlite3
from collections import namedtuple
from datetime import timedelta

import pytest
from prometheus_client import generate_latest

from agent.alerts import acknowledge_alert, raise_alert
from agent.alerts import rules as alert_rules
from agent.clock import iso, utc_now
from agent.errors import InvalidActionError, NotAManagerError, WrongStateError
from agent.ops.metrics import StoreMetrics
from agent.orders import dead_letters
from agent.views import queue_view
from config import load_settings
from tests.conftest import GUARDED, table_dump
from tests.factories import snapshot, write_config
from tests.test_metrics import samples, value

Usage = namedtuple("Usage", "total used free")

# Manager decisions on the command line need the manager's PIN (ui/cli/manager_pin.py).
PIN_LINE = "135700\n"
AS_MANAGER = ("--pin-stdin",)


def _manager_pin(cli) -> None:
    assert cli("associate", "set-pin", "M1", stdin=PIN_LINE).code == 0


def open_alerts(db) -> dict[tuple[str, str], dict]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return {(r["kind"], r["key"]): dict(r) for r in conn.execute(
            "SELECT * FROM alerts WHERE resolved_at IS NULL")}
    finally:
        conn.close()


def metric(settings, name: str, **labels) -> float:
    metrics = StoreMetrics(settings)
    try:
        return value(samples(generate_latest(metrics.registry).decode()), name, **labels)
    finally:
        metrics.collector.close()


def evaluate(store, settings):
    return alert_rules.evaluate(store, settings, now=utc_now(), disk_usage=lambda path: Usage(1000, 500, 500))


def _import(cli, tmp_path, *snaps):
    path = tmp_path / "snaps.json"
    path.write_text(json.dumps(list(snaps)))
    r = cli("import-snapshots", str(path))
    assert r.code == 0, r.err


# --- cancelled_while_ready --------------------------------------------------------------------
def test_return_to_shelf_resolves_cancelled_while_ready(cli, tmp_path, settings):
    """The reported case: after `order return`, status and metrics still showed the alert."""
    db = settings.storage.path
    _import(cli, tmp_path, snapshot("W1000017"), snapshot("W2", code="ZZ9ZZ9"))
    for order_id, bin_ in (("W1000017", "B-07"), ("W2", "B-08")):
        assert cli("order", "stage", order_id, "--bin", bin_, "--as", "A100").code == 0
    _import(cli, tmp_path, snapshot("W1000017", version=2, status="cancelled"),
            snapshot("W2", version=2, status="cancelled", code="ZZ9ZZ9"))
    alerts = cli("status", "--json").json()["alerts"]
    assert sorted((a["kind"], a["order_id"], a["severity"]) for a in alerts) == [
        ("cancelled_while_ready", "W1000017", "critical"), ("cancelled_while_ready", "W2", "critical")]
    assert metric(settings, "store_agent_open_alerts", severity="critical") == 2

    r = cli("order", "return", "W1000017", "--as", "A100")
    assert r.code == 0, r.err
    alerts = cli("status", "--json").json()["alerts"]
    assert [(a["kind"], a["order_id"]) for a in alerts] == [("cancelled_while_ready", "W2")]
    assert metric(settings, "store_agent_open_alerts", severity="critical") == 1
    # Resolved, so the webhook announces the resolution (tracked on the row).
    conn = sqlite3.connect(db)
    resolved_at, done_at = conn.execute(
        "SELECT a.resolved_at, t.done_at FROM alerts a JOIN return_tasks t ON t.order_id = a.order_id"
        " WHERE a.key = 'W1000017'").fetchone()
    conn.close()
    assert resolved_at is not None and resolved_at == done_at  # one transaction, one stamp

    assert cli("order", "return", "W2", "--as", "A100").code == 0
    assert cli("status", "--json").json()["alerts"] == []
    assert metric(settings, "store_agent_open_alerts", severity="critical") == 0


def test_a_refused_return_resolves_nothing(seed, actions, store):
    seed(snapshot("W1"))
    actions.stage("W1", bin="B-07", associate_id="A100")
    seed(snapshot("W1", version=2, status="cancelled"))
    with pytest.raises(Exception, match="not in the roster"):
        actions.return_to_shelf("W1", associate_id="GHOST")
    assert ("cancelled_while_ready", "W1") in open_alerts(store.path)


# --- quarantine -----------------------------------------------------------------------------
def test_newer_or_same_version_supersedes_the_quarantined_snapshot(seed, store, settings):
    seed(snapshot("W1"), snapshot("W2"))
    assert seed(snapshot("W1", version=2, status="on_hold"))["quarantined"] == 1
    assert seed(snapshot("W2", version=4, status="on_hold"))["quarantined"] == 1
    assert {("quarantine", "snapshots"), ("unknown_status", "on_hold")} <= set(open_alerts(store.path))
    assert metric(settings, "store_agent_quarantined_snapshots") == 2

    # The OMS sends W1 again at the same version with a status the map knows.
    assert seed(snapshot("W1", version=2, status="ready_for_pickup"))["applied"] == 1
    assert [r["order_id"] for r in store.conn.execute(
        "SELECT order_id FROM quarantine WHERE resolved_at IS NULL")] == ["W2"]
    # W2 still waits with the same unknown status: both alerts stay.
    assert {("quarantine", "snapshots"), ("unknown_status", "on_hold")} <= set(open_alerts(store.path))

    # An older valid version of W2 does not supersede its quarantined v4.
    assert seed(snapshot("W2", version=3, status="ready_for_pickup"))["applied"] == 1
    assert metric(settings, "store_agent_quarantined_snapshots") == 1
    assert seed(snapshot("W2", version=5, status="ready_for_pickup"))["applied"] == 1
    assert metric(settings, "store_agent_quarantined_snapshots") == 0
    alerts = open_alerts(store.path)
    assert ("quarantine", "snapshots") not in alerts and ("unknown_status", "on_hold") not in alerts
    assert metric(settings, "store_agent_open_alerts", severity="warning") == 0

    [resolution] = [r for r in store.conn.execute(
        "SELECT * FROM received_changes WHERE order_id = 'W2' AND outcome = 'quarantine_resolved'")]
    assert "quarantined v4 superseded by valid v5" in resolution["detail"]
    assert resolution["source"] == "feed" and resolution["version"] == 5


def test_a_quarantined_snapshot_without_a_readable_version_waits_for_a_manager(seed, store):
    seed(snapshot("W1"))
    broken = snapshot("W1", version=2)
    broken["version"] = "two"
    assert seed(broken)["quarantined"] == 1
    assert seed(snapshot("W1", version=7, status="ready_for_pickup"))["applied"] == 1
    assert store.conn.execute("SELECT COUNT(*) FROM quarantine WHERE resolved_at IS NULL"
                              ).fetchone()[0] == 1
    assert ("quarantine", "snapshots") in open_alerts(store.path)


def test_another_orders_snapshot_resolves_nothing(seed, store):
    seed(snapshot("W1", version=3, status="on_hold"))  # a new order, quarantined
    seed(snapshot("W2", version=9))
    assert store.conn.execute("SELECT COUNT(*) FROM quarantine WHERE resolved_at IS NULL"
                              ).fetchone()[0] == 1
    # Its first valid snapshot creates the order and supersedes the quarantined one.
    assert seed(snapshot("W1", version=3))["applied"] == 1
    assert store.conn.execute("SELECT COUNT(*) FROM quarantine WHERE resolved_at IS NULL"
                              ).fetchone()[0] == 0


def test_quarantine_resolve_by_a_manager(cli, tmp_path, settings):
    db = settings.storage.path
    _import(cli, tmp_path, snapshot("W1", status="teleported"), {"order_id": "W2", "version": "x"})
    _manager_pin(cli)
    rows = cli("quarantine", "list", "--json").json()
    assert [r["order_id"] for r in rows] == ["W1", "W2"]
    first, second = rows[0]["id"], rows[1]["id"]
    before = table_dump(db, *GUARDED, "received_changes")
    for args in (("--reason", "fixed at the OMS", "--as", "A100"),  # not a manager
                 ("--reason", "   ", "--as", "M1"),  # no reason
                 ("--reason", "fixed", "--as", "GHOST")):
        r = cli("quarantine", "resolve", str(first), *args, *AS_MANAGER, stdin=PIN_LINE)
        assert r.code == 3 and "Traceback" not in r.err and len(r.err.splitlines()) == 1, r.err
    r = cli("quarantine", "resolve", "999", "--reason", "fixed", "--as", "M1", *AS_MANAGER, stdin=PIN_LINE)
    assert r.code == 3 and "not an unresolved quarantined snapshot" in r.err
    assert cli("quarantine", "resolve", "one", "--reason", "fixed", "--as", "M1").code == 2
    assert table_dump(db, *GUARDED, "received_changes") == before

    r = cli("quarantine", "resolve", str(first), "--reason", "order deleted at the OMS", "--as", "M1",
            "--json", *AS_MANAGER, stdin=PIN_LINE)
    assert r.code == 0, r.err
    out = r.json()
    assert (out["id"], out["order_id"], out["resolved_by"], out["resolution"],
            out["quarantined_left"]) == (first, "W1", "M1", "order deleted at the OMS", 1)
    assert [r["id"] for r in cli("quarantine", "list", "--json").json()] == [second]
    status = cli("status", "--json").json()
    assert status["quarantined"] == 1
    kinds = {a["kind"] for a in status["alerts"]}
    assert "quarantine" in kinds and "unknown_status" not in kinds  # nothing 'teleported' is left
    [entry] = [e for e in cli("audit", "W1", "--json").json() if e["direction"] == "resolution"]
    assert entry["outcome"] == "quarantine_resolved" and entry["source"] == "manager"
    assert "resolved by M1: order deleted at the OMS" in entry["detail"]
    assert cli("quarantine", "resolve", str(first), "--reason", "again", "--as", "M1", *AS_MANAGER,
               stdin=PIN_LINE).code == 3

    r = cli("quarantine", "resolve", str(second), "--reason", "garbage from a test system", "--as", "M1",
            *AS_MANAGER, stdin=PIN_LINE)
    assert r.code == 0 and "0 left" in r.out, r.err
    assert cli("quarantine", "list", "--json").json() == []
    assert not cli("status", "--json").json()["alerts"]
    assert metric(settings, "store_agent_quarantined_snapshots") == 0
    assert metric(settings, "store_agent_open_alerts", severity="warning") == 0


# --- conflicts ------------------------------------------------------------------------------
@pytest.fixture
def conflicted(seed, actions, store):
    """W1 handed over in store, then cancelled at the OMS before the pickup reached it."""
    seed(snapshot("W1"))
    actions.stage("W1", bin="B-07", associate_id="A100")
    actions.pickup("W1", associate_id="A100", code="K7Q9MX", oms_confirmed=True)
    assert seed(snapshot("W1", version=2, status="cancelled"))["conflict"] == 1
    assert ("conflict", "W1") in open_alerts(store.path)
    return "W1"


def test_conflict_settles_when_the_oms_agrees(conflicted, seed, store, settings):
    # Still disagreeing: a newer cancelled version keeps the conflict (and its one alert).
    assert seed(snapshot("W1", version=3, status="cancelled"))["conflict"] == 1
    assert store.conn.execute("SELECT COUNT(*) FROM alerts WHERE kind = 'conflict'").fetchone()[0] == 1
    assert seed(snapshot("W1", version=4, status="picked_up"))["applied"] == 1
    order = store.conn.execute("SELECT state, conflict FROM orders WHERE order_id = 'W1'").fetchone()
    assert (order["state"], order["conflict"]) == ("PICKED_UP", None)
    assert ("conflict", "W1") not in open_alerts(store.path)
    assert queue_view.queue(store)["exceptions"]["count"] == 0
    [row] = store.conn.execute("SELECT * FROM received_changes WHERE outcome = 'conflict_resolved'")
    assert "the OMS now agrees: picked_up (v4)" in row["detail"] and row["source"] == "feed"


def test_resolve_conflict_needs_a_manager_and_a_note(conflicted, store, settings):
    with pytest.raises(NotAManagerError):
        dead_letters.resolve_conflict(store, settings, "W1", manager_id="A100", note="called")
    with pytest.raises(InvalidActionError):
        dead_letters.resolve_conflict(store, settings, "W1", manager_id="M1", note=" ")
    assert store.conn.execute("SELECT conflict FROM orders").fetchone()[0] is not None
    r = dead_letters.resolve_conflict(store, settings, "W1", manager_id="M1",
                                      note="customer called, charged again")
    assert r["state"] == "PICKED_UP" and r["was"].startswith("cancelled at the OMS")
    with pytest.raises(WrongStateError):
        dead_letters.resolve_conflict(store, settings, "W1", manager_id="M1", note="twice")


def test_resolve_conflict_cli(cli, tmp_path, settings):
    _import(cli, tmp_path, snapshot("W1"), snapshot("W2", code="ZZ9ZZ9"))
    _manager_pin(cli)
    assert cli("order", "stage", "W1", "--bin", "B-07", "--as", "A100").code == 0
    r = cli("order", "pickup", "W1", "--code", "K7Q9MX", "--as", "A100", "--override-by", "M1",
            *AS_MANAGER, stdin=PIN_LINE)
    assert r.code == 0, r.err
    _import(cli, tmp_path, snapshot("W1", version=2, status="cancelled"))
    assert cli("orders", "--json").json()[0]["conflict"]
    assert [a["kind"] for a in cli("status", "--json").json()["alerts"]] == ["conflict"]

    db = settings.storage.path
    before = table_dump(db, *GUARDED, "received_changes")
    for who, order in (("A100", "W1"), ("M1", "W2"), ("M1", "W404")):  # not a manager, no conflict, unknown
        assert cli("order", "resolve-conflict", order, "--note", "called", "--as", who, *AS_MANAGER,
                   stdin=PIN_LINE).code == 3
    assert table_dump(db, *GUARDED, "received_changes") == before

    r = cli("order", "resolve-conflict", "W1", "--note", "customer called, charged again",
            "--as", "M1", "--json", *AS_MANAGER, stdin=PIN_LINE)
    assert r.code == 0, r.err
    assert r.json()["resolved_by"] == "M1" and r.json()["conflict"] is None
    show = cli("order", "show", "W1", "--json").json()
    assert show["conflict"] is None and show["state"] == "PICKED_UP"
    assert cli("status", "--json").json()["alerts"] == []
    assert metric(settings, "store_agent_open_alerts", severity="critical") == 0
    [entry] = [e for e in cli("audit", "W1", "--json").json() if e["direction"] == "resolution"]
    assert entry["what"] == "conflict resolved" and entry["outcome"] == "conflict_resolved"
    assert "resolved by M1: customer called, charged again" in entry["detail"]


# --- the 30 s rules as a safety net -----------------------------------------------------------
def test_rules_resolve_event_alerts_whose_condition_cleared(seed, actions, store, settings):
    """Alerts left open by an older version (or a bug) close; those still true stay."""
    seed(snapshot("W1"), snapshot("W2"), snapshot("W3"))
    for order_id in ("W1", "W2"):
        actions.stage(order_id, bin=f"B-{order_id}", associate_id="A100")
    seed(snapshot("W1", version=2, status="cancelled"), snapshot("W2", version=2, status="cancelled"),
         snapshot("W3", version=2, status="on_hold"))
    now = iso(utc_now())
    with store.write() as conn:
        # What an older version left behind: W1's items went back, nothing resolved the alert;
        # a conflict and an unknown status that no longer hold.
        conn.execute("UPDATE return_tasks SET state = 'DONE' WHERE order_id = 'W1'")
        raise_alert(conn, kind="conflict", key="W3", order_id="W3", now=now, message="old")
        raise_alert(conn, kind="unknown_status", key="paused", order_id="W3", now=now, message="old")
    report = evaluate(store, settings)
    assert sorted(report.resolved) == [("cancelled_while_ready", "W1"), ("conflict", "W3"),
                                       ("unknown_status", "paused")]
    assert report.raised == []
    alerts = open_alerts(store.path)
    assert {("cancelled_while_ready", "W2"), ("unknown_status", "on_hold"),
            ("quarantine", "snapshots")} <= set(alerts)
    assert alerts[("unknown_status", "on_hold")]["message"].startswith("the OMS sent status")
    assert evaluate(store, settings).resolved == []  # stable


def test_fixing_the_status_map_resolves_unknown_status(tmp_path, seed, store, settings):
    seed(snapshot("W1"))
    seed(snapshot("W1", version=2, status="on_hold"))
    assert evaluate(store, settings).resolved == []
    fixed = load_settings(write_config(tmp_path, extra=(
        '\n[status_map]\nreleased = "TO_PICK"\nready_for_pickup = "READY"\npicked_up = "PICKED_UP"\n'
        'cancelled = "CANCELLED"\non_hold = "TO_PICK"\n')), environ={})
    assert evaluate(store, fixed).resolved == [("unknown_status", "on_hold")]
    # The snapshot itself still waits, and says so, until its order comes again.
    assert ("quarantine", "snapshots") in open_alerts(store.path)
    from agent.orders.ingest import ingest_snapshots

    out = ingest_snapshots(store, [snapshot("W1", version=2, status="on_hold")],
                           status_map=fixed.status_map, source="reconcile")
    assert out["applied"] == 1
    assert open_alerts(store.path) == {}


# --- what the UI reads ----------------------------------------------------------------------
def test_open_alerts_for_the_ui(seed, actions, store, settings):
    seed(snapshot("W1"), snapshot("W2", version=1, status="on_hold"))
    actions.stage("W1", bin="B-07", associate_id="A100")
    seed(snapshot("W1", version=2, status="cancelled"))
    evaluate(store, settings)
    everything = queue_view.open_alerts(store, kinds=None, include_acknowledged=True)
    assert [(a["kind"], a["severity"]) for a in everything] == [
        ("cancelled_while_ready", "critical"), ("unknown_status", "warning"), ("quarantine", "warning")]
    assert all(a["message"] and a["key"] for a in everything)
    assert set(everything[0]) == {"id", "kind", "key", "order_id", "severity", "message", "raised_at",
                                  "acknowledged_at", "acknowledged_by"}
    # The default is what the banner rings for: unacknowledged cancellations only.
    assert [a["kind"] for a in queue_view.open_alerts(store)] == ["cancelled_while_ready"]
    with store.write() as conn:
        acknowledge_alert(conn, everything[0]["id"], "A100", iso(utc_now()))
    assert queue_view.open_alerts(store) == []
    assert len(queue_view.open_alerts(store, kinds=None)) == 2
    acked = queue_view.open_alerts(store, kinds=None, include_acknowledged=True)[0]
    assert acked["acknowledged_by"] == "A100"
    actions.return_to_shelf("W1", associate_id="A100")
    assert [a["kind"] for a in queue_view.open_alerts(store, kinds=None, include_acknowledged=True)
            ] == ["unknown_status", "quarantine"]


def test_alert_resolution_is_stamped_with_the_clearing_time(seed, actions, store):
    seed(snapshot("W1"))
    actions.stage("W1", bin="B-07", associate_id="A100")
    seed(snapshot("W1", version=2, status="cancelled"))
    later = utc_now() + timedelta(minutes=5)
    actions.return_to_shelf("W1", associate_id="A100", now=later)
    resolved = store.conn.execute("SELECT resolved_at FROM alerts WHERE kind = 'cancelled_while_ready'"
                                  ).fetchone()[0]
    assert resolved == iso(later)
