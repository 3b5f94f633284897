from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.scan_parse import (
    MAX_SCAN_CHARS,
    Scan,
    ScanPatterns,
    classify,
    normalise_gs,
    split_symbology,
)

GTIN13 = "5901234123457"  # valid check digit
GTIN14 = "09506000134352"

# (raw, kind, value, extra expectations)
TABLE = [
    # the store's own labels
    ("W1000234", "order", "W1000234", {"order_id": "W1000234"}),
    ("W1000234\r\n", "order", "W1000234", {}),
    ("w1000234", "order", "W1000234", {}),  # wedge with Caps Lock on
    ("]C0W1000234", "order", "W1000234", {"symbology": "]C0"}),
    ("B-07", "bin", "B-07", {}),
    ("AA-112", "bin", "AA-112", {}),
    ("A1042", "badge", "A1042", {}),
    ("M007", "badge", "M007", {}),
    ("K7Q9MX", "pickup_code", "K7Q9MX", {"pickup_code": "K7Q9MX"}),
    ("1234", "pickup_code", "1234", {}),
    # QR payloads
    ("PICKUP:W1000234:K7Q9MX", "pickup_code", "K7Q9MX", {"order_id": "W1000234"}),
    ("]Q1PICKUP:W1000234:K7Q9MX", "pickup_code", "K7Q9MX", {"symbology": "]Q1"}),
    ("pickup:w1000234:k7q9mx", "pickup_code", "K7Q9MX", {"order_id": "W1000234"}),
    ("PICKUP:K7Q9MX", "pickup_code", "K7Q9MX", {"order_id": None}),
    (
        '{"order_id": "W1000234", "pickup_code": "K7Q9MX"}',
        "pickup_code",
        "K7Q9MX",
        {"order_id": "W1000234", "source": "json"},
    ),
    ('{"order_id": "W1000234"}', "order", "W1000234", {"source": "json"}),
    ('{"order_id": "W1000234",\n "pickup_code": "K7Q9MX"}', "pickup_code", "K7Q9MX", {}),
    # products: bare GTINs, validated by biip
    (GTIN13, "product", "0" + GTIN13, {"gtin": "0" + GTIN13}),
    ("96385074", "product", "00000096385074", {}),  # GTIN-8
    ("012345678905", "product", "00012345678905", {}),  # UPC-A / GTIN-12
    (GTIN14, "product", GTIN14, {}),
    ("]E0" + GTIN13, "product", "0" + GTIN13, {"symbology": "]E0"}),
    # GS1 element strings: real GS, manglings, FNC1 first, HRI
    (
        f"01{GTIN14}\x1d10ABC123\x1d17261231",
        "product",
        GTIN14,
        {"ai": (("01", GTIN14), ("10", "ABC123"), ("17", "261231")), "source": "gs1"},
    ),
    (f"]C101{GTIN14}10ABC123", "product", GTIN14, {"ai": (("01", GTIN14), ("10", "ABC123"))}),
    (
        f"]d2\x1d01{GTIN14}10ABC<GS>21XYZ",
        "product",
        GTIN14,
        {"ai": (("01", GTIN14), ("10", "ABC"), ("21", "XYZ"))},
    ),
    (f"01{GTIN14}10LOT7^]21S1", "product", GTIN14, {"ai": (("01", GTIN14), ("10", "LOT7"), ("21", "S1"))}),
    (f"01{GTIN14}10LOT7[GS]21S1", "product", GTIN14, {}),
    (f"01{GTIN14}10LOT7{{FNC1}}21S1", "product", GTIN14, {}),
    (f"01{GTIN14}", "product", GTIN14, {"source": "gs1"}),
    (f"(01){GTIN14}(10)ABC", "product", GTIN14, {"ai": (("01", GTIN14), ("10", "ABC"))}),
    # GS1 Digital Link
    (
        f"https://id.example.com/01/{GTIN14}/10/ABC?17=261231",
        "product",
        GTIN14,
        {"source": "digital_link", "ai": (("01", GTIN14), ("10", "ABC"), ("17", "261231"))},
    ),
    (f"https://id.example.com/01/{GTIN14}", "product", GTIN14, {}),
    # bad check digits are never products
    ("5901234123458", "pickup_code", "5901234123458", {"gtin": None}),
    ("]E05901234123458", "unrecognised", "5901234123458", {}),
    ("0109506000134353", "unrecognised", "0109506000134353", {}),
    ("https://id.example.com/01/09506000134353", "unrecognised", None, {}),
    # not a GTIN: SSCC only
    ("00106141411234567897", "unrecognised", None, {}),
    # garbage
    ("", "unrecognised", "", {"reason": "empty"}),
    ("   \r\n", "unrecognised", "", {}),
    ("W100\x00234", "unrecognised", None, {"reason": "control characters"}),
    ("\x1b[A", "unrecognised", None, {}),
    ("https://example.com/not-a-link", "unrecognised", None, {}),
    ("PICKUP:W1000234:K7Q9MX:extra", "unrecognised", None, {}),
    ("PICKUP:NOTANORDER:K7Q9MX", "unrecognised", None, {}),
    ('{"order_id": ', "unrecognised", None, {}),
    ("[1, 2]", "unrecognised", None, {}),
    ("hello world", "unrecognised", None, {}),
    ("]", "unrecognised", None, {}),
    ("x" * (MAX_SCAN_CHARS + 1), "unrecognised", "", {}),
]


@pytest.mark.parametrize(("raw", "kind", "value", "extra"), TABLE, ids=[repr(r[0])[:40] for r in TABLE])
def test_classify_table(raw: str, kind: str, value: str | None, extra: dict) -> None:
    scan = classify(raw)
    assert scan.kind == kind, scan
    assert scan.raw == raw
    if value is not None:
        assert scan.value == value
    for attr, expected in extra.items():
        assert getattr(scan, attr) == expected, (attr, scan)
    if kind == "unrecognised":
        assert scan.reason
    if kind == "product":
        assert scan.gtin is not None and len(scan.gtin) == 14


def test_aim_identifier_is_split_and_named() -> None:
    assert split_symbology("]C1rest") == ("]C1", "rest")
    assert split_symbology("]e0x") == ("]e0", "x")
    assert split_symbology("no id") == (None, "no id")
    assert split_symbology("]!1x") == (None, "]!1x")
    assert classify("]Q1K7Q9MX").symbology_name == "QR Code"
    assert classify("]E0" + GTIN13).symbology_name == "EAN/UPC"


def test_gs_manglings_become_real_gs() -> None:
    for mangled in ("<GS>", "<gs>", "[GS]", "{GS}", "^]", "\u241d", "\\x1d", "<FNC1>"):
        assert normalise_gs(f"a{mangled}b") == "a\x1db"
    assert normalise_gs("\x1d01x") == "01x"  # FNC1 in first position


def test_precedence_own_labels_win_over_gtin_when_patterns_overlap() -> None:
    numeric_orders = ScanPatterns(order=r"[0-9]{8,13}")
    assert classify(GTIN13, numeric_orders).kind == "order"
    # ...but an EAN symbology identifier says "retail product", whatever the pattern.
    assert classify("]E0" + GTIN13, numeric_orders).kind == "product"


def test_precedence_bin_before_badge_when_patterns_overlap() -> None:
    overlapping = ScanPatterns(bin=r"[A-Z]-?[0-9]{1,3}", badge=r"[AM][0-9]{1,6}")
    assert classify("A12", overlapping).kind == "bin"
    assert classify("A1234", overlapping).kind == "badge"


def test_fold_case_off_keeps_case() -> None:
    strict = ScanPatterns(fold_case=False)
    assert (
        classify("w1000234", strict).kind == "pickup_code"
        or classify("w1000234", strict).kind == "unrecognised"
    )
    assert classify("W1000234", strict).kind == "order"


def test_bad_pattern_fails_at_configuration() -> None:
    with pytest.raises(re.error):
        ScanPatterns(order="[unclosed")


def test_non_text_input_is_unrecognised() -> None:
    scan = classify(b"W1000234")  # type: ignore[arg-type]
    assert scan.kind == "unrecognised"


def test_default_patterns_do_not_overlap() -> None:
    examples = {"order": ["W1000234", "order_01JD5X3ZK8Q9W2E7R4T6Y8U0PA"],
                "bin": ["B-07", "B7", "BIN-12", "BIN12"], "badge": ["A1042", "M007"],
                "pickup_code": ["K7Q9MX"]}
    p = ScanPatterns()
    for kind, found in examples.items():
        for example in found:
            matching = [k for k in examples if p.match(k, example)]
            assert matching in ([kind], [kind, "pickup_code"]), (example, matching)


@pytest.mark.parametrize(("raw", "expect", "kind", "value"), [
    ("B7", "bin", "bin", "B7"),
    ("SHELF-3", "bin", "bin", "SHELF-3"),        # not a bin label, but a valid bin id when a bin is due
    ("A1234", "pickup_code", "pickup_code", "A1234"),  # would read as a badge elsewhere
    ("12345670", "pickup_code", "pickup_code", "12345670"),  # would read as a GTIN-8 elsewhere
    ("W123456", "pickup_code", "pickup_code", "W123456"),  # would read as an order elsewhere
    ("k7q9mx", "pickup_code", "pickup_code", "K7Q9MX"),
    ("A100", "badge", "badge", "A100"),
    # Syntax still wins over the expectation: a product is never taken for a bin or a code.
    ("]E0" + GTIN13, "bin", "product", "0" + GTIN13),
    ("PICKUP:W1000234:K7Q9MX", "bin", "pickup_code", "K7Q9MX"),
    # Not fitting the expectation: the usual precedence.
    ("W1000234", "bin", "order", "W1000234"),
    (GTIN13, "bin", "product", "0" + GTIN13),  # the stage dialog takes items too
    ("K7Q9MX", "bin", "pickup_code", "K7Q9MX"),  # a customer's code never becomes a bin
])
def test_the_expected_kind_wins_when_it_fits(raw, expect, kind, value) -> None:
    p = ScanPatterns(bin_ids=r"^[A-Z0-9][A-Z0-9-]{0,15}$")
    scan = classify(raw, p, expect=expect)
    assert (scan.kind, scan.value) == (kind, value), scan
    if expect != kind or raw in ("A1234", "12345670", "W123456", "SHELF-3"):
        assert classify(raw, p).kind != expect  # only the expectation made it so


def test_medusa_order_ids_keep_their_case() -> None:
    scan = classify("order_01JD5X3ZK8Q9W2E7R4T6Y8U0PA")
    assert (scan.kind, scan.order_id) == ("order", "order_01JD5X3ZK8Q9W2E7R4T6Y8U0PA")
    assert classify("PICKUP:order_01JD5X3ZK8Q9W2E7R4T6Y8U0PA:K7Q9MX").order_id == \
        "order_01JD5X3ZK8Q9W2E7R4T6Y8U0PA"
    assert classify("w1000234").order_id == "W1000234"  # Caps Lock off still normalises ours


def test_patterns_come_from_the_scanning_config(tmp_path) -> None:
    from agent.store.devices import scan_patterns, serial_terminators
    from config.errors import ConfigError
    from config.loader import load_settings
    from tests.conftest import write_config

    path = write_config(tmp_path)
    path.write_text(path.read_text() + '\n[scanning]\norder_pattern = "ORD-[0-9]{6}"\n'
                    'badge_pattern = "EMP[0-9]{4}"\nserial_terminators = "\\t"\n')
    settings = load_settings(path, environ={})
    p = scan_patterns(settings)
    assert classify("ORD-123456", p).kind == "order"
    assert classify("W1000234", p).kind != "order"
    assert classify("EMP0042", p, expect="badge").kind == "badge"
    assert serial_terminators(settings) == b"\t"
    path.write_text(path.read_text() + 'bin_pattern = "B-[0-9"\n')
    with pytest.raises(ConfigError) as exc:
        load_settings(path, environ={})
    assert "scanning.bin_pattern" in str(exc.value) and "regular expression" in str(exc.value)


_ALPHABET = '0123456789ABCWMKQXabc-:{}"[]()<>^]/.?=_ \r\n\t\x1d\x00\x1b\x7f\u241d\u00e9\u4e2d'
_fragment = st.sampled_from(
    [
        "",
        "]C1",
        "]E0",
        "]Q1",
        "]d2",
        "01",
        GTIN14,
        GTIN13,
        "PICKUP:",
        "W1000234",
        "https://id.x/01/",
        '{"order_id":',
        '"pickup_code":',
        "<GS>",
        "(01)",
        "10",
        "21",
        "\x1d",
    ]
)
# Fragments glued to noise reach the deep branches (GS1, JSON, Digital Link)
# far more often than plain text; builds() is much cheaper than lists().
_scan_text = st.one_of(
    st.text(max_size=60),
    st.builds(
        lambda a, b, c, d: a + b + c + d,
        _fragment,
        st.text(_ALPHABET, max_size=16),
        _fragment,
        st.text(_ALPHABET, max_size=8),
    ),
)


@settings(
    max_examples=10000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(_scan_text)
def test_fuzz_classify_never_raises(raw: str) -> None:
    scan = classify(raw)
    assert isinstance(scan, Scan)
    assert scan.raw == raw
    assert scan.kind in {"order", "bin", "pickup_code", "badge", "product", "unrecognised"}
    if scan.kind == "product":
        assert scan.gtin is not None and len(scan.gtin) == 14
    elif scan.kind == "unrecognised":
        assert scan.reason
