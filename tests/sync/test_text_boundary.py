"""Every string from the OMS loses its control characters at the contract models."""

from __future__ import annotations

import json

import pytest

from sync.models import check_snapshot, parse_changes_page, parse_event_results
from sync.text import strip_controls
from tests.hostile_text import CLEAR, OSC52, SHOWN, has_control_characters, hostile_snapshot


def test_snapshot_strings_lose_control_characters_and_keep_markup():
    snap, error = check_snapshot(hostile_snapshot())
    assert error is None and snap is not None
    assert snap.order_id == SHOWN["order_id"]
    assert snap.customer.name == SHOWN["name"]
    assert snap.arrival is not None and snap.arrival.vehicle == SHOWN["vehicle"]
    assert snap.arrival.bay == SHOWN["bay"]
    assert tuple(line.description for line in snap.lines) == SHOWN["descriptions"]
    assert [line.line_id for line in snap.lines] == ["L[i]", "L2[/]"]
    assert {line.sku for line in snap.lines} == {"S[/b]c"}


def test_quarantined_snapshot_names_its_order_without_control_characters():
    raw = hostile_snapshot()
    raw["lines"] = []  # invalid: quarantined, but still named
    page = parse_changes_page(json.dumps({"changes": [{"change_id": f"c1{CLEAR}", "order": raw}],
                                          "cursor": "k", "has_more": False}))
    change = page.changes[0]
    assert change.snapshot is None and change.order_id == SHOWN["order_id"]
    assert change.change_id == f"c1{CLEAR}"  # opaque: handed back to the OMS byte for byte


@pytest.mark.parametrize("field", ["order_id", "line_id", "sku", "pickup_code"])
def test_an_identifier_with_a_control_character_is_refused_not_cleaned(field):
    """Cleaned, W1000001<RLO> and W1000001 would be one order: the snapshot would overwrite another."""
    raw = hostile_snapshot(order_id="W1000001")
    target = raw["lines"][0] if field in ("line_id", "sku") else raw
    target[field] = f"{target[field]}\u202e"
    snap, error = check_snapshot(raw)
    assert snap is None and error is not None and field in error
    page = parse_changes_page(json.dumps({"changes": [{"change_id": "c", "order": raw}],
                                          "cursor": "k", "has_more": False}))
    label = page.changes[0].order_id
    assert label is not None and not has_control_characters(label)
    if field == "order_id":
        assert label == "W1000001\\u202e"  # written out: never the id of the other order


def test_event_result_messages_lose_control_characters():
    event_id = "5f0c7f5e-8f4b-4d43-9a55-0b8e2f1d7a10"
    body = json.dumps({"results": [{"event_id": event_id, "status": "rejected",
                                    "code": f"bad{CLEAR}", "message": f"no{OSC52} [/x]"}]})
    result = parse_event_results(body, [event_id])[0]
    assert result.code == "bad[2J" and result.message == "no]52;c;aGk= [/x]"


def test_line_breaks_become_spaces_and_printable_text_is_untouched():
    assert strip_controls("a\tb\nc\r\nd") == "a b c  d"
    assert strip_controls("Zoë Ng \u00a0 №5 [b]") == "Zoë Ng \u00a0 №5 [b]"
    assert strip_controls("evil\u202etxt.exe") == "eviltxt.exe"
