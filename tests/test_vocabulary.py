"""One vocabulary: the words are defined once and every place that checks them agrees."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from pydantic import ValidationError

from agent.clock import iso, utc_now
from agent.orders.states import OrderAction, allowed_actions, allows
from agent.store import sync_state
from agent.store.sync_state import ONLINE_WINDOW_S, DeviceKind, SyncKey
from config.vocabulary import (
    OPEN_STATES,
    CancelReason,
    EventType,
    OrderState,
    ShortReason,
    check_in,
    sql_in,
)
from sync import models


def test_schema_check_is_the_enum(store):
    """The orders.state CHECK (written before the enum existed) names exactly the enum's states."""
    ddl = store.conn.execute("SELECT sql FROM sqlite_master WHERE name = 'orders'").fetchone()[0]
    allowed = re.search(r"CHECK \(state IN \(([^)]*)\)\)", ddl).group(1)
    assert sorted(v.strip(" '") for v in allowed.split(",")) == sorted(OrderState)


def test_check_in_refuses_what_the_enum_does_not_hold(store):
    with store.write() as conn:
        conn.execute(f"CREATE TEMP TABLE t (reason TEXT {check_in('reason', ShortReason)})")
        conn.execute("INSERT INTO t VALUES (?)", (ShortReason.EXPIRED,))
    with pytest.raises(Exception, match="CHECK"), store.write() as conn:
        conn.execute("INSERT INTO t VALUES ('lost')")
    with pytest.raises(ValueError):
        check_in("reason; DROP TABLE t", ShortReason)
    with pytest.raises(ValueError):
        sql_in(["READY"])  # only enum members are inlined


def test_the_contract_models_use_the_vocabulary():
    for reason in CancelReason:
        assert models.CancelledData(reason=reason).reason == reason
    with pytest.raises(ValidationError):
        models.CancelledData(reason="bored")
    # Every type the agent sends has a data model; the v1.1 types are words before they are sent.
    assert set(models.DATA_MODELS) <= set(EventType)
    assert {EventType.LINE_SHORT, EventType.HOLD_EXTENDED} <= set(EventType)
    assert [r.value for r in ShortReason] == ["not_found", "damaged", "expired", "other"]


def test_every_event_type_has_its_data_model_and_no_other_type_passes():
    assert set(models.DATA_MODELS) == set(EventType)
    event = {"event_id": "018f3f5e-0000-7000-8000-000000000001", "seq": 1,
             "type": "order.teleported", "order_id": "W1", "based_on_version": 1,
             "occurred_at": iso(utc_now()), "associate_id": "a1", "device_id": "d1",
             "data": {"lines": []}}
    with pytest.raises(ValidationError, match="type"):
        models.Event.model_validate(event)


@pytest.mark.parametrize("state", list(OrderState))
def test_which_action_each_state_allows(state):
    expected = {
        OrderState.TO_PICK: {OrderAction.PICK, OrderAction.STAGE, OrderAction.CANCEL,
                             OrderAction.EXTEND_HOLD},
        OrderState.READY: {OrderAction.STAGE, OrderAction.CANCEL, OrderAction.PICKUP,
                           OrderAction.EXTEND_HOLD},
        OrderState.PICKED_UP: set(),
        OrderState.CANCELLED: set(),
    }[state]
    assert allowed_actions(state) == expected
    assert allows(OrderAction.RETURN_TO_SHELF, state, return_task_open=True) == (
        state == OrderState.CANCELLED)
    assert (state in OPEN_STATES) == allows(OrderAction.CANCEL, state)


def test_sync_state_refuses_unnamed_keys(store):
    with store.write() as conn:
        with pytest.raises(ValueError, match="no key 'onlien'"):
            sync_state.put(conn, onlien="1")
        with pytest.raises(ValueError):
            sync_state.get(conn, "printer")  # a device kind without an id
        sync_state.put_device(conn, DeviceKind.PRINTER, "counter", {"status": "ready"})
        conn.execute("INSERT INTO sync_state VALUES ('printerx:1', '{}')")  # not a printer's key
    assert sync_state.device_states(store.conn, DeviceKind.PRINTER) == {"counter": {"status": "ready"}}


def test_online_means_the_oms_answered_recently(store):
    now = utc_now()
    with store.write() as conn:
        sync_state.mark_online(conn, iso(now))
    assert sync_state.is_online(store.conn, now)
    later = now + timedelta(seconds=ONLINE_WINDOW_S + 1)
    assert sync_state.reported_online(store.conn)  # what the daemon saw last ...
    assert not sync_state.is_online(store.conn, later)  # ... is not online once it is old
    with store.write() as conn:
        assert sync_state.mark_offline(conn, "HTTP 503") is True
        assert sync_state.get(conn, SyncKey.LAST_ERROR) == "HTTP 503"
    assert not sync_state.is_online(store.conn, now)


def test_one_rule_for_a_bin_id(settings):
    """Staging and the bin label both ask the same rule: the whole text matches (no trailing newline
    slipping through ``$`` as re.match allowed)."""
    assert settings.pickup.is_bin_id("B-07")
    assert not settings.pickup.is_bin_id("B-07\n")
    assert not settings.pickup.is_bin_id("b 07")
