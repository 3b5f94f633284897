"""Queue timers: on time -> nearing -> late, walked through the clock, never slept."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from agent.clock import iso, parse_iso
from agent.kpis.timers import arrival_timers, describe, open_order_timers, order_timer
from agent.orders.snapshots import apply_snapshot
from config.settings import SlaSettings
from tests.factories import snapshot

T0 = parse_iso("2026-11-23T10:00:00Z")


def _apply(store, settings, snap: dict, at: datetime) -> None:
    with store.write() as conn:
        apply_snapshot(conn, snap, status_map=settings.status_map, now=iso(at), source="feed")


def test_an_order_walks_from_on_time_to_nearing_to_late(store, settings):
    _apply(store, settings, snapshot("W1"), T0)
    sla = settings.sla  # defaults: 15 min target, nearing 5 min before
    states = {m: open_order_timers(store, sla, now=T0 + timedelta(minutes=m))[0].state
              for m in (0, 9, 10, 11, 14, 15, 40)}
    assert states == {0: "on_time", 9: "on_time", 10: "nearing", 11: "nearing", 14: "nearing",
                      15: "late", 40: "late"}
    timer = open_order_timers(store, sla, now=T0 + timedelta(minutes=18))[0]
    assert timer.target_source == "sla"
    assert timer.target_at == T0 + timedelta(minutes=15)
    assert timer.waited_s == 18 * 60
    assert timer.late_by_s == 3 * 60
    assert describe(timer) == "3 min late"


def test_a_staged_order_has_no_timer_any_more(store, settings, actions):
    _apply(store, settings, snapshot("W1"), T0)
    actions.stage("W1", bin="B-01", associate_id="A100", now=T0 + timedelta(minutes=3))
    assert open_order_timers(store, settings.sla, now=T0 + timedelta(minutes=30)) == []


def test_promised_ready_time_wins_over_the_default_target(store, settings):
    _apply(store, settings, snapshot("W1"), T0)
    # What the 1.1 snapshot model stores: the OMS's promise inside the snapshot.
    with store.write() as conn:
        snap = json.loads(conn.execute("SELECT snapshot FROM orders").fetchone()[0])
        snap["promised_ready_at"] = "2026-11-23T11:00:00Z"
        conn.execute("UPDATE orders SET snapshot = ?", (json.dumps(snap),))
    timer = open_order_timers(store, settings.sla, now=T0 + timedelta(minutes=30))[0]
    assert timer.target_source == "promised"
    assert timer.target_at == parse_iso("2026-11-23T11:00:00Z")
    assert timer.state == "on_time"  # late by the 15 min default, but not by its promise
    assert open_order_timers(store, settings.sla,
                             now=T0 + timedelta(minutes=56))[0].state == "nearing"


def test_most_urgent_first(store, settings):
    _apply(store, settings, snapshot("W-new"), T0 + timedelta(minutes=10))
    _apply(store, settings, snapshot("W-old"), T0)
    _apply(store, settings, snapshot("W-mid"), T0 + timedelta(minutes=5))
    order = [t.order_id for t in open_order_timers(store, settings.sla,
                                                   now=T0 + timedelta(minutes=12))]
    assert order == ["W-old", "W-mid", "W-new"]


def test_nearing_window_and_target_come_from_config():
    sla = SlaSettings(ready_within_min=30, nearing_min=10)
    released = "2026-11-23T10:00:00.000Z"
    at = {m: order_timer("W1", released_at=released, promised_ready_at=None, sla=sla,
                         now=T0 + timedelta(minutes=m)).state for m in (19, 20, 29, 30)}
    assert at == {19: "on_time", 20: "nearing", 29: "nearing", 30: "late"}


def test_a_curbside_arrival_starts_a_wait_clock(store, settings):
    arrival = {"arrived_at": "2026-11-23T10:02:00Z", "bay": "3", "vehicle": "blue Volvo"}
    _apply(store, settings, snapshot("W1", fulfillment="curbside", arrival=arrival), T0)
    sla = settings.sla  # curbside_wait_min = 5
    (first,) = arrival_timers(store, sla, now=T0 + timedelta(minutes=3))
    assert (first.state, first.bay, first.vehicle, first.waited_s) == ("on_time", "3", "blue Volvo", 60)
    assert arrival_timers(store, sla, now=T0 + timedelta(minutes=6, seconds=30))[0].state == "nearing"
    assert arrival_timers(store, sla, now=T0 + timedelta(minutes=7))[0].state == "late"


def test_a_1_1_snapshot_with_a_promise_sets_the_target(store, settings):
    snap = snapshot("W9")
    snap["promised_ready_at"] = "2026-11-23T10:40:00Z"
    _apply(store, settings, snap, T0)
    timer = open_order_timers(store, settings.sla, now=T0 + timedelta(minutes=20))[0]
    assert (timer.target_source, timer.target_at) == ("promised", parse_iso("2026-11-23T10:40:00Z"))
