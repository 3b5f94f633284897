from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from drivers.errors import DeviceConfigError, ReceiptRenderError
from drivers.receipts import (
    PickupReceipt,
    ReceiptItem,
    ReturnSlip,
    render_bin_label,
    render_pickup_receipt,
    render_return_slip,
    render_test_page,
)

AT = datetime(2025, 3, 14, 15, 9, tzinfo=UTC)
ITEMS = (
    ReceiptItem("Cordless drill 18V, two batteries and a charger in a case", 1, "100234"),
    ReceiptItem("Drill bit set, 12 pieces", 2),
)
RECEIPT = PickupReceipt(
    store_id="S042",
    order_id="W1000234",
    associate="Jane D. (A1042)",
    handed_over_at=AT,
    verified_by="pickup_code",
    items=ITEMS,
)
OVERRIDE = PickupReceipt(
    store_id="S042",
    order_id="W1000234",
    associate="Jane D. (A1042)",
    handed_over_at=AT,
    verified_by="manager_override",
    override_manager="M1",
    items=ITEMS,
)
SLIP = ReturnSlip(
    store_id="S042",
    order_id="W1000777",
    bin_id="B-07",
    reason="not collected within 7 days",
    associate="Sam K. (A2001)",
    at=AT,
    items=ITEMS,
)

TEMPLATES = {
    "pickup": lambda: render_pickup_receipt(RECEIPT),
    "pickup_override": lambda: render_pickup_receipt(OVERRIDE),
    "pickup_reprint": lambda: render_pickup_receipt({**RECEIPT.__dict__, "reprint": True}),
    "bin_label": lambda: render_bin_label("B-07", store_id="S042"),
    "return_slip": lambda: render_return_slip(SLIP),
    "test_page": lambda: render_test_page(printer_id="front", store_id="S042", at=AT),
    "pickup_58mm": lambda: render_pickup_receipt(RECEIPT, profile="POS-5890"),
}

# Generated once from the templates above with python-escpos 3.1 (sha256, length).
# A change here is a change on paper: look at the bytes (test_show_bytes below
# prints them with -s) before regenerating.
GOLDEN = {
    "pickup": ("3b3b17d2475b00adef710daffc36b2481f569cb4e275997e1005e1f383a4c01d", 537),
    "pickup_override": ("0f74f1138e8e56bfbd7a5c1e709f72e2983876f73f7e5d82adb954e58b4a4353", 550),
    "pickup_reprint": ("9fbac5ac75add52f5c15358c4cc4a4f2671be772b4c78afa9a0267fafafab66c", 643),
    "bin_label": ("5fe35bab8cf39a850062bcd99ee42d5fd465e390865ba23c29a41987fc89e0cd", 132),
    "return_slip": ("46fbfc99b919c1d1f8b9d6d8b245717929b207a3d2dbd882bb2726319a75a317", 569),
    "test_page": ("6ea5fe7fa7dd7eae5f2b2807ec5240779ef35b389dc5bfb6cdc9123823da614a", 530),
    "pickup_58mm": ("b3dadcc816557763ccec35779cb69b26e8a8534d9e20e412894df54c65a4909c", 521),
}

SUBSTRINGS = {
    "pickup": [
        b"\x1b@",
        b"PICKUP RECEIPT",
        b"Store S042",
        b"Order      W1000234",
        b"Picked up  Fri, Mar 14, 2025 3:09 PM UTC",
        b"Associate  Jane D. (A1042)",
        b"Verified   pickup code",
        b"   2  Drill bit set, 12 pieces",
        b"SKU 100234",
        b"   3  item(s) in total",
        b"\x1dV",
    ],
    "pickup_override": [b"Verified   manager override (by M1)"],
    "pickup_reprint": [b"COPY - REPRINT"],
    "bin_label": [b"\x1d!\x33", b"B-07", b"Store S042"],
    "return_slip": [
        b"RETURN TO SHELF",
        b"From bin   B-07",
        b"Reason     not collected within",
        b"Order      W1000777",
    ],
    "test_page": [b"PRINTER TEST", b"Printer    front", b"Profile    default"],
    "pickup_58mm": [b"-" * 32 + b"\n"],
}


@pytest.mark.parametrize("name", TEMPLATES)
def test_golden_bytes(name: str) -> None:
    data = TEMPLATES[name]()
    assert data == TEMPLATES[name](), "rendering must be deterministic"
    for sub in SUBSTRINGS[name]:
        assert sub in data, sub
    assert (hashlib.sha256(data).hexdigest(), len(data)) == GOLDEN[name]


def test_every_template_renders_a_whole_job_the_same_way_twice() -> None:
    """A job starts by resetting the printer and ends by feeding the paper past the
    tear bar; the same input gives the same bytes (``pytest -s`` shows them)."""
    for name, render in TEMPLATES.items():
        data = render()
        print(f"--- {name}\n{data.hex(' ', 16)}")
        assert data.startswith(b"\x1b@"), name
        assert b"\x1bd" in data[-8:], (name, data[-8:])
        assert render() == data, name
        assert len(data) > 100, (name, len(data))


def code128_payloads(data: bytes) -> list[str]:
    """Every GS k m=73 (Code128) payload in an ESC/POS stream, code-set prefixes decoded."""
    found, i = [], 0
    while (i := data.find(b"\x1dk", i)) != -1:
        m = data[i + 2]
        if m == 73:
            n = data[i + 3]
            raw = data[i + 4 : i + 4 + n].decode("ascii")
            assert raw[:2] in ("{A", "{B", "{C"), raw
            found.append(raw[2:].replace("{{", "{"))
            i += 4 + n
        else:
            i += 3
    return found


def test_pickup_receipt_barcode_carries_the_order_id() -> None:
    assert code128_payloads(render_pickup_receipt(RECEIPT)) == ["W1000234"]


def test_bin_label_and_slip_barcodes() -> None:
    assert code128_payloads(render_bin_label("B-07")) == ["B-07"]
    assert code128_payloads(render_return_slip(SLIP)) == ["W1000777"]
    assert code128_payloads(render_test_page(printer_id="front", store_id="S", at=AT)) == ["TEST-front"]


def test_braces_in_barcode_data_are_escaped() -> None:
    assert code128_payloads(render_bin_label("{X}")) == ["{X}"]


def test_reprint_marks_copy_and_original_does_not() -> None:
    assert b"COPY" not in render_pickup_receipt(RECEIPT)
    reprint = render_pickup_receipt(PickupReceipt(**{**RECEIPT.__dict__, "reprint": True}))
    assert reprint.count(b"COPY - REPRINT") == 2  # top and bottom: a torn copy is still marked


def test_dict_input_is_accepted() -> None:
    as_dict = {
        "store_id": "S042",
        "order_id": "W1000234",
        "associate": "Jane D. (A1042)",
        "handed_over_at": AT,
        "items": [
            {"description": ITEMS[0].description, "quantity": 1, "sku": "100234"},
            {"description": ITEMS[1].description, "quantity": 2},
        ],
        "extra_key_from_the_agent": "ignored",
    }
    assert render_pickup_receipt(as_dict) == render_pickup_receipt(RECEIPT)


def test_control_characters_in_text_cannot_inject_commands() -> None:
    evil = ReceiptItem("Drill\x1bp\x00\x19\xfa bits\x1dV\x00", 1)
    data = render_pickup_receipt(PickupReceipt(**{**RECEIPT.__dict__, "items": (evil,)}))
    assert b"\x1bp" not in data
    assert b"Drillp" in data


def test_unknown_profile_is_a_config_error() -> None:
    with pytest.raises(DeviceConfigError, match="TM-T88V"):
        render_pickup_receipt(RECEIPT, profile="TM-NOPE")


def test_unprintable_barcode_is_a_render_error() -> None:
    with pytest.raises(ReceiptRenderError):
        render_bin_label("Bé-07")
    with pytest.raises(ReceiptRenderError):
        render_pickup_receipt({"store_id": "S"})


def test_render_writes_nothing_to_stdout(capfd: pytest.CaptureFixture[str]) -> None:
    for render in TEMPLATES.values():
        render()
    out, _ = capfd.readouterr()
    assert out == ""


def test_a_slip_reads_in_words_with_the_note_and_a_local_date():
    """Reasons as words, the associate's note kept, no ISO timestamp on paper (issue: slips)."""
    slip = {"store_id": "S042", "order_id": "W1000777", "bin_id": "B-07", "reason": "no_show",
            "note": "called twice, no answer", "associate": "Dana", "at": "2026-12-02T12:00:00.000Z",
            "locale": "en_GB", "items": []}
    text = render_return_slip(slip)
    assert b"Reason     Customer did not come" in text
    assert b"Note       called twice, no answer" in text
    assert b"2026-12-02T" not in text and b"no_show" not in text
    assert b"Wed, 2 Dec 2026" in text or b"Wed 2 Dec 2026" in text
