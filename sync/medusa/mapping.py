"""Medusa v2 orders as Store Sync snapshots, and the feed cursor.

Medusa's status vocabulary is not ours: an order is ``pending`` until it is
``canceled`` (or completed), and store progress lives on its fulfillments.
The contract status is derived from both (docs/medusa.md has the table).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sync.errors import BadResponseError
from sync.models import OrderSnapshot, _entry_fields, check_snapshot

# Everything a snapshot needs, and nothing else: Medusa's defaults carry totals we never read.
ORDER_FIELDS = ",".join([
    "id", "display_id", "status", "metadata", "email", "sales_channel_id", "created_at", "updated_at",
    "canceled_at", "*items", "*shipping_address", "*shipping_methods", "*fulfillments",
    "*fulfillments.items",
])
_GTIN = re.compile(r"^([0-9]{8}|[0-9]{12,14})$")
# A pickup code hands over a package: it must be a secret of this order, long enough that
# guessing is hopeless within the attempt limits (docs/security.md).
MIN_PICKUP_CODE = 8
_CODE = re.compile(rf"^[A-Za-z0-9-]{{{MIN_PICKUP_CODE},16}}$")
NO_PICKUP_CODE = (
    f"no pickup code: a Medusa order needs metadata.pickup_code, {MIN_PICKUP_CODE}-16 letters,"
    " digits or '-', random per order; the order number is shown to customers and is not a"
    " secret, so it is never used instead (docs/medusa.md)"
)


def parse_time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise BadResponseError(f"medusa: timestamp is {type(value).__name__}, not a string")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadResponseError("medusa: timestamp is not ISO 8601") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def live_fulfillments(order: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in order.get("fulfillments") or [] if not f.get("canceled_at")]


def is_pickup(order: dict[str, Any], option_ids: set[str]) -> bool:
    return any(m.get("shipping_option_id") in option_ids for m in order.get("shipping_methods") or [])


def contract_status(order: dict[str, Any]) -> str:
    """released / ready_for_pickup / picked_up / cancelled, from the order and its fulfillments."""
    if order.get("status") == "canceled" or order.get("canceled_at"):
        return "cancelled"
    live = live_fulfillments(order)
    # After a partial pickup (API 1.1) one fulfillment is delivered and the rest's is not.
    if live and all(f.get("delivered_at") for f in live):
        return "picked_up"
    if live:
        return "ready_for_pickup"
    if order.get("status") == "completed":
        return "picked_up"
    return "released"


def last_change_ms(order: dict[str, Any]) -> int:
    """The version: the latest timestamp on the order or its fulfillments, in epoch ms.

    A fulfillment does bump the order's updated_at in Medusa 2.21, but taking the
    fulfillments' own times too keeps the version moving if a release stops doing so.
    """
    times = [order.get("updated_at")]
    for f in order.get("fulfillments") or []:
        times += [f.get("updated_at"), f.get("delivered_at"), f.get("canceled_at"), f.get("created_at")]
    return max(epoch_ms(parse_time(t)) for t in times if t)


def pickup_code(order: dict[str, Any]) -> str | None:
    """metadata.pickup_code as the storefront set it, or None: no fallback to anything guessable."""
    meta = order.get("metadata") or {}
    code = meta.get("pickup_code") if isinstance(meta, dict) else None
    if isinstance(code, str) and _CODE.match(code):
        return code.upper()
    return None


def _customer(order: dict[str, Any]) -> dict[str, Any]:
    address = order.get("shipping_address") or {}
    name = " ".join(p for p in (address.get("first_name"), address.get("last_name")) if p).strip()
    digits = re.sub(r"\D", "", address.get("phone") or "")
    return {"name": (name or order.get("email") or "customer")[:200],
            "phone_last4": digits[-4:] if len(digits) >= 4 else None}


def _delivered(order: dict[str, Any]) -> dict[str, int]:
    """Units handed over per line: the items of delivered fulfillments not cancelled."""
    out: dict[str, int] = {}
    for f in live_fulfillments(order):
        if f.get("delivered_at"):
            for item in f.get("items") or []:
                line = item.get("line_item_id")
                if line:
                    out[line] = out.get(line, 0) + int(item.get("quantity") or 0)
    return out


def _store_meta(order: dict[str, Any], key: str) -> Any:
    meta = order.get("metadata")
    return meta.get(key) if isinstance(meta, dict) else None


def _line(item: dict[str, Any], delivered: dict[str, int] | None = None,
          short: dict[str, int] | None = None) -> dict[str, Any]:
    barcode = item.get("variant_barcode")
    title = item.get("product_title") or item.get("title") or ""
    variant = item.get("variant_title")
    quantity = int(item.get("quantity") or 0)
    picked_up = min(quantity, int((delivered or {}).get(item.get("id") or "", 0)))
    cancelled = (short or {}).get(item.get("id") or "", 0)
    cancelled = min(quantity - picked_up, int(cancelled)) if isinstance(cancelled, int) else 0
    return {
        "line_id": item.get("id"),
        "sku": (item.get("variant_sku") or item.get("variant_id") or item.get("id") or "")[:64],
        "gtin": barcode if isinstance(barcode, str) and _GTIN.match(barcode) else None,
        "description": (f"{title} ({variant})" if variant else title)[:500],
        "quantity": quantity,
        "quantity_picked_up": picked_up,
        "quantity_cancelled": max(0, cancelled),
        **_line_meta(item),
    }


def _line_meta(item: dict[str, Any]) -> dict[str, Any]:
    """API 1.1 line fields Medusa has no column for, from the line item's metadata when the
    storefront copies them there (``location``, ``pick_sequence``, ``age_restricted``).
    A value of the wrong type is left out: the line keeps the contract's default."""
    meta = item.get("metadata")
    if not isinstance(meta, dict):
        return {}
    out: dict[str, Any] = {}
    if isinstance(meta.get("location"), str) and 0 < len(meta["location"]) <= 64:
        out["location"] = meta["location"]
    sequence = meta.get("pick_sequence")
    if isinstance(sequence, int) and not isinstance(sequence, bool) and 0 <= sequence < 2**31:
        out["pick_sequence"] = sequence
    if isinstance(meta.get("age_restricted"), bool):
        out["age_restricted"] = meta["age_restricted"]
    return out


def to_snapshot(order: dict[str, Any]) -> dict[str, Any]:
    """The contract's order object (still to be validated by sync.models, like any OMS answer)."""
    version = last_change_ms(order)
    delivered = _delivered(order)
    short = _store_meta(order, "store_short_units")
    short = short if isinstance(short, dict) else {}
    return {
        "order_id": order.get("id"),
        "version": version,
        "status": contract_status(order),
        "fulfillment": "pickup",
        "customer": _customer(order),
        "pickup_code": pickup_code(order),
        "pickup_window": None,
        "hold_until": _hold(order),
        "lines": [_line(i, delivered, short) for i in order.get("items") or []
                  if int(i.get("quantity") or 0) > 0],
        "arrival": None,
        "updated_at": iso_ms(version),
    }


def _hold(order: dict[str, Any]) -> str | None:
    """metadata.store_hold_until (written by order.hold_extended), when it is a timestamp."""
    value = _store_meta(order, "store_hold_until")
    try:
        return iso_ms(epoch_ms(parse_time(value))) if isinstance(value, str) else None
    except BadResponseError:
        return None


def check(order: dict[str, Any]) -> tuple[dict[str, Any], OrderSnapshot | None, str | None]:
    """(raw snapshot, snapshot or None, why not): an order without a pickup code is quarantined."""
    raw = to_snapshot(order)
    if raw["pickup_code"] is None:
        return raw, None, NO_PICKUP_CODE
    snapshot, error = check_snapshot(raw)
    return raw, snapshot, error


def entry_fields(order: dict[str, Any]) -> dict[str, Any]:
    """A page entry (sync.models.SnapshotEntry's fields) for one Medusa order."""
    raw, _snapshot, error = check(order)
    fields = _entry_fields(raw)
    if error == NO_PICKUP_CODE:
        fields.update(snapshot=None, error=error)
    return fields


def parse_order(order: dict[str, Any]) -> OrderSnapshot:
    """One order as a snapshot, or BadResponseError saying why not."""
    _raw, snapshot, error = check(order)
    if snapshot is None:
        raise BadResponseError(f"order snapshot: {error}")
    return snapshot


# --- the feed cursor: a (updated_at, id) watermark ------------------------------------

def encode_cursor(ms: int, order_id: str) -> str:
    return f"m1.{ms}.{order_id}"


def decode_cursor(cursor: str | None) -> tuple[int, str]:
    """(0, "") for no cursor; a cursor we did not mint is expired (the feed restarts)."""
    if not cursor:
        return 0, ""
    parts = cursor.split(".", 2)
    if len(parts) != 3 or parts[0] != "m1" or not parts[1].isdigit():
        raise ValueError("not a medusa feed cursor")
    return int(parts[1]), parts[2]
