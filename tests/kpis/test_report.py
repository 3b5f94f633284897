"""KPIs on a hand-built history; every expected value is worked out by hand below.

The history, on 2026-11-23 (UTC), [sla] ready_within_min = 15; the report covers 10:00-14:00.

| order | released | READY (by)    | end                                   | notes                          |
|-------|----------|---------------|---------------------------------------|--------------------------------|
| W1    | 10:00    | 10:10 (A100)  | picked up 10:30 by A100               | 600 s, on time                 |
| W2    | 10:00    | 10:20 (M1)    | picked up 10:33 by M1                 | 1200 s, late; arrived 10:25    |
| W3    | 10:05    | 10:35 (A100)  | cancelled no_show 11:00, shelf 11:12  | 1800 s, late; short pick       |
| W4    | 10:10    | 10:14 (A100)  | OMS cancels 11:30, hold ran out 11:00 | 240 s, on time; a no-show      |
| W5    | 10:20    | 10:50 (A100)  | cancelled customer_refused 11:40,     | 1800 s, on time by its promise |
|       |          |               | shelf 11:50                           | (promised_ready_at 11:00)      |
| W6    | 13:00    | -             | -                                     | still to pick                  |
| W7    | 09:00    | 10:05 (M1)    | picked up 10:06 by A100               | 3900 s, late; released before  |
| W8    | 10:30    | -             | cancelled item_unavailable 10:40      | never READY: not in conversion |
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from agent.clock import iso, parse_iso
from agent.kpis.report import report
from agent.orders.snapshots import apply_snapshot
from tests.factories import snapshot

DAY = "2026-11-23T"


def at(hhmm: str):
    return parse_iso(f"{DAY}{hhmm}:00Z")


def _apply(store, settings, snap: dict, hhmm: str) -> None:
    with store.write() as conn:
        apply_snapshot(conn, snap, status_map=settings.status_map, now=iso(at(hhmm)), source="feed")


@pytest.fixture
def history(store, settings, actions):
    return build_history(store, settings, actions)


def build_history(store, settings, actions):
    """The history of the table above (also drawn by tests/ui/make_screenshots.py)."""

    def release(order_id: str, hhmm: str, **kw) -> None:
        _apply(store, settings, snapshot(order_id, **kw), hhmm)

    def stage(order_id: str, hhmm: str, who: str, picked: dict | None = None) -> None:
        actions.stage(order_id, bin=f"B-{order_id[1:]}", associate_id=who, picked=picked,
                      now=at(hhmm))

    def pickup(order_id: str, hhmm: str, who: str) -> None:
        actions.pickup(order_id, associate_id=who, code="K7Q9MX", oms_confirmed=True, now=at(hhmm))

    release("W7", "09:00")
    release("W1", "10:00")
    release("W2", "10:00", fulfillment="curbside")
    release("W3", "10:05")
    release("W4", "10:10", hold_until=f"{DAY}11:00:00Z")
    release("W5", "10:20")
    with store.write() as conn:  # what a 1.1 snapshot carries: the OMS's promise
        conn.execute("UPDATE orders SET snapshot = json_set(snapshot, '$.promised_ready_at',"
                     " '2026-11-23T11:00:00Z') WHERE order_id = 'W5'")
    release("W8", "10:30")
    release("W6", "13:00")

    stage("W7", "10:05", "M1")
    pickup("W7", "10:06", "A100")
    stage("W1", "10:10", "A100")
    stage("W4", "10:14", "A100")
    stage("W2", "10:20", "M1")
    _apply(store, settings, snapshot("W2", version=2, status="ready_for_pickup", fulfillment="curbside",
                                     arrival={"arrived_at": f"{DAY}10:25:00Z", "bay": "2",
                                              "vehicle": "red van"}), "10:25")
    pickup("W1", "10:30", "A100")
    pickup("W2", "10:33", "M1")
    stage("W3", "10:35", "A100", picked={"L1": 1})  # one unit of L1 not found
    actions.cancel("W8", reason="item_unavailable", associate_id="A100", now=at("10:40"))
    stage("W5", "10:50", "A100")
    actions.cancel("W3", reason="no_show", associate_id="A100", now=at("11:00"))
    actions.return_to_shelf("W3", associate_id="A100", now=at("11:12"))
    _apply(store, settings, snapshot("W4", version=2, status="cancelled",
                                     hold_until=f"{DAY}11:00:00Z"), "11:30")
    actions.cancel("W5", reason="customer_refused", associate_id="A100", now=at("11:40"))
    actions.return_to_shelf("W5", associate_id="A100", now=at("11:50"))
    return store


def test_kpis_of_the_hand_built_history(history, settings):
    r = report(history, at("10:00"), at("14:00"), settings.sla)
    assert r["from"] == "2026-11-23T10:00:00.000Z" and r["to"] == "2026-11-23T14:00:00.000Z"
    assert r["orders_released"] == 7           # all but W7 (released at 09:00)
    assert r["orders_ready"] == 6              # W1 W2 W3 W4 W5 W7
    assert r["orders_picked_up"] == 3          # W1 W2 W7
    # Released -> READY: 240 600 1200 1800 1800 3900 s.
    # avg 9540 / 6 = 1590; p50 at rank 2.5: 1200 + 0.5 * 600 = 1500;
    # p90 at rank 4.5: 1800 + 0.5 * 2100 = 2850.
    assert r["fulfillment_time_s"] == {"avg": 1590.0, "p50": 1500.0, "p90": 2850.0}
    # On time: W1 (10 min), W4 (4 min), W5 (before its 11:00 promise); late: W2, W3, W7.
    assert r["on_time_ready_rate"] == 0.5
    # Ends after READY: picked up W1 W2 W7; cancelled W3 (no_show), W4 (no-show: the OMS
    # cancelled after the hold), W5 (customer_refused). W8 was never READY.
    assert r["pickup_conversion"] == 0.5       # 3 / 6
    assert r["no_show_rate"] == 0.3333         # 2 / 6
    assert r["curb_wait_s"] == {"avg": 480.0, "p90": 480.0}  # W2: 10:25 -> 10:33
    assert r["short_pick_rate"] == 0.1667      # W3 of the 6 READY
    # Back on the shelf: W3 12 min, W5 10 min: avg 660; p90 at rank 0.9: 600 + 0.9 * 120.
    assert r["cancel_to_shelf_s"] == {"avg": 660.0, "p90": 708.0}
    assert r["by_associate"] == [
        # A100 staged W1 W3 W4 W5: (600 + 1800 + 240 + 1800) / 4; handed over W1 and W7.
        {"associate_id": "A100", "staged": 4, "picked_up": 2, "fulfillment_time_s": {"avg": 1110.0}},
        # M1 staged W2 W7: (1200 + 3900) / 2; handed over W2.
        {"associate_id": "M1", "staged": 2, "picked_up": 1, "fulfillment_time_s": {"avg": 2550.0}},
    ]


def test_per_hour_buckets_split_each_figure_where_it_happened(history, settings):
    r = report(history, at("10:00"), at("14:00"), settings.sla, by="hour")
    buckets = r["buckets"]
    assert [b["from"][11:16] for b in buckets] == ["10:00", "11:00", "12:00", "13:00"]
    assert [b["orders_released"] for b in buckets] == [6, 0, 0, 1]
    # 10:00-11:00 ends with three pickups; 11:00-12:00 with the three cancellations.
    assert [b["pickup_conversion"] for b in buckets] == [1.0, 0.0, None, None]
    assert [b["cancel_to_shelf_s"]["avg"] for b in buckets] == [None, 660.0, None, None]


def test_an_empty_period_counts_nothing_and_rates_are_null(history, settings):
    r = report(history, at("14:00"), at("14:00") + timedelta(hours=1), settings.sla)
    assert (r["orders_released"], r["orders_ready"], r["orders_picked_up"]) == (0, 0, 0)
    assert r["fulfillment_time_s"] == {"avg": None, "p50": None, "p90": None}
    assert r["on_time_ready_rate"] is None and r["pickup_conversion"] is None
    assert r["by_associate"] == []


REPORT_FIELDS = {"from", "to", "orders_released", "orders_ready", "orders_picked_up",
                 "fulfillment_time_s", "on_time_ready_rate", "pickup_conversion", "no_show_rate",
                 "curb_wait_s", "short_pick_rate", "cancel_to_shelf_s", "by_associate"}


def test_report_json_has_every_promised_field(history, cli):
    res = cli("report", "--from", f"{DAY}10:00:00Z", "--to", f"{DAY}14:00:00Z", "--json")
    assert res.code == 0, res.err
    data = res.json()
    assert set(data) >= REPORT_FIELDS
    assert set(data["fulfillment_time_s"]) == {"avg", "p50", "p90"}
    assert set(data["curb_wait_s"]) == set(data["cancel_to_shelf_s"]) == {"avg", "p90"}
    assert set(data["by_associate"][0]) == {"associate_id", "staged", "picked_up", "fulfillment_time_s"}
    assert data["pickup_conversion"] == 0.5


def test_report_csv_opens_as_one_table(history, cli):
    import csv
    import io

    res = cli("report", "--from", f"{DAY}10:00:00Z", "--to", f"{DAY}14:00:00Z", "--csv", "--by", "hour")
    assert res.code == 0, res.err
    rows = list(csv.DictReader(io.StringIO(res.out, newline="")))
    assert [r["scope"] for r in rows] == ["total", "hour", "hour", "hour", "hour", "associate", "associate"]
    total = rows[0]
    assert float(total["fulfillment_time_s_p90"]) == 2850.0
    assert float(total["no_show_rate"]) == 0.3333
    assert [r["orders_released"] for r in rows[1:5]] == ["6", "0", "0", "1"]
    assert rows[1]["curb_wait_s_avg"] == "480.0" and rows[2]["curb_wait_s_avg"] == ""
    assert (rows[5]["associate_id"], rows[5]["staged"], rows[5]["fulfillment_time_s_avg"]) == \
        ("A100", "4", "1110.0")


def test_report_refuses_a_bad_period_naming_the_flag(cli):
    res = cli("report", "--from", "yesterday")
    assert res.code == 2 and "--from" in res.err
    res = cli("report", "--from", f"{DAY}12:00:00Z", "--to", f"{DAY}10:00:00Z")
    assert res.code == 2 and "--to" in res.err


def test_report_text_for_people(history, cli):
    res = cli("report", "--from", "2026-11-23", "--to", "2026-11-24")
    assert res.code == 0, res.err
    assert "Pickup conversion: 50.0 %" in res.out
    assert "A100: staged 4, picked up 2" in res.out


def test_short_picks_by_reason(store, settings, actions):
    from agent.orders.picking import PickingActions

    _apply(store, settings, snapshot("W1"), "10:00")  # two lines of 2 units each
    _apply(store, settings, snapshot("W2"), "10:00")
    picking = PickingActions(store, settings)
    picking.short("W1", lines={"L1": 1}, reason="not_found", associate_id="A100", now=at("10:05"))
    picking.short("W1", lines={"L2": 2}, reason="damaged", associate_id="A100", now=at("10:06"))
    actions.stage("W1", bin="B-1", associate_id="A100", now=at("10:10"))
    actions.stage("W2", bin="B-2", associate_id="A100", now=at("10:11"))
    r = report(store, at("10:00"), at("11:00"), settings.sla)
    assert r["short_pick_rate"] == 0.5  # W1 of W1, W2
    assert r["short_picks_by_reason"] == {"damaged": {"lines": 1, "units": 2},
                                          "not_found": {"lines": 1, "units": 1}}


def test_report_prints_a_shift_summary_through_the_print_queue(history, cli, store, settings):
    from agent.printing.worker import PrintWorker

    res = cli("report", "--from", f"{DAY}10:00:00Z", "--to", f"{DAY}14:00:00Z", "--print")
    assert res.code == 0, res.err
    assert "shift summary queued as print job" in res.out
    job = store.conn.execute("SELECT * FROM print_jobs WHERE kind = 'shift_summary'").fetchone()
    assert job["printer_id"] == "counter" and job["state"] == "queued"
    PrintWorker(store, settings).run_once()  # the daemon's worker, to the file printer
    paper = (settings.storage.path.parent / "printer.out").read_bytes()
    assert b"SHIFT SUMMARY" in paper and b"Pickup conversion: 50.0 %" in paper
    local = parse_iso(f"{DAY}10:00:00Z").astimezone().strftime("%Y-%m-%d %H:%M").encode()
    assert local in paper and b"T10:00:00.000Z" not in paper  # local time on paper
