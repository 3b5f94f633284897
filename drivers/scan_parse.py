"""Turn what a scanner sent into a ``Scan``: what was scanned, and its value.

Used for both serial scanners (``scanner_serial`` delivers frames) and
keyboard-wedge scanners (the UI's scan field delivers the typed text).
``classify`` never raises: garbage, control characters, empty or huge input
come back as kind ``unrecognised`` with the raw text and a ``reason``.

Preparation, in order:

1. Surrounding whitespace (including the scanner's CR/LF) is stripped.
2. An AIM symbology identifier (``]`` + code character + modifier, e.g.
   ``]C1`` GS1-128, ``]E0`` EAN-13/UPC-A, ``]Q1`` QR, ``]d2`` GS1 DataMatrix)
   is removed and kept in ``Scan.symbology``.
3. Control characters other than GS (and TAB/CR/LF inside JSON) -> unrecognised.

Precedence, first match wins (documented in docs/devices.md):

1. Structured payloads, recognised by syntax: ``PICKUP:<order>:<code>`` QR,
   a JSON object with ``order_id``/``pickup_code``, a GS1 Digital Link URI.
2. GS1 element strings - when the symbology says GS1 (]C1 ]e0 ]d2 ]Q3 ]J1),
   or the text holds a group separator (or a keyboard-wedge mangling of it),
   is in HRI form ``(01)...``, or starts with AI 01 + 14 digits -> product
   when AI 01 carries a valid GTIN, else unrecognised.
3. EAN/UPC symbology (]E*) -> product when the GTIN is valid, else unrecognised.
4. The kind the screen is waiting for (``expect``), when the text matches its
   pattern: a pickup dialog takes ``A1234`` as a code, though elsewhere it
   would read as a badge. (A screen waiting for a bin also takes any valid
   bin id, ``pickup.bin_pattern``, but only what no label, GTIN or pickup code claims.)
5. order pattern, 6. bin pattern, 7. badge pattern - the store's own labels
   win over a bare number that also happens to be a valid GTIN.
8. A bare GTIN-8/12/13/14 whose check digit is valid -> product.
9. pickup code pattern (last: it is the loosest).
10. Otherwise unrecognised.

Patterns come from the ``[scanning]`` config section (``ScanPatterns``).

GTINs, element strings and Digital Links are parsed and check-digit
validated by ``biip``; ``Scan.gtin`` is always the 14-digit form.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from biip import ParseError
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gs1_messages import GS1Message
from biip.gtin import Gtin

from config.settings import ScanningSettings

ScanKind = Literal["order", "bin", "pickup_code", "badge", "product", "unrecognised"]

MAX_SCAN_CHARS = 4096
GS = "\x1d"

_DEFAULTS = ScanningSettings()
_AIM = re.compile(r"\](?P<code>[A-Za-z])(?P<mod>[0-9A-Za-z])")
_GS1_SYMBOLOGIES = frozenset({"]C1", "]e0", "]d2", "]Q3", "]J1"})
SYMBOLOGY_NAMES = {
    "A": "Code 39",
    "C": "Code 128",
    "d": "Data Matrix",
    "E": "EAN/UPC",
    "e": "GS1 DataBar",
    "F": "Codabar",
    "G": "Code 93",
    "I": "Interleaved 2 of 5",
    "J": "GS1 QR/Data Matrix (ISO/IEC 15424 J)",
    "L": "PDF417",
    "Q": "QR Code",
    "z": "Aztec",
}
# How group separators arrive through keyboard wedges and terminal emulators
# that cannot type 0x1D: scanner "display" notations, caret notation, the
# Unicode control picture, and literal escapes.
_GS_MANGLINGS = re.compile(
    r"<GS>|\[GS\]|\{GS\}|<FNC1>|\[FNC1\]|\{FNC1\}|\^\]|\u241d|\\x1[dD]|\\u001[dD]",
    re.IGNORECASE,
)
_BAD_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1c\x1e\x1f\x7f-\x9f]")
_JSON_OK_CONTROL = re.compile(r"[\t\r\n]")
_HRI = re.compile(r"\([0-9]{2,4}\)")
_AI01_PREFIX = re.compile(r"01[0-9]{14}")
_PICKUP_QR = re.compile(r"PICKUP:(?:(?P<order>[^:]+):)?(?P<code>[^:]+)", re.IGNORECASE)


@dataclass(frozen=True)
class ScanPatterns:
    """The store's own label formats, as regular expressions matched against the whole text.

    Defaults do not overlap each other nor a bare GTIN, so precedence only
    matters when a store configures broader patterns.
    """

    # Defaults and their meaning live with the config keys (config.settings.ScanningSettings).
    order: str = _DEFAULTS.order_pattern
    bin: str = _DEFAULTS.bin_pattern
    badge: str = _DEFAULTS.badge_pattern
    pickup_code: str = _DEFAULTS.pickup_code_pattern
    fold_case: bool = _DEFAULTS.fold_case
    _compiled: dict[str, re.Pattern[str]] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    bin_ids: str | None = None
    """What a bin id may be anywhere (config ``pickup.bin_pattern``); a screen waiting for a
    bin accepts it even when it is no bin label, e.g. a hand-written shelf tag."""

    @classmethod
    def from_settings(cls, scanning: ScanningSettings, *, bin_ids: str | None = None) -> ScanPatterns:
        return cls(order=scanning.order_pattern, bin=scanning.bin_pattern, badge=scanning.badge_pattern,
                   pickup_code=scanning.pickup_code_pattern, fold_case=scanning.fold_case,
                   bin_ids=bin_ids)

    def __post_init__(self) -> None:
        flags = re.ASCII | (re.IGNORECASE if self.fold_case else 0)
        for name in ("order", "bin", "badge", "pickup_code"):
            # re.error surfaces at configuration time, not at the first scan.
            self._compiled[name] = re.compile(getattr(self, name), flags)
            self._compiled[f"{name}:exact"] = re.compile(getattr(self, name), re.ASCII)
        if self.bin_ids:
            self._compiled["bin_ids"] = re.compile(self.bin_ids, flags)

    def match(self, name: str, text: str) -> bool:
        return self._compiled[name].fullmatch(text) is not None

    def expected(self, name: str, text: str) -> bool:
        """Does ``text`` fit the kind a screen is waiting for (bins: a label or any valid bin id)."""
        if name == "bin" and "bin_ids" in self._compiled and self.match("bin_ids", self.norm(text)):
            return True
        return self.match(name, text)

    def norm(self, text: str, kind: str | None = None) -> str:
        """Upper-case under fold_case, except a value that already matches exactly as scanned.

        Ids with mixed case (Medusa's ``order_01H...``) must reach the store as the OMS wrote them.
        """
        if not self.fold_case:
            return text
        if kind is not None and self._compiled[f"{kind}:exact"].fullmatch(text):
            return text
        return text.upper()


DEFAULT_PATTERNS = ScanPatterns()


@dataclass(frozen=True)
class Scan:
    kind: ScanKind
    value: str
    """What the caller acts on: the order id, bin id, badge id, pickup code or 14-digit GTIN."""
    raw: str
    """Exactly what was received."""
    symbology: str | None = None
    """AIM symbology identifier, e.g. ``]C1``, when the scanner sent one."""
    gtin: str | None = None
    order_id: str | None = None
    pickup_code: str | None = None
    ai: tuple[tuple[str, str], ...] = ()
    """GS1 application identifiers and values, for GS1 element strings and Digital Links."""
    source: str = "text"
    """text, gs1, digital_link, pickup_qr or json."""
    reason: str | None = None
    """Why an ``unrecognised`` scan was not recognised."""

    @property
    def symbology_name(self) -> str | None:
        return SYMBOLOGY_NAMES.get(self.symbology[1]) if self.symbology else None


def split_symbology(text: str) -> tuple[str | None, str]:
    """Remove a leading AIM symbology identifier; returns (identifier or None, rest)."""
    m = _AIM.match(text)
    if m is None:
        return None, text
    return m.group(0), text[m.end() :]


def normalise_gs(text: str) -> str:
    """Real GS for every mangled one; a leading GS (FNC1 in first position) is dropped."""
    return _GS_MANGLINGS.sub(GS, text).lstrip(GS)


ExpectKind = Literal["order", "bin", "badge", "pickup_code"]


def classify(raw: str, patterns: ScanPatterns = DEFAULT_PATTERNS, expect: ExpectKind | None = None) -> Scan:
    """What ``raw`` is; never raises. ``expect``: the kind the screen is waiting for."""
    if not isinstance(raw, str):
        return Scan("unrecognised", "", repr(raw), reason="not text")
    try:
        return _classify(raw, patterns, expect)
    except Exception as exc:  # a library surprise must not reach the scan field
        return Scan("unrecognised", "", raw, reason=f"internal error: {type(exc).__name__}")


def _unrecognised(raw: str, text: str, sym: str | None, reason: str) -> Scan:
    return Scan("unrecognised", text, raw, symbology=sym, reason=reason)


def _classify(raw: str, p: ScanPatterns, expect: ExpectKind | None = None) -> Scan:
    if len(raw) > MAX_SCAN_CHARS:
        return Scan("unrecognised", "", raw, reason=f"longer than {MAX_SCAN_CHARS} characters")
    text = raw.strip(" \t\r\n")
    sym, text = split_symbology(text)
    if not text:
        return _unrecognised(raw, text, sym, "empty")
    if _BAD_CONTROL.search(text):
        return _unrecognised(raw, text, sym, "control characters")

    structured = _structured(raw, text, sym, p)
    if structured is not None:
        return structured
    if _JSON_OK_CONTROL.search(text):
        return _unrecognised(raw, text, sym, "control characters")

    gs1_text = normalise_gs(text)
    if (
        sym in _GS1_SYMBOLOGIES
        or GS in gs1_text
        or _HRI.match(text)
        or (_AI01_PREFIX.match(text) and len(text) >= 16)
    ):
        return _gs1(raw, text, gs1_text, sym)
    if sym is not None and sym[1] == "E":
        digits = text[:13] if sym == "]E3" and len(text) > 13 else text
        return _gtin(raw, digits, sym) or _unrecognised(raw, text, sym, "EAN/UPC symbol without a valid GTIN")

    if expect is not None and p.match(expect, text):
        return _label(expect, raw, text, sym, p)
    for kind in ("order", "bin", "badge"):
        if p.match(kind, text):
            return _label(kind, raw, text, sym, p)
    if text.isascii() and text.isdigit() and len(text) in (8, 12, 13, 14):
        product = _gtin(raw, text, sym)
        if product is not None:
            return product
    # Any valid bin id, once no label, GTIN or pickup code claims it: a customer's code
    # scanned into the stage dialog by mistake must not become a bin.
    if expect == "bin" and not p.match("pickup_code", text) and p.expected("bin", text):
        return _label("bin", raw, text, sym, p)
    if p.match("pickup_code", text):
        return _label("pickup_code", raw, text, sym, p)
    return _unrecognised(raw, text, sym, "matches no known format")


def _label(kind: ExpectKind, raw: str, text: str, sym: str | None, p: ScanPatterns) -> Scan:
    value = p.norm(text, kind)
    return Scan(kind, value, raw, sym, order_id=value if kind == "order" else None,
                pickup_code=value if kind == "pickup_code" else None)


def _gtin(raw: str, digits: str, sym: str | None) -> Scan | None:
    if not (digits.isascii() and digits.isdigit() and len(digits) in (8, 12, 13, 14)):
        return None
    try:
        gtin = Gtin.parse(digits).as_gtin_14()
    except ParseError:
        return None
    return Scan("product", gtin, raw, sym, gtin=gtin)


def _product_from_elements(raw: str, elements: Iterable[Any], sym: str | None, source: str
                           ) -> Scan | None:
    ai = tuple((e.ai.ai, e.value) for e in elements)
    gtin = next((e.gtin.as_gtin_14() for e in elements if e.ai.ai == "01" and e.gtin), None)
    if gtin is None:
        return None
    return Scan("product", gtin, raw, sym, gtin=gtin, ai=ai, source=source)


def _gs1(raw: str, text: str, gs1_text: str, sym: str | None) -> Scan:
    try:
        message = GS1Message.parse_hri(text) if _HRI.match(text) else GS1Message.parse(gs1_text)
    except ParseError:
        return _unrecognised(raw, text, sym, "not a valid GS1 element string")
    scan = _product_from_elements(raw, message.element_strings, sym, "gs1")
    return scan or _unrecognised(raw, text, sym, "GS1 element string without a valid GTIN")


def _structured(raw: str, text: str, sym: str | None, p: ScanPatterns) -> Scan | None:
    head = text[:8].upper()
    if head.startswith("PICKUP:"):
        m = _PICKUP_QR.fullmatch(text)
        if m is None:
            return _unrecognised(raw, text, sym, "malformed PICKUP: payload")
        return _pickup(raw, text, sym, p, m.group("order"), m.group("code"), "pickup_qr")
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            return _unrecognised(raw, text, sym, "malformed JSON payload")
        if not isinstance(data, dict):
            return _unrecognised(raw, text, sym, "JSON payload is not an object")
        order = data.get("order_id", data.get("order"))
        code = data.get("pickup_code", data.get("code"))
        order = str(order) if isinstance(order, str | int) and not isinstance(order, bool) else None
        code = code if isinstance(code, str) else None
        if code is None and order is None:
            return _unrecognised(raw, text, sym, "JSON payload without order_id or pickup_code")
        return _pickup(raw, text, sym, p, order, code, "json")
    if head.startswith(("HTTP://", "HTTPS://")):
        try:
            link = GS1DigitalLinkURI.parse(text)
        except ParseError:
            return _unrecognised(raw, text, sym, "URL is not a GS1 Digital Link")
        scan = _product_from_elements(raw, link.element_strings, sym, "digital_link")
        return scan or _unrecognised(raw, text, sym, "Digital Link without a valid GTIN")
    return None


def _pickup(
    raw: str,
    text: str,
    sym: str | None,
    p: ScanPatterns,
    order: str | None,
    code: str | None,
    source: str,
) -> Scan:
    if order is not None and not p.match("order", order):
        return _unrecognised(raw, text, sym, "payload order id does not match the order pattern")
    if code is not None and not p.match("pickup_code", code):
        return _unrecognised(raw, text, sym, "payload pickup code does not match the pattern")
    order_id = p.norm(order, "order") if order is not None else None
    if code is None:
        return Scan("order", order_id or "", raw, sym, order_id=order_id, source=source)
    pickup = p.norm(code)
    return Scan("pickup_code", pickup, raw, sym, order_id=order_id, pickup_code=pickup, source=source)
