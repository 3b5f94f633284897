"""Message models, the error tree and the backoff helpers, without a network."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from pydantic import ValidationError

from config.errors import StoreAgentError
from sync import errors
from sync.models import (
    Event,
    EventsRequest,
    Heartbeat,
    OrderSnapshot,
    StagedData,
    check_results,
    parse_changes_page,
    parse_event_results,
    parse_orders_page,
    parse_snapshot,
)
from sync.retry import backoff_delay, retry_after_floor
from sync.samples import sample_orders
from tests.sync.conftest import NOW, make_event

ORDER = sample_orders(1, seed=3, now=NOW)[0]


def test_responses_ignore_unknown_fields_and_reject_bad_known_ones():
    snapshot = OrderSnapshot.model_validate({**ORDER, "loyalty_tier": "gold"})
    assert snapshot.order_id == ORDER["order_id"]
    with pytest.raises(ValidationError):
        OrderSnapshot.model_validate({**ORDER, "fulfillment": "drone"})
    page = parse_changes_page(json.dumps({"changes": [], "cursor": "c", "has_more": False, "server": "x"}))
    assert page.changes == [] and page.cursor == "c"


@pytest.mark.parametrize(
    "body",
    [
        {"changes": [], "cursor": "c"},  # has_more missing
        {"changes": {}, "cursor": "c", "has_more": False},
        {"changes": [{"order": ORDER}], "cursor": "c", "has_more": False},  # no change_id
        {"changes": [], "cursor": "", "has_more": False},
        [],
    ],
)
def test_a_wrong_envelope_fails_the_whole_page(body):
    with pytest.raises(errors.BadResponseError):
        parse_changes_page(json.dumps(body))


def test_a_change_without_order_is_quarantined_not_fatal():
    body = {
        "changes": [{"change_id": "a"}, {"change_id": "b", "order": ORDER}],
        "cursor": "c",
        "has_more": True,
    }
    first, second = parse_changes_page(json.dumps(body)).changes
    assert first.snapshot is None and first.error == "order is null, not an object"
    assert second.snapshot.order_id == ORDER["order_id"] and second.order_id == ORDER["order_id"]


def test_orders_page_isolates_bad_snapshots_too():
    page = parse_orders_page(json.dumps({"orders": [ORDER, {"order_id": "W1"}], "next_cursor": None}))
    assert page.orders[0].snapshot is not None
    assert page.orders[1].snapshot is None and page.orders[1].order_id == "W1"
    assert "version" in page.orders[1].error


def test_parse_snapshot_raises_bad_response():
    assert parse_snapshot(json.dumps(ORDER)).version == ORDER["version"]
    with pytest.raises(errors.BadResponseError, match="lines"):
        parse_snapshot(json.dumps({**ORDER, "lines": []}))


def test_event_data_must_match_its_type():
    event = Event.model_validate(make_event(ORDER))
    assert isinstance(event.data, StagedData)
    for type_, data in [
        ("order.staged", {"verification": "pickup_code", "bin": None}),
        ("order.picked_up", {"verification": "fingerprint"}),
        ("order.cancelled", {"reason": "bored"}),
        ("order.returned_to_shelf", {"lines": [{"line_id": "1", "quantity": -1}]}),
        ("order.teleported", {}),
    ]:
        with pytest.raises(ValidationError):
            Event.model_validate(make_event(ORDER, type_, data=data))
    with pytest.raises(ValidationError):
        Event.model_validate({**make_event(ORDER), "extra_field": 1})  # requests forbid extras


def test_event_json_is_contract_json():
    request = EventsRequest(events=[make_event(ORDER)])
    body = request.model_dump(mode="json")["events"][0]
    assert body["occurred_at"] == "2026-11-23T14:05:09Z"
    assert uuid.UUID(body["event_id"]) and body["data"]["bin"] == "B-07"
    with pytest.raises(ValidationError):
        EventsRequest(events=[])
    with pytest.raises(ValidationError):
        EventsRequest(events=[make_event(ORDER)] * 501)


def test_results_are_checked_against_the_sent_ids():
    ids = [uuid.uuid4(), uuid.uuid4()]
    conflict_order = {**ORDER, "status": "cancelled"}
    body = {
        "results": [
            {"event_id": str(ids[0]), "status": "accepted", "code": None, "message": None, "order": None},
            {
                "event_id": str(ids[1]),
                "status": "conflict",
                "code": "wrong_state",
                "message": "m",
                "order": conflict_order,
                "new_field": 1,
            },
        ]
    }
    results = parse_event_results(json.dumps(body), ids)
    assert results[1].order.status == "cancelled"
    with pytest.raises(errors.BadResponseError):
        check_results(results, ids[:1])
    with pytest.raises(errors.BadResponseError):
        check_results(results, list(reversed(ids)))
    body["results"][0]["status"] = "maybe"
    with pytest.raises(errors.BadResponseError):
        parse_event_results(json.dumps(body), ids)


def test_a_conflict_with_a_bad_snapshot_keeps_its_status():
    event_id = uuid.uuid4()
    body = {"results": [{"event_id": str(event_id), "status": "conflict", "order": {"order_id": "W1"}}]}
    (result,) = parse_event_results(json.dumps(body), [event_id])
    assert result.status == "conflict" and result.order is None
    assert result.order_raw == {"order_id": "W1"} and result.order_error


def test_heartbeat_model():
    beat = Heartbeat.model_validate(
        {
            "agent_version": "1",
            "sent_at": NOW,
            "outbox": {"pending": 0, "oldest_pending_age_s": None, "dead_letters": 0, "blocked_orders": 0},
            "feed": {"cursor": None, "last_change_at": None},
            "devices": [],
            "reconciliation": {"last_run_at": None, "mismatches_last_hour": 0},
        }
    )
    assert beat.model_dump(mode="json")["sent_at"] == "2026-11-23T14:05:09Z"


# --- errors ---------------------------------------------------------------------------


def test_error_tree():
    assert issubclass(errors.SyncError, StoreAgentError)
    for cls in (
        errors.RateLimitedError,
        errors.BadResponseError,
        errors.TlsError,
        errors.UnexpectedStatusError,
    ):
        assert issubclass(cls, errors.TransientError) and cls.retryable
    for cls in (
        errors.BadRequestError,
        errors.TooLargeError,
        errors.CredentialsError,
        errors.NotFoundError,
        errors.CursorExpiredError,
    ):
        assert issubclass(cls, errors.SyncError) and not cls.retryable
        assert not issubclass(cls, errors.TransientError)


@pytest.mark.parametrize(
    ("status", "retry_after", "not_found", "expected"),
    [
        (400, None, False, errors.BadRequestError),
        (401, None, False, errors.CredentialsError),
        (403, None, False, errors.CredentialsError),
        (404, None, True, errors.NotFoundError),
        (404, None, False, errors.UnexpectedStatusError),
        (408, None, False, errors.TransientError),
        (410, None, False, errors.CursorExpiredError),
        (413, None, False, errors.TooLargeError),
        (429, "5", False, errors.RateLimitedError),
        (429, None, False, errors.TransientError),
        (503, "5", False, errors.RateLimitedError),
        (503, "soon", False, errors.TransientError),
        (500, "5", False, errors.TransientError),
        (502, None, False, errors.TransientError),
        (302, None, False, errors.UnexpectedStatusError),
    ],
)
def test_error_for_status(status, retry_after, not_found, expected):
    error = errors.error_for_status(status, "GET /x", retry_after=retry_after, not_found=not_found)
    assert type(error) is expected and error.status == status


def test_parse_retry_after():
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert errors.parse_retry_after("120", now=now) == 120.0
    assert errors.parse_retry_after(" 0 ", now=now) == 0.0
    date = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert errors.parse_retry_after(date, now=now) == 90.0
    assert errors.parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now=now) == 0.0  # past
    assert errors.parse_retry_after("99999999999", now=now) == errors.MAX_RETRY_AFTER_S
    for junk in (None, "", "-5", "1.5", "soon", "Mon, 99 Foo 2026 99:99:99 GMT"):
        assert errors.parse_retry_after(junk, now=now) is None


def test_backoff_delay_is_full_jitter_within_bounds():
    rng = random.Random(1)
    for attempt in range(0, 70):
        ceiling = min(30.0, 2.0**attempt)
        delays = [backoff_delay(attempt, rng=rng) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # jitter covers the range, not a fixed point
    assert backoff_delay(3, base=0.5, cap=2.0, rng=random.Random(2)) <= 2.0
    assert backoff_delay(-1, rng=random.Random(2)) <= 1.0


def test_retry_after_floor_never_waits_less_than_asked():
    rng = random.Random(5)
    waits = [retry_after_floor(7.0, rng) for _ in range(500)]
    assert all(7.0 <= w <= 8.0 for w in waits) and len(set(waits)) > 100
