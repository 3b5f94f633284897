"""The Medusa adapter's mapping, without a server (the real-server tests are tests/medusa)."""

from __future__ import annotations

import pytest

from sync.errors import BadResponseError
from sync.medusa.mapping import (
    NO_PICKUP_CODE,
    contract_status,
    decode_cursor,
    encode_cursor,
    entry_fields,
    parse_order,
    to_snapshot,
)
from sync.models import OrderSnapshot


def order(**changes) -> dict:
    base = {
        "id": "order_01ABC", "display_id": 42, "status": "pending",
        "metadata": {"pickup_code": "q4x7-m2k9"},
        "email": "ann@example.com", "updated_at": "2026-11-23T10:00:00.123Z",
        "shipping_address": {"first_name": "Ann", "last_name": "Smith", "phone": "+1 555 010 1234"},
        "items": [{"id": "ordli_1", "variant_sku": "HOSE-15", "variant_barcode": "4006381333931",
                   "product_title": "Garden hose", "variant_title": "15 m", "quantity": 2}],
        "fulfillments": [],
    }
    return {**base, **changes}


def test_a_fresh_order_is_a_valid_released_snapshot():
    snap = OrderSnapshot.model_validate(to_snapshot(order()))
    assert (snap.status, snap.pickup_code, snap.customer.phone_last4) == ("released", "Q4X7-M2K9", "1234")
    assert snap.version == 1795428000123
    assert snap.lines[0].description == "Garden hose (15 m)" and snap.lines[0].gtin == "4006381333931"


@pytest.mark.parametrize(("changes", "status"), [
    ({"fulfillments": [{"created_at": "2026-11-23T10:01:00Z", "canceled_at": None, "delivered_at": None}]},
     "ready_for_pickup"),
    ({"fulfillments": [{"created_at": "2026-11-23T10:01:00Z", "canceled_at": None,
                        "delivered_at": "2026-11-23T10:02:00Z"}]}, "picked_up"),
    ({"fulfillments": [{"created_at": "2026-11-23T10:01:00Z", "canceled_at": "2026-11-23T10:02:00Z",
                        "delivered_at": None}]}, "released"),
    ({"status": "canceled"}, "cancelled"),
])
def test_status_follows_order_and_fulfillments(changes, status):
    assert contract_status(order(**changes)) == status


def test_a_fulfillment_moves_the_version_and_metadata_code_wins():
    later = order(fulfillments=[{"created_at": "2026-11-23T10:05:00Z", "canceled_at": None,
                                 "delivered_at": None}], metadata={"pickup_code": "k7q9mx42"})
    snap = to_snapshot(later)
    assert snap["version"] > to_snapshot(order())["version"] and snap["pickup_code"] == "K7Q9MX42"


@pytest.mark.parametrize("metadata", [None, {}, {"pickup_code": "K7Q9MX"}, {"pickup_code": 12345678},
                                      {"pickup_code": "has space1"}])
def test_no_guessable_code_an_order_without_a_good_one_is_quarantined(metadata):
    # The order number (display_id 42 -> "000042") is in the customer's emails: never a code.
    bare = order(metadata=metadata)
    fields = entry_fields(bare)
    assert fields["snapshot"] is None and fields["error"] == NO_PICKUP_CODE
    assert fields["order_id"] == "order_01ABC" and "000042" not in str(fields["raw"]["pickup_code"])
    assert "metadata.pickup_code" in NO_PICKUP_CODE and "8-16" in NO_PICKUP_CODE
    with pytest.raises(BadResponseError, match="no pickup code"):
        parse_order(bare)


def test_cursor_round_trip_and_foreign_cursor():
    assert decode_cursor(encode_cursor(17, "order_1")) == (17, "order_1")
    assert decode_cursor(None) == (0, "")
    with pytest.raises(ValueError):
        decode_cursor("store-sync-cursor-123")


def test_line_item_metadata_carries_the_1_1_line_fields():
    items = [{"id": "ordli_1", "variant_sku": "WINE-1", "product_title": "Red wine", "quantity": 2,
              "metadata": {"location": "A12-3", "pick_sequence": 4, "age_restricted": True}},
             {"id": "ordli_2", "variant_sku": "HOSE-15", "product_title": "Hose", "quantity": 1,
              "metadata": {"location": 7, "pick_sequence": "first", "age_restricted": "yes"}}]
    snap = OrderSnapshot.model_validate(to_snapshot(order(items=items)))
    wine, hose = snap.lines
    assert (wine.location, wine.pick_sequence, wine.age_restricted) == ("A12-3", 4, True)
    assert (hose.location, hose.pick_sequence, hose.age_restricted) == (None, None, False)


def test_partial_pickup_and_short_units_map_to_line_quantities():
    delivered = {"created_at": "2026-11-23T10:01:00Z", "canceled_at": None,
                 "delivered_at": "2026-11-23T10:02:00Z",
                 "items": [{"line_item_id": "ordli_1", "quantity": 1}]}
    waiting = {"created_at": "2026-11-23T10:02:00Z", "canceled_at": None, "delivered_at": None,
               "items": [{"line_item_id": "ordli_1", "quantity": 1}]}
    o = order(fulfillments=[delivered, waiting],
              metadata={"pickup_code": "q4x7-m2k9", "store_short_units": {"ordli_1": 5},
                        "store_hold_until": "2026-11-25T18:00:00Z"})
    snap = OrderSnapshot.model_validate(to_snapshot(o))
    assert snap.status == "ready_for_pickup"  # one tote still waits
    assert (snap.lines[0].quantity_picked_up, snap.lines[0].quantity_cancelled) == (1, 1)
    assert snap.hold_until is not None and snap.hold_until.isoformat().startswith("2026-11-25T18")
    waiting["delivered_at"] = "2026-11-23T10:05:00Z"
    assert contract_status(o) == "picked_up"
