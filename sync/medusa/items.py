"""Store Sync API 1.1 events as Medusa v2 admin writes: short picks, partial pickups, holds.

What Medusa can express, and how (docs/medusa.md has the table and the limits):

- A short pick lowers the store's stock: ``stocked_quantity`` of the variant's
  inventory item at the store's stock location drops by the units short. Medusa
  cannot cancel part of a line without an order edit, so the units are recorded
  on the order (``metadata.store_short_units``) and map back to ``quantity_cancelled``.
  The event id joins ``metadata.store_events``: a retry is a ``duplicate``.
- A partial pickup: Medusa marks whole fulfillments delivered. The staged
  fulfillment is cancelled (Medusa puts its units back in stock) and replaced by
  one for the units handed over, marked delivered, and one for the rest (each
  creation takes its units out of stock again, so the stock ends where it was).
- A hold extension: ``metadata.store_hold_until`` (Medusa has no hold), mapped
  back to ``hold_until``.
- A return to shelf needs nothing: cancelling a fulfillment already put its units
  back in Medusa's stock, and a mid-pick cancellation never took them out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sync.medusa.admin import MedusaAdmin, answer, write
from sync.medusa.mapping import contract_status, live_fulfillments
from sync.models import HoldExtendedData, LineShortData, PickedUpData, to_rfc3339

if TYPE_CHECKING:
    from sync.models import Event, EventResult

APPLIED_KEY = "store_events"
SHORT_KEY = "store_short_units"
HOLD_KEY = "store_hold_until"
_KEEP_APPLIED = 50  # event ids remembered per order: far more than one order ever sees


def _meta(order: dict[str, Any]) -> dict[str, Any]:
    meta = order.get("metadata")
    return dict(meta) if isinstance(meta, dict) else {}


def _applied(order: dict[str, Any], event: Event) -> bool:
    return str(event.event_id) in (_meta(order).get(APPLIED_KEY) or [])


async def _set_meta(client: MedusaAdmin, order: dict[str, Any], event: Event, **values: Any) -> None:
    meta = _meta(order)
    applied = [*(meta.get(APPLIED_KEY) or []), str(event.event_id)][-_KEEP_APPLIED:]
    await client.call("POST", f"/admin/orders/{quote(order['id'], safe='')}",
                      json_body={"metadata": {**meta, **values, APPLIED_KEY: applied}},
                      params={"fields": "id"})


async def _inventory_level(client: MedusaAdmin, sku: str) -> tuple[str, int] | None:
    """(inventory item id, stocked quantity at the store's location) of a SKU, or None."""
    body = await client.call("GET", "/admin/inventory-items",
                             params={"sku": sku, "fields": "id,sku,*location_levels"})
    for item in body.get("inventory_items") or []:
        for level in item.get("location_levels") or []:
            if level.get("location_id") == client.location_id:
                return str(item["id"]), int(level.get("stocked_quantity") or 0)
    return None


async def line_short(client: MedusaAdmin, event: Event, order: dict[str, Any]) -> EventResult:
    if _applied(order, event):
        return answer(event, "duplicate", "already_applied", "short pick already recorded", order)
    if contract_status(order) in ("cancelled", "picked_up"):
        return answer(event, "conflict", "order_closed", "the order is no longer open", order)
    if not isinstance(event.data, LineShortData):
        raise TypeError("line_short needs LineShortData")
    items = {item.get("id"): item for item in order.get("items") or []}
    lines = event.data.lines
    unknown = [ln.line_id for ln in lines if ln.line_id not in items]
    if unknown:
        return answer(event, "rejected", "bad_lines", f"unknown line(s) {', '.join(unknown)}", order)
    for ln in lines:
        sku = items[ln.line_id].get("variant_sku")
        level = await _inventory_level(client, sku) if sku else None
        if level is None:
            continue  # not stocked at this location (or not managed): nothing to lower
        item_id, stocked = level
        await client.call(
            "POST", f"/admin/inventory-items/{quote(item_id, safe='')}/location-levels/"
                    f"{quote(client.location_id, safe='')}",
            json_body={"stocked_quantity": max(0, stocked - ln.quantity)}, params={"fields": "id"})
    short = dict(_meta(order).get(SHORT_KEY) or {})
    for ln in lines:
        short[ln.line_id] = int(short.get(ln.line_id) or 0) + ln.quantity
    await _set_meta(client, order, event, **{SHORT_KEY: short})
    return answer(event, "accepted", order=await client.order(event.order_id))


async def hold_extended(client: MedusaAdmin, event: Event, order: dict[str, Any]) -> EventResult:
    if _applied(order, event):
        return answer(event, "duplicate", "already_applied", "hold already extended", order)
    if contract_status(order) in ("cancelled", "picked_up"):
        return answer(event, "conflict", "order_closed", "the order is no longer open", order)
    if not isinstance(event.data, HoldExtendedData):
        raise TypeError("hold_extended needs HoldExtendedData")
    until = to_rfc3339(event.data.until)
    await _set_meta(client, order, event, **{HOLD_KEY: until})
    return answer(event, "accepted", order=await client.order(event.order_id))


def _fulfilled(fulfillment: dict[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in fulfillment.get("items") or []:
        line = item.get("line_item_id")
        if line:
            out[line] = out.get(line, 0) + int(item.get("quantity") or 0)
    return out


async def partial_pickup(client: MedusaAdmin, event: Event, order: dict[str, Any]) -> EventResult:
    """Split the open fulfillment into what was handed over (delivered) and the rest."""
    oid = quote(order["id"], safe="")
    mine = [f for f in order.get("fulfillments") or []
            if (f.get("metadata") or {}).get("store_event_id") == str(event.event_id)]
    if not isinstance(event.data, PickedUpData):
        raise TypeError("a pickup needs PickedUpData")
    handed = {ln.line_id: ln.quantity for ln in event.data.lines or ()}
    if mine and not mine[0].get("canceled_at"):
        if mine[0].get("delivered_at"):
            return answer(event, "duplicate", "already_picked_up", "already marked delivered", order)
        return await write(client, event, f"/admin/orders/{oid}/fulfillments/{mine[0]['id']}"
                                           "/mark-as-delivered", {"no_notification": True})
    open_ones = [f for f in live_fulfillments(order) if not f.get("delivered_at")]
    if not open_ones:
        return answer(event, "conflict", "not_staged", "no fulfillment to hand over from", order)
    resumed = [f for f in open_ones
               if (f.get("metadata") or {}).get("rest_of") == str(event.event_id)]
    if resumed:  # a retry after the split: only the handed-over fulfillment is missing
        return await _deliver_new(client, event, oid, handed,
                                  (resumed[0].get("metadata") or {}).get("bin"))
    staged: dict[str, int] = {}
    for f in open_ones:
        for line, qty in _fulfilled(f).items():
            staged[line] = staged.get(line, 0) + qty
    too_many = [i for i, q in handed.items() if q > staged.get(i, 0)]
    if too_many:
        return answer(event, "rejected", "bad_lines",
                        f"more handed over than staged: {', '.join(too_many)}", order)
    bin_ = (open_ones[0].get("metadata") or {}).get("bin")
    if handed == staged and len(open_ones) == 1:  # the rest of the order: no split needed
        return await write(client, event, f"/admin/orders/{oid}/fulfillments/"
                                           f"{open_ones[0]['id']}/mark-as-delivered",
                            {"no_notification": True})
    for f in open_ones:
        result = await write(client, event, f"/admin/orders/{oid}/fulfillments/{f['id']}/cancel",
                              {"no_notification": True})
        if result.status != "accepted":
            return result
    rest = {i: q - handed.get(i, 0) for i, q in staged.items() if q - handed.get(i, 0) > 0}
    if rest:
        result = await write(client, event, f"/admin/orders/{oid}/fulfillments", {
            "items": [{"id": i, "quantity": q} for i, q in rest.items()],
            "location_id": client.location_id, "no_notification": True,
            "metadata": {"bin": bin_, "rest_of": str(event.event_id)}})
        if result.status != "accepted":
            return result
    return await _deliver_new(client, event, oid, handed, bin_)


async def _deliver_new(client: MedusaAdmin, event: Event, oid: str, handed: dict[str, int],
                       bin_: Any) -> EventResult:
    created = await client.call("POST", f"/admin/orders/{oid}/fulfillments", json_body={
        "items": [{"id": i, "quantity": q} for i, q in handed.items()],
        "location_id": client.location_id, "no_notification": True,
        "metadata": {"bin": bin_, "store_event_id": str(event.event_id)}},
        params={"fields": "id,*fulfillments"})
    fresh = created.get("order") or {}
    new = [f for f in fresh.get("fulfillments") or []
           if (f.get("metadata") or {}).get("store_event_id") == str(event.event_id)]
    if not new:
        return answer(event, "rejected", "medusa_no_fulfillment", "the fulfillment was not created",
                       await client.order(event.order_id))
    return await write(client, event, f"/admin/orders/{oid}/fulfillments/{new[0]['id']}"
                                       "/mark-as-delivered", {"no_notification": True})
