"""Item-level fulfillment (Store Sync API 1.1) in the domain: pick by scan, short picks,
several bins, partial pickup, handoff evidence, hold extension, cancel mid-pick.

Real SQLite files; every refusal is checked to change nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from agent.errors import (
    BinNotScannedError,
    BusinessRuleError,
    ConfirmationNeededError,
    IdCheckNeededError,
    InvalidActionError,
    OrderCancelledError,
    WrongItemError,
    WrongStateError,
)
from tests.conftest import GUARDED, table_dump
from tests.factories import snapshot, write_config

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
GUARDED_ITEMS = (*GUARDED, "order_bins", "line_shorts", "handoffs")


def items_snapshot(order_id: str = "W1001", **kw) -> dict:
    snap = snapshot(order_id, **kw)
    snap["lines"] = [
        {"line_id": "L1", "sku": "SKU-1", "gtin": "4006381333931", "description": "Crayons",
         "quantity": 2, "location": "A10-2", "pick_sequence": None},
        {"line_id": "L2", "sku": "SKU-2", "gtin": "5901234123457", "description": "Wine",
         "quantity": 1, "location": "A9-1", "age_restricted": True},
        {"line_id": "L3", "sku": "SKU-3", "gtin": None, "description": "Bag of apples",
         "quantity": 3, "location": "A10-10"},
    ]
    snap["alternate_pickup"] = {"name": "Bob Smith"}
    return snap


def _events(store, type_: str | None = None) -> list[dict]:
    rows = store.conn.execute("SELECT type, data FROM outbox ORDER BY seq").fetchall()
    return [{"type": r[0], **json.loads(r[1])} for r in rows if type_ in (None, r[0])]


def _line(store, line_id: str, order_id: str = "W1001"):
    return store.conn.execute("SELECT * FROM order_lines WHERE order_id = ? AND line_id = ?",
                              (order_id, line_id)).fetchone()


def _refused(settings, call, exc_type):
    before = table_dump(settings.storage.path, *GUARDED_ITEMS)
    with pytest.raises(exc_type) as info:
        call()
    assert table_dump(settings.storage.path, *GUARDED_ITEMS) == before
    return info.value


def test_snapshot_v11_fields_are_stored_and_the_pick_list_follows_the_walk(seed, actions, store):
    seed(items_snapshot())
    picks = actions.pick_list("W1001")
    # natural order of location: A9-1 before A10-2 before A10-10
    assert [ln.line_id for ln in picks.lines] == ["L2", "L1", "L3"]
    assert picks.lines[0].age_restricted and picks.units_left == 6
    row = store.conn.execute("SELECT alternate_pickup_name FROM orders").fetchone()
    assert row[0] == "Bob Smith"


def test_pick_sequence_wins_over_location(seed, actions):
    snap = items_snapshot()
    snap["lines"][2]["pick_sequence"] = 1
    snap["lines"][0]["pick_sequence"] = 2
    seed(snap)
    assert [ln.line_id for ln in actions.pick_list("W1001").lines] == ["L3", "L1", "L2"]


def test_scan_verifies_units_and_a_wrong_item_is_refused(seed, actions, store, settings):
    seed(items_snapshot())
    progress = actions.verify_item("W1001", code="4006381333931", associate_id="A100")
    assert (progress.line_id, progress.verified, progress.units_left) == ("L1", 1, 5)
    # A GTIN-14 of the same item, and a SKU typed by hand, count too.
    actions.verify_item("W1001", code="04006381333931", associate_id="A100")
    actions.verify_item("W1001", code="sku-3", associate_id="A100")
    assert _line(store, "L1")["quantity_verified"] == 2
    assert _line(store, "L3")["quantity_verified"] == 1
    error = _refused(settings, lambda: actions.verify_item("W1001", code="9780201379624",
                                                           associate_id="A100"), WrongItemError)
    assert "wrong item" in str(error)
    error = _refused(settings, lambda: actions.verify_item("W1001", code="4006381333931",
                                                           associate_id="A100"), WrongItemError)
    assert "already picked" in str(error)
    assert _events(store) == []  # picking progress is the store's own business


def test_confirm_quantity_is_refused_under_the_scan_policy(seed, actions, settings):
    seed(items_snapshot())
    _refused(settings, lambda: actions.confirm_picked("W1001", line_id="L3", quantity=3,
                                                      associate_id="A100"), InvalidActionError)


def test_confirm_quantity_under_the_quantity_policy(tmp_path, seed):
    from agent.orders.actions import Actions
    from agent.store.connection import Store
    from config import load_settings

    (tmp_path / "q").mkdir()
    cfg = write_config(tmp_path / "q", extra='\n[picking]\nverify = "quantity"\n')
    settings = load_settings(cfg, environ={})
    store = Store(settings.storage.path)
    try:
        from agent.orders.ingest import ingest_snapshots
        ingest_snapshots(store, [items_snapshot()], status_map=settings.status_map, source="feed")
        actions = Actions(store, settings)
        progress = actions.confirm_picked("W1001", line_id="L3", quantity=3, associate_id="A100")
        assert progress.verified == 3
        with pytest.raises(InvalidActionError):
            actions.confirm_picked("W1001", line_id="L3", quantity=4, associate_id="A100")
    finally:
        store.close()


def test_short_pick_records_reason_and_event_and_lowers_what_is_staged(seed, actions, store,
                                                                       settings):
    seed(items_snapshot())
    _refused(settings, lambda: actions.short("W1001", lines={"L3": 1}, reason="lost",
                                             associate_id="A100"), InvalidActionError)
    _refused(settings, lambda: actions.short("W1001", lines={"L3": 4}, reason="damaged",
                                             associate_id="A100"), InvalidActionError)
    _refused(settings, lambda: actions.short("W1001", lines={"L9": 1}, reason="damaged",
                                             associate_id="A100"), InvalidActionError)
    result = actions.short("W1001", lines={"L3": 2}, reason="damaged", associate_id="A100")
    assert result.state == "TO_PICK"
    [event] = _events(store, "order.line_short")
    assert event["lines"] == [{"line_id": "L3", "quantity": 2, "reason": "damaged"}]
    short = store.conn.execute("SELECT line_id, sku, quantity, reason, event_seq FROM line_shorts"
                               ).fetchall()
    assert [tuple(r) for r in short] == [("L3", "SKU-3", 2, "damaged", result.event.seq)]
    actions.stage("W1001", bin="B-07", associate_id="A100")
    staged = _events(store, "order.staged")[0]
    assert {x["line_id"]: x["quantity_picked"] for x in staged["lines"]} == {
        "L1": 2, "L2": 1, "L3": 1}


def test_tracked_pick_stages_what_was_verified_and_refuses_unaccounted_units(seed, actions,
                                                                             settings, store):
    seed(items_snapshot())
    for code in ("4006381333931", "4006381333931", "5901234123457", "SKU-3"):
        actions.verify_item("W1001", code=code, associate_id="A100")
    # L3: 1 of 3 picked, 2 neither picked nor short.
    error = _refused(settings, lambda: actions.stage("W1001", bin="B-07", associate_id="A100"),
                     InvalidActionError)
    assert "neither picked nor recorded short" in str(error)
    actions.short("W1001", lines={"L3": 2}, reason="not_found", associate_id="A100")
    actions.stage("W1001", bins=["B-07", "B-08"], associate_id="A100")
    staged = _events(store, "order.staged")[0]
    assert staged["bin"] == "B-07" and staged["bins"] == ["B-07", "B-08"]
    assert {x["line_id"]: x["quantity_picked"] for x in staged["lines"]} == {
        "L1": 2, "L2": 1, "L3": 1}
    bins = store.conn.execute("SELECT bin, position FROM order_bins ORDER BY position").fetchall()
    assert [tuple(b) for b in bins] == [("B-07", 1), ("B-08", 2)]
    # Picking an order that is READY is refused.
    _refused(settings, lambda: actions.verify_item("W1001", code="SKU-3", associate_id="A100"),
             WrongStateError)


def test_stage_refuses_duplicate_or_bad_bins(seed, actions, settings):
    seed(items_snapshot())
    _refused(settings, lambda: actions.stage("W1001", bins=["B-07", "B-07"], associate_id="A100"),
             InvalidActionError)
    _refused(settings, lambda: actions.stage("W1001", bins=["B-07", "b 8"], associate_id="A100"),
             InvalidActionError)


def _ready(seed, actions, order_id: str = "W1001", **kw):
    seed(items_snapshot(order_id, **kw))
    actions.stage(order_id, bins=["B-07", "B-08"], associate_id="A100")


def test_two_bin_order_cannot_be_handed_over_with_one_bin_scanned(seed, actions, settings, store):
    _ready(seed, actions)
    error = _refused(settings, lambda: actions.pickup(
        "W1001", associate_id="A100", code="K7Q9MX", oms_confirmed=True, scanned_bins=["B-07"],
        id_check="drivers_license"), BinNotScannedError)
    assert "B-08" in str(error)
    _refused(settings, lambda: actions.pickup(
        "W1001", associate_id="A100", code="K7Q9MX", oms_confirmed=True,
        scanned_bins=["B-07", "B-99"], id_check="drivers_license"), BinNotScannedError)
    result = actions.pickup("W1001", associate_id="A100", code="K7Q9MX", oms_confirmed=True,
                            scanned_bins=["b-08", "B-07"], id_check="drivers_license")
    assert result.state == "PICKED_UP"
    [event] = _events(store, "order.picked_up")
    assert event["bins_scanned"] == ["B-07", "B-08"] and "lines" not in event
    assert event["id_check"] == {"type": "drivers_license"}


def test_a_manager_override_waives_missing_bins_and_is_recorded(seed, actions, store):
    _ready(seed, actions)
    actions.pickup("W1001", associate_id="A100", code="K7Q9MX", oms_confirmed=True,
                   scanned_bins=["B-07"], override_id="M1", id_check="passport")
    row = store.conn.execute("SELECT bins_scanned, bins_missing, bins_override_by FROM handoffs"
                             ).fetchone()
    assert tuple(row) == ('["B-07"]', '["B-08"]', "M1")
    _ready(seed, actions, order_id="W1002")
    with pytest.raises(Exception, match="not a manager"):
        actions.pickup("W1002", associate_id="A100", code="K7Q9MX", oms_confirmed=True,
                       scanned_bins=["B-07"], override_id="A100", id_check="passport")


def test_age_restricted_line_needs_the_id_check(seed, actions, settings, store):
    _ready(seed, actions)
    error = _refused(settings, lambda: actions.pickup(
        "W1001", associate_id="A100", code="K7Q9MX", oms_confirmed=True,
        scanned_bins=["B-07", "B-08"]), IdCheckNeededError)
    assert "L2" in str(error)
    # Handing over only the lines that are not restricted needs no ID.
    result = actions.pickup("W1001", associate_id="A100", code="K7Q9MX", oms_confirmed=True,
                            scanned_bins=["B-07", "B-08"], lines={"L1": 2, "L3": 3})
    assert result.state == "READY"


def test_partial_pickup_leaves_the_rest_ready_then_completes(seed, actions, store, settings):
    _ready(seed, actions)
    first = actions.pickup("W1001", associate_id="A100", code="K7Q9MX", oms_confirmed=True,
                           scanned_bins=["B-07", "B-08"], lines={"L1": 1})
    assert first.state == "READY" and "still to collect" in first.message
    state = store.conn.execute("SELECT state FROM orders").fetchone()[0]
    assert state == "READY" and _line(store, "L1")["quantity_picked_up"] == 1
    _refused(settings, lambda: actions.pickup(
        "W1001", associate_id="A100", code="K7Q9MX", oms_confirmed=True,
        scanned_bins=["B-07", "B-08"], lines={"L1": 2}), InvalidActionError)
    second = actions.pickup("W1001", associate_id="A100", code="K7Q9MX", oms_confirmed=True,
                            scanned_bins=["B-07", "B-08"], id_check="national_id",
                            collected_by="alternate")
    assert second.state == "PICKED_UP"
    one, two = _events(store, "order.picked_up")
    assert one["lines"] == [{"line_id": "L1", "quantity": 1}]
    assert two["lines"] == [{"line_id": "L1", "quantity": 1}, {"line_id": "L2", "quantity": 1},
                            {"line_id": "L3", "quantity": 3}]
    assert two["collected_by"] == "alternate"
    assert [r[0] for r in store.conn.execute("SELECT complete FROM handoffs ORDER BY id")] == [0, 1]


def test_alternate_collector_must_be_named_on_the_order(seed, actions, settings):
    snap = items_snapshot()
    snap["alternate_pickup"] = None
    seed(snap)
    actions.stage("W1001", bin="B-07", associate_id="A100")
    _refused(settings, lambda: actions.pickup(
        "W1001", associate_id="A100", code="K7Q9MX", oms_confirmed=True,
        id_check="passport", collected_by="alternate"), InvalidActionError)


def test_signed_acknowledgment_when_the_store_asks_for_it(tmp_path):
    from agent.orders.actions import Actions
    from agent.orders.ingest import ingest_snapshots
    from agent.store.connection import Store
    from config import load_settings

    settings = load_settings(write_config(tmp_path, extra="\n[handoff]\nsigned_acknowledgment"
                                                          " = true\nid_check_for_alternate = true\n"),
                             environ={})
    store = Store(settings.storage.path)
    try:
        ingest_snapshots(store, [items_snapshot()], status_map=settings.status_map, source="feed")
        actions = Actions(store, settings)
        actions.stage("W1001", bin="B-07", associate_id="A100")
        pick = dict(associate_id="A100", code="K7Q9MX", oms_confirmed=True)
        _refused(settings, lambda: actions.pickup("W1001", id_check="passport", **pick),
                 ConfirmationNeededError)
        _refused(settings, lambda: actions.pickup("W1001", collected_by="alternate",
                                                  lines={"L1": 1}, acknowledgment_signed=True,
                                                  **pick), IdCheckNeededError)
        actions.pickup("W1001", id_check="passport", acknowledgment_signed=True, **pick)
        [event] = _events(store, "order.picked_up")
        assert event["acknowledgment"] == {"printed": True, "signed": True}
    finally:
        store.close()


def test_cancel_mid_pick_stops_the_picker_and_makes_a_return_task(seed, actions, store, settings):
    seed(items_snapshot())
    actions.verify_item("W1001", code="4006381333931", associate_id="A100")
    actions.verify_item("W1001", code="SKU-3", associate_id="A100")
    seed(items_snapshot(version=2, status="cancelled"))  # cancelled online
    error = _refused(settings, lambda: actions.verify_item("W1001", code="SKU-3",
                                                           associate_id="A100"),
                     OrderCancelledError)
    assert "stop picking" in str(error) and "return task" in str(error)
    _refused(settings, lambda: actions.short("W1001", lines={"L1": 1}, reason="not_found",
                                             associate_id="A100"), OrderCancelledError)
    _refused(settings, lambda: actions.stage("W1001", bin="B-07", associate_id="A100"),
             OrderCancelledError)
    task = store.conn.execute("SELECT lines FROM return_tasks WHERE state = 'OPEN'").fetchone()
    assert json.loads(task[0]) == [{"line_id": "L1", "quantity": 1}, {"line_id": "L3", "quantity": 1}]
    actions.return_to_shelf("W1001", associate_id="A100")
    [event] = _events(store, "order.returned_to_shelf")
    assert event["lines"] == [{"line_id": "L1", "quantity": 1}, {"line_id": "L3", "quantity": 1}]
    assert _line(store, "L1")["quantity_returned"] == 1


def test_local_cancel_mid_pick_opens_a_return_task(seed, actions, store):
    seed(items_snapshot())
    actions.verify_item("W1001", code="SKU-3", associate_id="A100")
    result = actions.cancel("W1001", reason="customer_refused", associate_id="A100")
    assert result.return_task_id is not None


def test_cancel_after_partial_pickup_returns_only_what_was_not_handed_over(seed, actions, store):
    _ready(seed, actions)
    actions.pickup("W1001", associate_id="A100", code="K7Q9MX", oms_confirmed=True,
                   scanned_bins=["B-07", "B-08"], lines={"L1": 2, "L3": 1})
    actions.cancel("W1001", reason="no_show", associate_id="A100")
    task = store.conn.execute("SELECT lines FROM return_tasks").fetchone()
    assert json.loads(task[0]) == [{"line_id": "L2", "quantity": 1}, {"line_id": "L3", "quantity": 2}]


def test_extend_hold_up_to_the_configured_maximum(seed, actions, store, settings):
    seed(items_snapshot(hold_until="2026-11-23T20:00:00Z"))
    _refused(settings, lambda: actions.extend_hold(
        "W1001", until=NOW + timedelta(hours=73), reason="customer asked", associate_id="A100",
        now=NOW), InvalidActionError)
    _refused(settings, lambda: actions.extend_hold(
        "W1001", until=NOW + timedelta(hours=1), reason="customer asked", associate_id="A100",
        now=NOW), InvalidActionError)  # earlier than the current hold
    result = actions.extend_hold("W1001", until=NOW + timedelta(hours=48),
                                 reason="customer\x1b[2J asked", associate_id="A100", now=NOW)
    [event] = _events(store, "order.hold_extended")
    assert event == {"type": "order.hold_extended", "until": "2026-11-25T12:00:00.000Z",
                     "reason": "customer [2J asked"}
    assert store.conn.execute("SELECT hold_until FROM orders").fetchone()[0] == event["until"]
    assert result.state == "TO_PICK"


def test_refusals_on_unknown_orders_change_nothing(seed, actions, settings):
    seed(items_snapshot())
    from agent.errors import UnknownOrderError

    for call in (
        lambda: actions.verify_item("W9", code="SKU-3", associate_id="A100"),
        lambda: actions.short("W9", lines={"L1": 1}, reason="other", associate_id="A100"),
        lambda: actions.extend_hold("W9", until=NOW + timedelta(hours=1), reason="x",
                                    associate_id="A100", now=NOW),
    ):
        _refused(settings, call, UnknownOrderError)


def test_receipt_lists_handed_over_short_and_still_to_collect(seed, actions, store):
    from agent.printing.queue import render_job

    seed(items_snapshot())
    actions.short("W1001", lines={"L3": 1}, reason="expired", associate_id="A100")
    actions.stage("W1001", bins=["B-07", "B-08"], associate_id="A100")
    actions.pickup("W1001", associate_id="A100", code="K7Q9MX", oms_confirmed=True,
                   scanned_bins=["B-07", "B-08"], lines={"L1": 2})
    payload = json.loads(store.conn.execute(
        "SELECT payload FROM print_jobs WHERE kind = 'receipt'").fetchone()[0])
    assert payload["items"] == [{"description": "Crayons", "quantity": 2, "sku": "SKU-1"}]
    assert payload["short"] == [{"description": "Bag of apples", "quantity": 1, "sku": "SKU-3",
                                 "reason": "expired"}]
    text = render_job("receipt", payload).decode("cp437", "replace")
    assert "Crayons" in text and "Bag of apples (expired)" in text
    assert "3 item(s) still to collect" in text


def test_bin_labels_per_tote_n_of_m(tmp_path):
    from agent.orders.actions import Actions
    from agent.orders.ingest import ingest_snapshots
    from agent.printing.queue import render_job
    from agent.store.connection import Store
    from config import load_settings

    settings = load_settings(write_config(tmp_path, extra="\n[picking]\nprint_bin_labels = true\n"),
                             environ={})
    store = Store(settings.storage.path)
    try:
        ingest_snapshots(store, [items_snapshot()], status_map=settings.status_map, source="feed")
        Actions(store, settings).stage("W1001", bins=["B-07", "B-08"], associate_id="A100")
        labels = [json.loads(r[0]) for r in store.conn.execute(
            "SELECT payload FROM print_jobs WHERE kind = 'bin_label' ORDER BY id")]
        assert [(p["bin_id"], p["n"], p["of"]) for p in labels] == [("B-07", 1, 2), ("B-08", 2, 2)]
        assert "BIN 2 of 2" in render_job("bin_label", labels[1]).decode("cp437", "replace")
    finally:
        store.close()


def test_a_snapshot_from_before_the_extension_does_not_shorten_the_hold(seed, actions, store):
    seed(items_snapshot(hold_until="2026-11-23T20:00:00Z"))
    actions.extend_hold("W1001", until=NOW + timedelta(hours=24), reason="asked",
                        associate_id="A100", now=NOW)
    extended = store.conn.execute("SELECT hold_until FROM orders").fetchone()[0]
    seed(items_snapshot(version=2, hold_until="2026-11-23T20:00:00Z"))  # not seen it yet
    assert store.conn.execute("SELECT hold_until FROM orders").fetchone()[0] == extended
    with store.write() as conn:  # the OMS acknowledged it; from now on its word counts
        conn.execute("UPDATE outbox SET status = 'acked'")
    seed(items_snapshot(version=3, hold_until="2026-11-23T21:00:00Z"))
    assert store.conn.execute("SELECT hold_until FROM orders").fetchone()[0].startswith(
        "2026-11-23T21:00:00")


def test_a_manager_waives_only_the_missing_bins(seed, actions, store, settings):
    _ready(seed, actions)
    _refused(settings, lambda: actions.pickup(
        "W1001", associate_id="A100", code="K7Q9MX", oms_confirmed=True, scanned_bins=["B-07"],
        bins_override_by="A100", id_check="passport"), BusinessRuleError)
    actions.pickup("W1001", associate_id="A100", code="K7Q9MX", oms_confirmed=True,
                   scanned_bins=["B-07"], bins_override_by="M1", id_check="passport")
    row = store.conn.execute("SELECT verification, bins_missing, bins_override_by FROM handoffs"
                             ).fetchone()
    assert tuple(row) == ("pickup_code", '["B-08"]', "M1")
    assert store.conn.execute("SELECT override_by FROM outbox WHERE type = 'order.picked_up'"
                              ).fetchone()[0] == "M1"
