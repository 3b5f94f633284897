"""Store events as Medusa admin writes, each made idempotent by reading the order first.

Medusa keeps no idempotency keys, so the order's current state decides:
its effect already there -> ``duplicate``; a state that contradicts it ->
``conflict`` with the snapshot; an order that is not this store's, or data
Medusa refuses -> ``rejected``. A fulfillment we create carries the event id
in its metadata, so a retry after a lost answer is recognised as ours.
Transport failures and 5xx propagate: the sender retries the whole batch and
the state check turns what was already done into duplicates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from config.vocabulary import EventType
from sync.medusa import items
from sync.medusa.admin import MedusaAdmin, answer, write
from sync.medusa.mapping import contract_status, live_fulfillments
from sync.models import EventResult, PickedUpData, StagedData

if TYPE_CHECKING:
    from sync.models import Event


async def apply_event(client: MedusaAdmin, event: Event) -> EventResult:
    order = await client.order(event.order_id)
    if order is None:
        return answer(event, "rejected", "unknown_order",
                       f"order {event.order_id} is not a pickup order of this store in Medusa")
    handler = _HANDLERS[event.type]
    return await handler(client, event, order)


async def _staged(client: MedusaAdmin, event: Event, order: dict[str, Any]) -> EventResult:
    status = contract_status(order)
    if status == "cancelled":
        return answer(event, "conflict", "order_cancelled", "order has been canceled", order)
    if status == "picked_up":
        return answer(event, "conflict", "already_picked_up", "already marked delivered", order)
    if live_fulfillments(order):
        # Ours from this event, or an earlier staging: Medusa has no bins, nothing to move.
        return answer(event, "duplicate", "already_staged", "a fulfillment already exists", order)
    known = {item.get("id") for item in order.get("items") or []}
    assert isinstance(event.data, StagedData)  # the handler table dispatches on the type
    items = [{"id": line.line_id, "quantity": line.quantity_picked}
             for line in event.data.lines if line.quantity_picked > 0]
    unknown = [line_id for line_id in (line.line_id for line in event.data.lines
                                       if line.quantity_picked > 0) if line_id not in known]
    if unknown or not items:
        what = f"unknown line(s) {', '.join(unknown)}" if unknown else "nothing picked"
        return answer(event, "rejected", "bad_lines", what, order)
    return await write(client, event, f"/admin/orders/{order['id']}/fulfillments", {
        "items": items, "location_id": client.location_id, "no_notification": True,
        "metadata": {"store_event_id": str(event.event_id), "bin": event.data.bin,
                     "bins": event.data.bins or [event.data.bin]},
    })


async def _picked_up(client: MedusaAdmin, event: Event, order: dict[str, Any]) -> EventResult:
    status = contract_status(order)
    if status == "cancelled":
        return answer(event, "conflict", "order_cancelled", "order has been canceled", order)
    if status == "picked_up":
        return answer(event, "duplicate", "already_picked_up", "already marked delivered", order)
    assert isinstance(event.data, PickedUpData)  # the handler table dispatches on the type
    if event.data.lines:
        return await items.partial_pickup(client, event, order)  # API 1.1
    live = live_fulfillments(order)
    if not live:
        return answer(event, "conflict", "not_staged", "no fulfillment to mark delivered", order)
    result = None
    for fulfillment in live:  # after a partial pickup, the rest is its own fulfillment
        if fulfillment.get("delivered_at"):
            continue
        result = await write(client, event, f"/admin/orders/{order['id']}/fulfillments/"
                                             f"{fulfillment['id']}/mark-as-delivered",
                              {"no_notification": True})
        if result.status != "accepted":
            return result
    return result or answer(event, "duplicate", "already_picked_up", "already marked delivered",
                             order)


async def _cancelled(client: MedusaAdmin, event: Event, order: dict[str, Any]) -> EventResult:
    status = contract_status(order)
    if status == "cancelled":
        return answer(event, "duplicate", "already_cancelled", "order has been canceled", order)
    if status == "picked_up":
        return answer(event, "conflict", "already_picked_up", "already marked delivered", order)
    # Medusa refuses to cancel an order with a live fulfillment: those go first. A failure
    # between the two leaves the fulfillment cancelled and the order open; the retry finishes it.
    for fulfillment in live_fulfillments(order):
        if fulfillment.get("delivered_at"):
            continue  # handed over in a partial pickup: Medusa cannot cancel it
        result = await write(client, event,
                              f"/admin/orders/{order['id']}/fulfillments/{fulfillment['id']}/cancel",
                              {"no_notification": True})
        if result.status != "accepted":
            return result
    return await write(client, event, f"/admin/orders/{order['id']}/cancel", {"no_notification": True})


async def _returned(client: MedusaAdmin, event: Event, order: dict[str, Any]) -> EventResult:
    # Goods back on the shelf change nothing Medusa tracks for a cancelled pickup order.
    return answer(event, "accepted", "noted", "returned to shelf: nothing to change in Medusa", order)


_HANDLERS = {
    EventType.STAGED: _staged,
    EventType.PICKED_UP: _picked_up,
    EventType.CANCELLED: _cancelled,
    EventType.RETURNED_TO_SHELF: _returned,
    EventType.LINE_SHORT: items.line_short,
    EventType.HOLD_EXTENDED: items.hold_extended,
}

