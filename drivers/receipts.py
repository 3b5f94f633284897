"""ESC/POS byte templates: pickup receipt, bin label, return-to-shelf slip, test page.

Rendered with python-escpos's in-memory ``Dummy`` printer for the configured
profile; sending the bytes is ``printer_transport``'s job. Rendering is a
pure function of its input - no clock, no config lookups - so the same input
gives the same bytes (the golden tests depend on it) and a reprint is the
original receipt plus a COPY marker.

Inputs are the dataclasses below or plain dicts with the same keys. Text
from the OMS (item descriptions, names) has control characters removed: a
stray ESC inside a description would otherwise be a printer command.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Literal

from babel import Locale, UnknownLocaleError
from babel.dates import format_skeleton, format_time

from config.catalogue import CATALOGUE, msg
from drivers import escpos_safe
from drivers.errors import DeviceConfigError, ReceiptRenderError

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class ReceiptItem:
    description: str
    quantity: int
    sku: str | None = None


@dataclass(frozen=True)
class ShortItem:
    description: str
    quantity: int
    reason: str = "other"


@dataclass(frozen=True)
class PickupReceipt:
    store_id: str
    order_id: str
    associate: str
    handed_over_at: datetime | str
    verified_by: Literal["pickup_code", "manager_override"] = "pickup_code"
    override_manager: str | None = None
    """Manager id when ``verified_by`` is manager_override, e.g. M1."""
    items: Sequence[ReceiptItem] = field(default_factory=tuple)
    reprint: bool = False
    short: Sequence[ShortItem] = field(default_factory=tuple)
    """Items the store could not supply (short picks), with the reason."""
    still_to_collect: int = 0
    """Units left for a later pickup (a partial pickup)."""
    collected_by: str | None = None
    """The alternate person named on the order, when they collected it."""
    id_check: str | None = None
    """The type of ID checked (age-restricted items, or by the store's rules)."""
    signature: bool = False
    """Print a signature line: the customer signs this copy (the store's handoff evidence)."""
    locale: str = "en_US"
    """How the date reads on paper ([ui] locale): "Fri, Mar 14, 2025 3:09 PM UTC" in en_US."""


@dataclass(frozen=True)
class ReturnSlip:
    store_id: str
    order_id: str
    bin_id: str
    reason: str
    associate: str
    at: datetime | str
    items: Sequence[ReceiptItem] = field(default_factory=tuple)
    note: str | None = None
    """What the associate wrote when cancelling: it travels with the items back to the shelf."""
    locale: str = "en_US"


def _coerce(cls: type, data: Any) -> Any:
    if isinstance(data, cls):
        return data
    if not isinstance(data, Mapping):
        raise ReceiptRenderError(f"expected {cls.__name__} or a mapping, got {type(data).__name__}")
    known = {f.name for f in fields(cls)}
    values = {k: v for k, v in data.items() if k in known}
    if "items" in values:
        values["items"] = tuple(_item(i) for i in values["items"])
    if "short" in values:
        values["short"] = tuple(_short(i) for i in values["short"] or ())
    try:
        return cls(**values)
    except TypeError as exc:
        raise ReceiptRenderError(f"{cls.__name__}: {exc}") from None


def _item(data: Any) -> ReceiptItem:
    if isinstance(data, ReceiptItem):
        return data
    if isinstance(data, Mapping):
        desc = data.get("description", data.get("name", data.get("sku", "")))
        qty = data.get("quantity", data.get("qty", 1))
        return ReceiptItem(str(desc), int(qty), data.get("sku"))
    raise ReceiptRenderError(f"an item must be a ReceiptItem or a mapping, got {data!r}")


def _short(data: Any) -> ShortItem:
    if isinstance(data, ShortItem):
        return data
    if isinstance(data, Mapping):
        return ShortItem(str(data.get("description", data.get("sku", ""))),
                         int(data.get("quantity", 1)), str(data.get("reason") or "other"))
    raise ReceiptRenderError(f"a short item must be a ShortItem or a mapping, got {data!r}")


_SHORT_REASONS = {"not_found": "not found", "damaged": "damaged", "expired": "expired",
                  "other": "unavailable"}


def _clean(text: object) -> str:
    return _CONTROL.sub("", str(text))


def _when(at: datetime | str, locale: str = "en_US") -> str:
    """A date on paper in the store's words: weekday, date and time of day in its locale, never
    an ISO timestamp. A stored timestamp (UTC) reads in the store PC's own time zone."""
    if isinstance(at, str):
        try:
            at = datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone()
        except ValueError:
            return _clean(at)
    try:
        where = Locale.parse(locale.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        where = Locale.parse("en_US")
    text = f"{format_skeleton('yMMMEd', at, locale=where)} {format_time(at, 'short', locale=where)}"
    zone = at.strftime("%Z") if at.tzinfo else ""
    return _clean(f"{text} {zone}".strip().replace("\u202f", " ").replace("\xa0", " "))


def _reason(reason: str) -> str:
    """A cancel reason as words ("Customer did not come"), never its code (no_show)."""
    key = f"reason.{reason}"
    return msg(key) if key in CATALOGUE else _clean(reason)


class _Doc:
    """A thin layer over Dummy that knows the paper width and wraps text."""

    def __init__(self, profile: str):
        try:
            self.p = escpos_safe.new_dummy(profile)
        except KeyError:
            known = ", ".join(escpos_safe.profile_names())
            raise DeviceConfigError(f"unknown printer profile {profile!r}; known: {known}") from None
        try:
            self.cols = int(self.p.profile.get_columns("a"))
        except Exception:  # profiles without font data: assume 80 mm paper
            self.cols = 42
        self.p.hw("INIT")

    def line(self, text: str = "", **style: Any) -> None:
        if style:
            self.p.set(**style)
        self.p.textln(_clean(text))
        if style:
            self.p.set(align="left", bold=False, normal_textsize=True, invert=False)

    def pair(self, label: str, value: object) -> None:
        self.wrapped(f"{label:<11}{_clean(value)}", indent=11)

    def wrapped(self, text: str, indent: int = 0) -> None:
        width = self.cols
        while len(text) > width:
            cut = text.rfind(" ", indent + 1, width + 1)
            cut = cut if cut > indent else width
            self.p.textln(text[:cut].rstrip())
            text = " " * indent + text[cut:].lstrip()
        self.p.textln(text)

    def rule(self, char: str = "-") -> None:
        self.p.textln(char * self.cols)

    def items(self, items: Sequence[ReceiptItem]) -> None:
        self.line(f"{'QTY':>4}  ITEM", bold=True)
        for item in items:
            self.wrapped(f"{item.quantity:>4}  {_clean(item.description)}", indent=6)
            if item.sku:
                self.p.textln(f"      SKU {_clean(item.sku)}")
        self.line(f"{sum(i.quantity for i in items):>4}  item(s) in total")

    def code128(self, data: str) -> None:
        try:
            escpos_safe.hw_code128(self.p, data)
        except (ValueError, escpos_safe.EscposError) as exc:
            raise ReceiptRenderError(f"cannot print barcode for {data!r}: {exc}") from exc
        self.p.set(align="left")
        self.p.ln()

    def copy_marker(self) -> None:
        self.line(
            " COPY - REPRINT ", align="center", bold=True, double_width=True, double_height=True, invert=True
        )

    def finish(self) -> bytes:
        self.p.cut()
        output: bytes = self.p.output  # python-escpos is untyped
        return output


def render_pickup_receipt(receipt: PickupReceipt | Mapping[str, Any], profile: str = "default") -> bytes:
    r: PickupReceipt = _coerce(PickupReceipt, receipt)
    doc = _Doc(profile)
    if r.reprint:
        doc.copy_marker()
    doc.line("PICKUP RECEIPT", align="center", bold=True, double_height=True)
    doc.line(f"Store {r.store_id}", align="center")
    doc.rule()
    doc.pair("Order", r.order_id)
    doc.pair("Picked up", _when(r.handed_over_at, r.locale))
    doc.pair("Associate", r.associate)
    if r.verified_by == "manager_override":
        manager = _clean(r.override_manager or "unknown manager")
        doc.pair("Verified", f"manager override (by {manager})")
    else:
        doc.pair("Verified", "pickup code")
    if r.collected_by:
        doc.pair("Collected", f"by {r.collected_by} (alternate)")
    if r.id_check:
        doc.pair("ID checked", r.id_check.replace("_", " "))
    doc.rule()
    doc.items(r.items)
    if r.short:
        doc.rule()
        doc.line("NOT SUPPLIED (not charged)", bold=True)
        for item in r.short:
            reason = _SHORT_REASONS.get(item.reason, _clean(item.reason))
            doc.wrapped(f"{item.quantity:>4}  {_clean(item.description)} ({reason})", indent=6)
    if r.still_to_collect:
        doc.rule()
        doc.line(f"{r.still_to_collect} item(s) still to collect", bold=True)
    doc.rule()
    if r.signature:
        doc.line("Received in full as listed above.")
        doc.line("")
        doc.line("Signature: " + "_" * max(10, doc.cols - 11))
        doc.rule()
    doc.code128(r.order_id)
    if r.reprint:
        doc.copy_marker()
    return doc.finish()


def render_bin_label(bin_id: str, *, store_id: str | None = None, profile: str = "default",
                     order_id: str | None = None, n: int | None = None,
                     of: int | None = None) -> bytes:
    """One bin (tote) label; with ``n``/``of`` it says "n of m" for an order in several bins."""
    doc = _Doc(profile)
    if store_id:
        doc.line(f"Store {store_id}", align="center")
    if order_id:
        doc.line(f"Order {order_id}", align="center")
    doc.line("BIN" if not (n and of) else f"BIN {n} of {of}", align="center", bold=True)
    size = 4 if len(bin_id) * 4 <= doc.cols else 2
    doc.line(bin_id, align="center", bold=True, custom_size=True, width=size, height=size)
    doc.code128(bin_id)
    return doc.finish()


def render_return_slip(slip: ReturnSlip | Mapping[str, Any], profile: str = "default") -> bytes:
    s: ReturnSlip = _coerce(ReturnSlip, slip)
    doc = _Doc(profile)
    doc.line("RETURN TO SHELF", align="center", bold=True, double_height=True)
    doc.line(f"Store {s.store_id}", align="center")
    doc.rule()
    doc.pair("Order", s.order_id)
    doc.pair("From bin", s.bin_id)
    doc.pair("Reason", _reason(s.reason))
    if s.note:
        doc.pair("Note", _clean(s.note))
    doc.pair("Associate", s.associate)
    doc.pair("Date", _when(s.at, s.locale))
    doc.rule()
    doc.items(s.items)
    doc.rule()
    doc.code128(s.order_id)
    return doc.finish()


def render_shift_summary(*, store_id: str, title: str, lines: Sequence[str], at: datetime | str,
                         profile: str = "default") -> bytes:
    """The store's figures for a shift (``store-agent report --print``), one wrapped line each."""
    doc = _Doc(profile)
    doc.line("SHIFT SUMMARY", align="center", bold=True, double_height=True)
    doc.line(f"Store {store_id}", align="center")
    doc.rule()
    doc.wrapped(_clean(title))
    doc.rule()
    for text in lines:
        doc.wrapped(_clean(text), indent=2)
    doc.rule()
    doc.pair("Printed", _when(at))
    return doc.finish()


def render_test_page(
    *, printer_id: str, store_id: str, at: datetime | str, profile: str = "default"
) -> bytes:
    doc = _Doc(profile)
    doc.line("PRINTER TEST", align="center", bold=True, double_width=True, double_height=True)
    doc.rule("=")
    doc.pair("Printer", printer_id)
    doc.pair("Store", store_id)
    doc.pair("Profile", profile)
    doc.pair("Columns", doc.cols)
    doc.pair("Printed", _when(at))
    doc.rule()
    doc.line("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    doc.line("abcdefghijklmnopqrstuvwxyz 0123456789")
    doc.line("Bold", bold=True)
    doc.line("Double size", double_width=True, double_height=True)
    doc.rule()
    doc.code128(("TEST-" + "".join(c for c in printer_id if 32 <= ord(c) < 127))[:40])
    doc.line("If the barcode above scans, this printer is ready.", align="center")
    return doc.finish()
