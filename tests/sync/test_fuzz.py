"""Hostile bodies for parse_changes_page: only the sync error tree, never a bad snapshot."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync.errors import BadResponseError, SyncError
from sync.models import parse_changes_page
from sync.samples import sample_orders
from tests.sync.conftest import NOW

VALID = sample_orders(3, seed=11, now=NOW)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)

# Each mutation makes a valid snapshot invalid for a reason the contract names.
MUTATIONS: list[tuple[str, Any]] = [
    ("order_id", ""),
    ("order_id", "x" * 65),
    ("order_id", 1234),
    ("version", 0),
    ("version", -3),
    ("version", "three"),
    ("version", None),
    ("status", ""),
    ("status", None),
    ("fulfillment", "delivery"),
    ("customer", None),
    ("customer", {"phone_last4": "1234"}),
    ("pickup_code", "abc"),
    ("pickup_code", "x" * 17),
    ("pickup_window", {"start": "2026-11-23T10:00:00Z"}),
    ("pickup_window", {"start": "2026-11-23T10:00:00", "end": "2026-11-23T12:00:00"}),
    ("hold_until", "next tuesday"),
    ("lines", []),
    ("lines", None),
    ("lines", "1 drill"),
    ("arrival", {"bay": "3"}),
    ("updated_at", None),
    ("updated_at", "2026-13-01T00:00:00Z"),
]
REQUIRED = {"order_id", "version", "status", "fulfillment", "customer", "pickup_code", "lines", "updated_at"}
LINE_MUTATIONS: list[tuple[str, Any]] = [
    ("gtin", "123"),
    ("gtin", "40063813339311234"),
    ("gtin", "40063813339a1"),
    ("quantity", 0),
    ("quantity", 1.5),
    ("line_id", ""),
    ("sku", None),
]


def _page(orders: list[Any]) -> bytes:
    changes = [{"change_id": f"c{i}", "order": order} for i, order in enumerate(orders)]
    return json.dumps({"changes": changes, "cursor": "abc", "has_more": False}).encode()


def _parse_safely(body: bytes | str):
    try:
        return parse_changes_page(body)
    except SyncError as exc:
        assert isinstance(exc, BadResponseError)
        assert len(str(exc)) <= 500
        return None


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    kind=st.sampled_from(["bytes", "json_body", "json_order", "mutated", "line", "truncated"]),
)
def test_hostile_bodies_never_escape_the_tree_nor_pass_as_snapshots(data, kind):
    if kind == "bytes":
        _parse_safely(data.draw(st.binary(max_size=200)))
    elif kind == "json_body":
        _parse_safely(json.dumps(data.draw(JSON)))
    elif kind == "json_order":
        raw = data.draw(JSON)
        page = _parse_safely(_page([raw, VALID[0]]))
        assert page is not None and page.changes[1].snapshot is not None
        change = page.changes[0]
        # Random JSON is never a whole snapshot: it would need lines, times, a customer.
        assert change.snapshot is None and change.error
    elif kind in ("mutated", "line"):
        order = copy.deepcopy(data.draw(st.sampled_from(VALID)))
        if kind == "mutated":
            key, value = data.draw(st.sampled_from(MUTATIONS))
            if data.draw(st.booleans()) and key in REQUIRED:
                del order[key]
            else:
                order[key] = value
        else:
            key, value = data.draw(st.sampled_from(LINE_MUTATIONS))
            order["lines"][0][key] = value
        page = _parse_safely(_page([VALID[1], order, VALID[2]]))
        assert page is not None
        good1, bad, good2 = page.changes
        assert bad.snapshot is None and bad.error, (key, value)
        assert len(bad.error) <= 400
        assert good1.snapshot is not None and good2.snapshot is not None
    else:
        body = _page(VALID)
        cut = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
        assert _parse_safely(body[:cut]) is None


def test_deep_nesting_and_huge_numbers_are_bad_responses():
    for body in (
        b"[" * 100_000,
        b'{"changes": [], "cursor": "a", "has_more": ' + b"9" * 5000 + b"}",
        b'{"changes": NaN}',
        "\ud800".encode("utf-8", "surrogatepass"),
    ):
        assert _parse_safely(body) is None


def test_error_reason_does_not_echo_the_payload():
    order = copy.deepcopy(VALID[0])
    order["status"] = "S" * 100_000
    page = parse_changes_page(_page([order]))
    assert page.changes[0].snapshot is None
    assert "SSSS" not in page.changes[0].error and len(page.changes[0].error) < 200
