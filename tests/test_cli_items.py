"""The item-level commands of cli.md through the real `store-agent` in a subprocess."""

from __future__ import annotations

from tests.conftest import table_dump
from tests.test_items import GUARDED_ITEMS, items_snapshot


def test_short_stage_two_bins_and_a_partial_pickup(cli, seed, settings, store):
    from agent.clock import iso, utc_now
    from agent.store import sync_state

    seed(items_snapshot())
    with store.write() as conn:  # heard from the OMS a moment ago: "warn" needs only --yes
        sync_state.put(conn, last_feed_success_at=iso(utc_now()))
    r = cli("order", "short", "W1001", "--line", "L3=1", "--reason", "damaged", "--as", "A100",
            "--json")
    assert r.code == 0, r.err
    assert r.json()["state"] == "TO_PICK"
    r = cli("order", "stage", "W1001", "--bin", "B-07", "--bin", "B-08", "--as", "A100")
    assert r.code == 0 and "bins B-07, B-08" in r.out, r.err
    before = table_dump(settings.storage.path, *GUARDED_ITEMS)
    r = cli("order", "pickup", "W1001", "--code", "K7Q9MX", "--as", "A100", "--yes",
            "--scan-bin", "B-07", "--line", "L1=1")
    assert r.code == 3 and "B-08" in r.err
    r = cli("order", "pickup", "W1001", "--code", "K7Q9MX", "--as", "A100", "--yes",
            "--scan-bin", "B-07", "--scan-bin", "B-08", "--line", "L2=1")
    assert r.code == 3 and "age-restricted" in r.err
    assert table_dump(settings.storage.path, *GUARDED_ITEMS) == before
    r = cli("order", "pickup", "W1001", "--code", "K7Q9MX", "--as", "A100", "--yes",
            "--scan-bin", "B-07", "--scan-bin", "B-08", "--line", "L2=1", "--line", "L1=2",
            "--id-check", "drivers_license", "--json")
    assert r.code == 0, r.err
    assert r.json()["state"] == "READY"
    shown = cli("order", "show", "W1001", "--json").json()
    assert shown["bins"] == ["B-07", "B-08"] and shown["bin"] == "B-07"
    lines = {ln["line_id"]: ln for ln in shown["lines"]}
    assert {k: lines["L3"][k] for k in ("quantity", "quantity_picked", "quantity_short",
                                        "quantity_picked_up", "location", "age_restricted")} == {
        "quantity": 3, "quantity_picked": 2, "quantity_short": 1, "quantity_picked_up": 0,
        "location": "A10-10", "age_restricted": False}
    assert lines["L2"]["age_restricted"] is True and lines["L2"]["quantity_picked_up"] == 1
    assert [(s["line_id"], s["quantity"], s["reason"]) for s in shown["shorts"]] == [
        ("L3", 1, "damaged")]
    [handoff] = shown["handoffs"]
    assert (handoff["id_check_type"], handoff["bins_scanned"], handoff["complete"]) == (
        "drivers_license", ["B-07", "B-08"], False)
    audit = cli("audit", "W1001", "--json").json()
    summaries = [e.get("summary") for e in audit if e["direction"] == "store_event"]
    assert summaries[0] == "short: L3 x1 (damaged)"
    assert summaries[1] == "bins B-07, B-08: L1 x2, L2 x1, L3 x2"
    assert "lines L2 x1, L1 x2" in summaries[2] and "ID drivers_license" in summaries[2]


def test_short_with_a_bad_reason_or_line_is_a_usage_or_rule_error(cli, seed, settings):
    seed(items_snapshot())
    before = table_dump(settings.storage.path, *GUARDED_ITEMS)
    assert cli("order", "short", "W1001", "--line", "L3=1", "--reason", "lost",
               "--as", "A100").code == 2
    assert cli("order", "short", "W1001", "--line", "L3", "--reason", "other",
               "--as", "A100").code == 2
    assert cli("order", "short", "W1001", "--line", "L9=1", "--reason", "other",
               "--as", "A100").code == 3
    assert table_dump(settings.storage.path, *GUARDED_ITEMS) == before


def test_extend_hold(cli, seed):
    seed(items_snapshot(hold_until="2026-11-23T20:00:00Z"))
    r = cli("order", "extend-hold", "W1001", "--until", "2999-01-01T00:00:00Z",
            "--reason", "customer asked", "--as", "A100")
    assert r.code == 3 and "at most 72 h" in r.err
    assert cli("order", "extend-hold", "W1001", "--until", "tomorrow", "--reason", "x",
               "--as", "A100").code == 2
    from datetime import UTC, datetime, timedelta

    until = (datetime.now(UTC) + timedelta(hours=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = cli("order", "extend-hold", "W1001", "--until", until, "--reason", "customer asked",
            "--as", "A100", "--json")
    assert r.code == 0, r.err
    assert cli("order", "show", "W1001", "--json").json()["hold_until"].startswith(until[:19])
