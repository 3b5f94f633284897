"""One test per associate-action rule; every refusal leaves the guarded tables unchanged."""

from __future__ import annotations

import json

import pytest

from agent.errors import (
    ConfirmationNeededError,
    InvalidActionError,
    ManagerOverrideNeededError,
    NotAManagerError,
    OrderCancelledError,
    UnknownAssociateError,
    UnknownOrderError,
    WrongPickupCodeError,
    WrongStateError,
)
from agent.orders.ingest import ingest_snapshots
from tests.conftest import GUARDED, table_dump
from tests.factories import snapshot


def _events(store, order_id="W1001"):
    return [dict(r) for r in store.conn.execute(
        "SELECT * FROM outbox WHERE order_id = ? ORDER BY seq", (order_id,))]


def _order(store, order_id="W1001"):
    return dict(store.conn.execute("SELECT * FROM orders WHERE order_id = ?", (order_id,)).fetchone())


def _heard_now(store):
    from agent.clock import iso, utc_now

    with store.write() as conn:
        conn.execute("INSERT OR REPLACE INTO sync_state VALUES ('last_feed_success_at', ?)",
                     (iso(utc_now()),))


@pytest.fixture
def ready(seed, actions, store):
    seed(snapshot("W1001"))
    actions.stage("W1001", bin="B-07", associate_id="A100")
    return store


def refused(store, fn, exc_type):
    before = table_dump(store.path, *GUARDED)
    with pytest.raises(exc_type) as info:
        fn()
    assert table_dump(store.path, *GUARDED) == before, "a refusal changed the database"
    return info.value


# --- stage --------------------------------------------------------------------------------
def test_stage_moves_to_ready_with_event_in_same_transaction(seed, actions, store):
    seed(snapshot("W1001"))
    result = actions.stage("W1001", bin="B-07", associate_id="A100")
    order = _order(store)
    assert (order["state"], order["bin"]) == ("READY", "B-07")
    [event] = _events(store)
    assert event["type"] == "order.staged" and event["status"] == "pending"
    assert event["event_id"] == result.event.event_id
    assert event["based_on_version"] == 1 and event["associate_id"] == "A100"
    assert event["device_id"] == "backroom-1"
    assert json.loads(event["data"]) == {
        "bin": "B-07", "bins": ["B-07"],
        "lines": [{"line_id": "L1", "quantity_picked": 2}, {"line_id": "L2", "quantity_picked": 2}],
    }
    assert event["occurred_at"].endswith("Z")


def test_short_pick_records_fewer_than_ordered(seed, actions, store):
    seed(snapshot("W1001"))
    result = actions.stage("W1001", bin="B-07", associate_id="A100", picked={"L2": 1})
    data = json.loads(_events(store)[0]["data"])
    assert data["lines"] == [{"line_id": "L1", "quantity_picked": 2},
                             {"line_id": "L2", "quantity_picked": 1}]
    assert "short pick" in result.message


def test_staging_again_moves_bins(ready, actions, store):
    actions.stage("W1001", bin="B-09", associate_id="A100")
    assert _order(store)["bin"] == "B-09"
    events = _events(store)
    assert [json.loads(e["data"])["bin"] for e in events] == ["B-07", "B-09"]


@pytest.mark.parametrize("bad_bin", ["", "b-07", "B 07", "-B07", "B" * 17, "B-07;DROP", "ÄB"])
def test_stage_refuses_bad_bin_ids(seed, actions, store, bad_bin):
    seed(snapshot("W1001"))
    refused(store, lambda: actions.stage("W1001", bin=bad_bin, associate_id="A100"),
            InvalidActionError)


def test_bin_pattern_is_configurable(tmp_path):
    from agent.orders.actions import Actions
    from agent.store.connection import Store
    from config import load_settings
    from tests.factories import write_config

    cfg = write_config(tmp_path, extra="")
    text = cfg.read_text().replace("max_offline_staleness_min = 15",
                                   'max_offline_staleness_min = 15\nbin_pattern = "^SHELF-[0-9]+$"')
    cfg.write_text(text)
    settings = load_settings(cfg, environ={})
    with Store(settings.storage.path) as store:
        ingest_snapshots(store, [snapshot()], status_map=settings.status_map, source="feed")
        acts = Actions(store, settings)
        with pytest.raises(InvalidActionError):
            acts.stage("W1001", bin="B-07", associate_id="A100")
        assert acts.stage("W1001", bin="SHELF-12", associate_id="A100").state == "READY"


@pytest.mark.parametrize("picked", [{"L1": 3}, {"L1": -1}, {"L9": 1}])
def test_stage_refuses_bad_quantities_and_lines(seed, actions, store, picked):
    seed(snapshot("W1001"))
    refused(store, lambda: actions.stage("W1001", bin="B-07", associate_id="A100", picked=picked),
            InvalidActionError)


def test_stage_refuses_unknown_order_and_associate(seed, actions, store):
    seed(snapshot("W1001"))
    refused(store, lambda: actions.stage("W404", bin="B-07", associate_id="A100"), UnknownOrderError)
    refused(store, lambda: actions.stage("W1001", bin="B-07", associate_id="X9"),
            UnknownAssociateError)


def test_stage_refuses_terminal_orders(ready, actions, store):
    actions.cancel("W1001", reason="damaged", associate_id="A100")
    refused(store, lambda: actions.stage("W1001", bin="B-01", associate_id="A100"),
            OrderCancelledError)


# --- pickup --------------------------------------------------------------------------------
def test_pickup_with_right_code_when_oms_confirmed(ready, actions, store):
    result = actions.pickup("W1001", associate_id="A100", code="k7q9mx", oms_confirmed=True)
    assert _order(store)["state"] == "PICKED_UP"
    event = _events(store)[-1]
    assert event["type"] == "order.picked_up"
    assert json.loads(event["data"]) == {"verification": "pickup_code", "bin": "B-07",
                                         "collected_by": "customer"}
    assert result.verification == "pickup_code"


def test_pickup_wrong_code_refused(ready, actions, store):
    refused(store, lambda: actions.pickup("W1001", associate_id="A100", code="AAAAAA",
                                          oms_confirmed=True), WrongPickupCodeError)


def test_pickup_only_from_ready(seed, actions, store):
    seed(snapshot("W1001"))
    refused(store, lambda: actions.pickup("W1001", associate_id="A100", code="K7Q9MX",
                                          oms_confirmed=True), WrongStateError)


def test_pickup_of_cancelled_order_names_bin_and_task(ready, actions, store, seed):
    seed(snapshot("W1001", version=2, status="cancelled"))
    err = refused(store, lambda: actions.pickup("W1001", associate_id="A100", code="K7Q9MX",
                                                oms_confirmed=True), OrderCancelledError)
    assert "B-07" in str(err) and "return task" in str(err)


def test_pickup_twice_refused(ready, actions, store):
    actions.pickup("W1001", associate_id="A100", code="K7Q9MX", oms_confirmed=True)
    refused(store, lambda: actions.pickup("W1001", associate_id="A100", code="K7Q9MX",
                                          oms_confirmed=True), WrongStateError)


def test_pickup_code_compare_is_constant_time():
    import inspect

    from agent.orders import actions as module

    assert "compare_digest" in inspect.getsource(module.Actions.pickup)


def test_manager_override_without_code(ready, actions, store):
    actions.pickup("W1001", associate_id="A100", code=None, oms_confirmed=True, override_id="M1")
    event = _events(store)[-1]
    assert json.loads(event["data"])["verification"] == "manager_override"
    assert event["override_by"] == "M1"


def test_override_by_non_manager_refused(ready, actions, store):
    refused(store, lambda: actions.pickup("W1001", associate_id="A100", code=None,
                                          oms_confirmed=True, override_id="A100"), NotAManagerError)


# --- offline policy --------------------------------------------------------------------------
def _offline_actions(store, tmp_path, policy):
    from agent.orders.actions import Actions
    from config import load_settings
    from tests.factories import write_config

    sub = tmp_path / policy
    sub.mkdir()
    settings = load_settings(write_config(sub, policy=policy), environ={})
    return Actions(store, settings)


def test_offline_warn_needs_confirmation_then_hands_over(ready, store, tmp_path):
    acts = _offline_actions(store, tmp_path, "warn")
    _heard_now(store)
    err = refused(store, lambda: acts.pickup("W1001", associate_id="A100", code="K7Q9MX"),
                  ConfirmationNeededError)
    assert "last heard from the OMS" in str(err) and "--yes" in str(err)
    result = acts.pickup("W1001", associate_id="A100", code="K7Q9MX", confirmed=True)
    assert result.state == "PICKED_UP" and "without OMS confirmation" in result.message


def test_offline_warn_becomes_manager_when_stale(ready, store, tmp_path):
    acts = _offline_actions(store, tmp_path, "warn")
    with store.write() as conn:
        conn.execute("INSERT OR REPLACE INTO sync_state VALUES ('last_feed_success_at',"
                     " '2020-01-01T00:00:00.000Z')")
    err = refused(store, lambda: acts.pickup("W1001", associate_id="A100", code="K7Q9MX",
                                             confirmed=True), ManagerOverrideNeededError)
    assert "older than 15 min" in str(err)
    acts.pickup("W1001", associate_id="A100", code="K7Q9MX", override_id="M1")
    assert _events(store)[-1]["override_by"] == "M1"


def test_offline_manager_policy(ready, store, tmp_path):
    acts = _offline_actions(store, tmp_path, "manager")
    _heard_now(store)
    refused(store, lambda: acts.pickup("W1001", associate_id="A100", code="K7Q9MX", confirmed=True),
            ManagerOverrideNeededError)
    refused(store, lambda: acts.pickup("W1001", associate_id="A100", code="K7Q9MX",
                                       override_id="A100"), NotAManagerError)
    assert acts.pickup("W1001", associate_id="A100", code="K7Q9MX", override_id="M1").state == \
        "PICKED_UP"


def test_offline_allow_policy(ready, store, tmp_path):
    acts = _offline_actions(store, tmp_path, "allow")
    assert acts.pickup("W1001", associate_id="A100", code="K7Q9MX").state == "PICKED_UP"


def test_wrong_code_wins_over_offline_question(ready, store, tmp_path):
    acts = _offline_actions(store, tmp_path, "warn")
    refused(store, lambda: acts.pickup("W1001", associate_id="A100", code="NOPE"),
            WrongPickupCodeError)


# --- cancel and return -----------------------------------------------------------------------
def test_cancel_from_to_pick_opens_no_task(seed, actions, store):
    seed(snapshot("W1001"))
    result = actions.cancel("W1001", reason="item_unavailable", associate_id="A100", note="oos")
    assert _order(store)["state"] == "CANCELLED" and result.return_task_id is None
    assert store.conn.execute("SELECT COUNT(*) FROM return_tasks").fetchone()[0] == 0
    assert json.loads(_events(store)[-1]["data"]) == {"reason": "item_unavailable", "note": "oos"}


def test_cancel_from_ready_opens_return_task(ready, actions, store):
    result = actions.cancel("W1001", reason="customer_refused", associate_id="A100")
    task = store.conn.execute("SELECT * FROM return_tasks").fetchone()
    assert task["id"] == result.return_task_id and task["state"] == "OPEN" and task["bin"] == "B-07"
    assert json.loads(task["lines"]) == [{"line_id": "L1", "quantity": 2},
                                         {"line_id": "L2", "quantity": 2}]


def test_cancel_refuses_bad_reason_and_terminal(ready, actions, store):
    refused(store, lambda: actions.cancel("W1001", reason="bored", associate_id="A100"),
            InvalidActionError)
    actions.pickup("W1001", associate_id="A100", code="K7Q9MX", oms_confirmed=True)
    refused(store, lambda: actions.cancel("W1001", reason="other", associate_id="A100"),
            WrongStateError)


def test_return_closes_task_and_sends_event(ready, actions, store):
    actions.cancel("W1001", reason="no_show", associate_id="A100")
    actions.return_to_shelf("W1001", associate_id="A100")
    task = store.conn.execute("SELECT * FROM return_tasks").fetchone()
    assert task["state"] == "DONE" and task["done_by"] == "A100"
    event = _events(store)[-1]
    assert event["type"] == "order.returned_to_shelf"
    assert json.loads(event["data"])["bin"] == "B-07"
    assert _order(store)["bin"] is None


def test_return_without_open_task_refused(ready, actions, store):
    refused(store, lambda: actions.return_to_shelf("W1001", associate_id="A100"), WrongStateError)
    actions.cancel("W1001", reason="no_show", associate_id="A100")
    actions.return_to_shelf("W1001", associate_id="A100")
    refused(store, lambda: actions.return_to_shelf("W1001", associate_id="A100"), WrongStateError)


def test_events_after_a_dead_letter_are_held(ready, actions, store):
    with store.write() as conn:
        conn.execute("UPDATE outbox SET status = 'dead', dead_kind = 'rejected'")
    result = actions.cancel("W1001", reason="other", associate_id="A100")
    assert result.event.status == "held"


# --- paper -----------------------------------------------------------------------------------
def test_pickup_queues_a_receipt_in_the_same_transaction(ready, actions, store):
    from agent.printing.queue import list_jobs, render_job

    refused(store, lambda: actions.pickup("W1001", associate_id="A100", code="NOPE",
                                          oms_confirmed=True), WrongPickupCodeError)
    assert list_jobs(store) == []
    actions.pickup("W1001", associate_id="A100", code="K7Q9MX", oms_confirmed=True)
    [job] = list_jobs(store)
    assert (job["kind"], job["order_id"], job["printer_id"], job["state"]) == \
        ("receipt", "W1001", "counter", "queued")
    payload = json.loads(store.conn.execute("SELECT payload FROM print_jobs").fetchone()[0])
    assert payload["associate"] == "Dana" and payload["verified_by"] == "pickup_code"
    assert b"W1001" in render_job("receipt", payload)


def test_cancel_from_ready_queues_a_return_slip(ready, actions, store):
    from agent.printing.queue import list_jobs

    actions.cancel("W1001", reason="damaged", associate_id="A100")
    [job] = list_jobs(store)
    assert job["kind"] == "return_slip" and job["order_id"] == "W1001"
