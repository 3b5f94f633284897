"""MedusaClient: the StoreSyncClient interface over Medusa v2's admin API.

Same methods, same return types, same error tree, so the sender, the feed,
the live check and reconciliation run on it unchanged. Authentication is a
secret API key sent as HTTP Basic with the key as user name (Medusa v2).

Medusa has no change feed, no idempotency keys and no heartbeat:
- the feed polls the store's sales channel ordered by ``updated_at`` from an
  (updated_at, id) watermark, waiting ``poll_s`` between empty polls;
- each event first reads the order and answers ``duplicate`` when its effect
  is already there, ``conflict`` (with the snapshot) when the order contradicts
  it, and only then writes (sync/medusa/events.py);
- heartbeat is a quiet no-op.

Errors are the tree of sync/errors.py, plus one leaf for Medusa's own refusals,
``MedusaError`` (drawn in sync/medusa/admin.py). The request pipeline (deadline,
body cap, error translation, redaction, Date) is the one in sync/pipeline.py.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Unpack
from urllib.parse import quote

from sync.errors import (
    BadResponseError,
    CursorExpiredError,
    NotFoundError,
    error_for_status,
)
from sync.medusa import events as medusa_events
from sync.medusa.admin import MedusaError
from sync.medusa.mapping import (
    ORDER_FIELDS,
    decode_cursor,
    encode_cursor,
    entry_fields,
    is_pickup,
    iso_ms,
    last_change_ms,
    parse_order,
)
from sync.models import (
    Change,
    ChangesPage,
    Event,
    EventResult,
    EventsRequest,
    Heartbeat,
    OrderSnapshot,
    OrdersPage,
    SnapshotEntry,
    check_results,
    to_rfc3339,
)
from sync.pipeline import ConnectOptions, PipelineClient

log = logging.getLogger(__name__)


class MedusaClient(PipelineClient):
    """Async Medusa v2 admin client of one store. Use ``async with`` or call ``aclose()``."""

    # Events are applied one after another (each reads the order first), so one batch at a time.
    max_in_flight = 1
    long_polls = False  # no change feed: get_changes polls every poll_s
    accepts_heartbeat = False

    def __init__(
        self,
        base_url: str,
        store_id: str,
        token: str | None,
        *,
        stock_location_id: str,
        sales_channel_id: str,
        shipping_option_ids: Sequence[str] = (),
        poll_s: float = 2.0,
        **options: Unpack[ConnectOptions],
    ) -> None:
        self.location_id = stock_location_id
        self.sales_channel_id = sales_channel_id
        self.poll_s = poll_s
        self._configured_options = set(shipping_option_ids)
        self._pickup_options: set[str] | None = set(shipping_option_ids) or None
        headers: dict[str, str] = {}
        secrets: list[str] = []
        if token:
            basic = base64.b64encode(f"{token}:".encode()).decode()
            headers["Authorization"] = f"Basic {basic}"
            secrets = [token, basic]
        self._connect(base_url, store_id, headers=headers, secrets=secrets, **options)

    # --- the contract's endpoints ---------------------------------------------------

    async def get_changes(self, after: str | None = None, limit: int = 100, wait: float = 0, *,
                          timeout_s: float | None = None) -> ChangesPage:
        """Orders changed after the watermark; polls every poll_s for up to ``wait`` s when none."""
        if not 1 <= limit <= 1000 or not 0 <= wait <= 30:
            raise ValueError("limit must be 1-1000 and wait 0-30")
        try:
            since_ms, since_id = decode_cursor(after)
        except ValueError:
            raise CursorExpiredError("medusa feed: unknown cursor", status=None) from None
        deadline = time.monotonic() + wait
        while True:
            page = await self._changes_once(since_ms, since_id, limit, timeout_s)
            if page.changes or time.monotonic() + self.poll_s > deadline:
                return page
            await asyncio.sleep(self.poll_s)

    async def post_events(self, events: Sequence[Event | Mapping[str, Any]]) -> list[EventResult]:
        """Each event in turn; a transient failure fails the batch, whose retry finds duplicates."""
        request = EventsRequest.model_validate({"events": list(events)})
        results = [await medusa_events.apply_event(self, event) for event in request.events]
        return check_results(results, [event.event_id for event in request.events])

    async def get_order(self, order_id: str, *, timeout_s: float | None = None) -> OrderSnapshot:
        order = await self.order(order_id, timeout_s=timeout_s)
        if order is None:
            raise NotFoundError(f"GET /admin/orders/{order_id}: not an order of this store", status=404)
        return parse_order(order)

    async def list_orders(self, updated_after: datetime | None = None, cursor: str | None = None,
                          limit: int = 100, *, timeout_s: float | None = None) -> OrdersPage:
        """Open orders (Medusa status pending), then those updated after ``updated_after``.

        The cursor is "<phase>:<offset>"; an order in both phases is listed twice,
        which reconciliation tolerates (it compares by order id).
        """
        if not 1 <= limit <= 1000:
            raise ValueError("limit must be 1-1000")
        phase, _, offset_text = (cursor or "open:0").partition(":")
        offset = int(offset_text) if offset_text.isdigit() else 0
        params: dict[str, Any] = {"offset": offset, "limit": limit, "order": "created_at"}
        if phase == "open":
            params["status[]"] = ["pending"]
        else:
            since = updated_after or datetime(1970, 1, 1, tzinfo=UTC)
            params["updated_at[$gte]"] = to_rfc3339(since)
            params["status[]"] = ["canceled", "completed", "archived"]
        body = await self._list(params, timeout_s)
        orders = await self._ours(body.get("orders") or [])
        entries = [SnapshotEntry(**entry_fields(o)) for o in orders]
        more = offset + limit < int(body.get("count") or 0)
        if more:
            next_cursor: str | None = f"{phase}:{offset + limit}"
        else:
            next_cursor = "recent:0" if phase == "open" else None
        return OrdersPage(orders=entries, next_cursor=next_cursor)

    async def heartbeat(self, body: Heartbeat | Mapping[str, Any]) -> None:
        """Medusa has no place for a store's health: validated (the agent's bug shows) and dropped."""
        if not isinstance(body, Heartbeat):
            Heartbeat.model_validate(body)

    # --- reading Medusa ---------------------------------------------------------------

    async def order(self, order_id: str, *, timeout_s: float | None = None) -> dict[str, Any] | None:
        """The order with what a snapshot needs, or None when it is not this store's pickup order."""
        try:
            body = await self.call("GET", f"/admin/orders/{quote(order_id, safe='')}",
                                   params={"fields": ORDER_FIELDS}, timeout_s=timeout_s)
        except MedusaError as exc:
            if exc.status in (400, 404):
                return None
            raise
        order = body.get("order")
        if not isinstance(order, dict) or order.get("sales_channel_id") != self.sales_channel_id:
            return None
        ours = await self._ours([order])
        return ours[0] if ours else None

    async def _changes_once(self, since_ms: int, since_id: str, limit: int,
                            timeout_s: float | None) -> ChangesPage:
        # $gte on the millisecond, then drop what the watermark already covers: Medusa
        # stores microseconds and answers milliseconds, so $gt could skip an order.
        params = {"updated_at[$gte]": iso_ms(since_ms), "order": "updated_at", "limit": limit,
                  "offset": 0}
        body = await self._list(params, timeout_s)
        raw_orders = body.get("orders") or []
        fresh = [o for o in raw_orders if (last_change_ms(o), o.get("id", "")) > (since_ms, since_id)]
        if not fresh and len(raw_orders) == limit:
            # A whole page on one millisecond (bulk import): step past it by offset.
            params["offset"] = limit
            body = await self._list(params, timeout_s)
            fresh = [o for o in body.get("orders") or []
                     if (last_change_ms(o), o.get("id", "")) > (since_ms, since_id)]
        fresh.sort(key=lambda o: (last_change_ms(o), o.get("id", "")))
        ours = await self._ours(fresh)
        changes = []
        for order in ours:
            fields = entry_fields(order)
            changes.append(Change(change_id=f"{order.get('id')}@{fields['raw']['version']}", **fields))
        if fresh:
            last = fresh[-1]
            cursor = encode_cursor(last_change_ms(last), last.get("id", ""))
        else:
            cursor = encode_cursor(since_ms, since_id)
        return ChangesPage(changes=changes, cursor=cursor, has_more=len(raw_orders) == limit)

    async def _list(self, params: dict[str, Any], timeout_s: float | None) -> dict[str, Any]:
        params = {**params, "fields": ORDER_FIELDS, "sales_channel_id[]": [self.sales_channel_id]}
        return await self.call("GET", "/admin/orders", params=params, timeout_s=timeout_s)

    async def _ours(self, orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """This store's pickup orders among ``orders`` (those with a pickup shipping option)."""
        options = await self.pickup_options()
        if not self._configured_options and any(
                m.get("shipping_option_id") not in options
                for o in orders for m in o.get("shipping_methods") or []):
            options = await self.pickup_options(refresh=True)  # a pickup option added since
        return [o for o in orders if is_pickup(o, options)]

    async def pickup_options(self, *, refresh: bool = False) -> set[str]:
        """The configured options, else those of the location's pickup fulfillment sets."""
        if self._pickup_options is not None and not refresh:
            return self._pickup_options
        fields = "id,fulfillment_sets.type,fulfillment_sets.service_zones.shipping_options.id"
        body = await self.call("GET", f"/admin/stock-locations/{quote(self.location_id, safe='')}",
                               params={"fields": fields})
        found: set[str] = set()
        for fset in (body.get("stock_location") or {}).get("fulfillment_sets") or []:
            if fset.get("type") != "pickup":
                continue
            for zone in fset.get("service_zones") or []:
                found.update(o["id"] for o in zone.get("shipping_options") or [] if o.get("id"))
        self._pickup_options = found
        return found

    # --- one request ----------------------------------------------------------------

    async def call(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                   json_body: Any = None, timeout_s: float | None = None) -> dict[str, Any]:
        """One request; 2xx JSON object back, 4xx of a write as MedusaError, else the error tree."""
        reply = await self.pipeline.send(method, path, params=params, json_body=json_body,
                                         timeout_s=timeout_s)
        if 200 <= reply.status < 300:
            return _json_object(reply.body, reply.what)
        detail = self.pipeline.detail(reply)
        if reply.status in (400, 404, 409, 422):
            data = _json_object(reply.body, reply.what, strict=False)
            raise MedusaError(f"{reply.what} answered {reply.status}: {detail}", status=reply.status,
                              kind=str(data.get("type") or ""),
                              # Stored with the event's result: never with a secret in it.
                              detail=self.pipeline.redact(str(data.get("message") or detail)))
        raise error_for_status(reply.status, reply.what, retry_after=reply.retry_after, detail=detail)


def _json_object(body: bytes, what: str, *, strict: bool = True) -> dict[str, Any]:
    try:
        data = json.loads(body) if body else {}
    except ValueError:
        if not strict:
            return {}
        raise BadResponseError(f"{what}: body is not valid JSON") from None
    if not isinstance(data, dict):
        if not strict:
            return {}
        raise BadResponseError(f"{what}: body is not a JSON object")
    return data
