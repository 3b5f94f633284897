"""StoreSyncClient: the agent's side of the Store Sync API, on httpx.

One method per endpoint, each a single attempt: retrying, batching and backing
off belong to the sender, which uses ``sync.retry``. It implements
``sync.adapter.OmsAdapter``; its requests go through ``sync.pipeline``, so every
failure leaves as a ``sync.errors.SyncError`` (no httpx exception type escapes)
and the bearer token is never in a message or a repr.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Unpack
from urllib.parse import quote

from sync.errors import error_for_status
from sync.models import (
    API_VERSION,
    ChangesPage,
    Event,
    EventResult,
    EventsRequest,
    Heartbeat,
    OrderSnapshot,
    OrdersPage,
    parse_changes_page,
    parse_event_results,
    parse_orders_page,
    parse_snapshot,
    to_rfc3339,
)
from sync.pipeline import ConnectOptions, PipelineClient


class StoreSyncClient(PipelineClient):
    """Async client of one store's Store Sync API. Use ``async with`` or call ``aclose()``."""

    max_in_flight = 3
    """POST /events batches the sender may keep in flight at once. The contract's
    batches are independent when they share no order (the sender guarantees that),
    and overlapping them keeps both the store's and the OMS's CPU busy."""
    long_polls = True
    accepts_heartbeat = True

    def __init__(self, base_url: str, store_id: str, token: str | None,
                 **options: Unpack[ConnectOptions]) -> None:
        headers = {"Store-Sync-Version": API_VERSION}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._connect(base_url, store_id, headers=headers, secrets=[token] if token else [],
                      path_prefix=f"/v1/stores/{quote(store_id, safe='')}", **options)

    # --- endpoints ----------------------------------------------------------

    async def get_changes(
        self,
        after: str | None = None,
        limit: int = 100,
        wait: float = 0,
        *,
        timeout_s: float | None = None,
    ) -> ChangesPage:
        """One page of the feed; long-polls up to ``wait`` s. CursorExpiredError on 410."""
        if not 1 <= limit <= 1000 or not 0 <= wait <= 30:
            raise ValueError("limit must be 1-1000 and wait 0-30")
        params: dict[str, Any] = {"limit": limit, "wait": int(wait)}
        if after is not None:
            params["after"] = after
        # The long poll is not a slow server: the read may legitimately take `wait` longer.
        body = await self._call("GET", "/changes", params=params, timeout_s=timeout_s, extra_s=wait)
        return parse_changes_page(body)

    async def post_events(self, events: Sequence[Event | Mapping[str, Any]]) -> list[EventResult]:
        """Send one batch; one result per event in the same order, else BadResponseError.

        Safe to call concurrently (the sender keeps up to ``max_in_flight`` batches in
        flight, never two holding the same order); each call uses its own connection.
        """
        request = EventsRequest.model_validate({"events": list(events)})
        sent_ids = [event.event_id for event in request.events]
        # pydantic-core writes the JSON itself: about half the CPU of model_dump + json.dumps.
        # exclude_unset: a 1.1 field the action did not fill is absent, not null, on the wire
        # (absent has a meaning in the contract: e.g. no "lines" is "everything staged").
        content = request.model_dump_json(exclude_unset=True).encode()
        # Only the body waits for the answer: the models are ~3 KB an event, ten times their JSON.
        del events, request
        body = await self._call("POST", "/events", content=content)
        return parse_event_results(body, sent_ids)

    async def get_order(self, order_id: str, *, timeout_s: float | None = None) -> OrderSnapshot:
        """The live check: the OMS's current snapshot, or NotFoundError."""
        path = f"/orders/{quote(order_id, safe='')}"
        body = await self._call("GET", path, timeout_s=timeout_s, not_found=True)
        return parse_snapshot(body)

    async def list_orders(
        self,
        updated_after: datetime | None = None,
        cursor: str | None = None,
        limit: int = 100,
        *,
        timeout_s: float | None = None,
    ) -> OrdersPage:
        """One page for reconciliation: open orders plus those updated after ``updated_after``."""
        if not 1 <= limit <= 1000:
            raise ValueError("limit must be 1-1000")
        params: dict[str, Any] = {"limit": limit}
        if updated_after is not None:
            params["updated_after"] = to_rfc3339(updated_after)
        if cursor is not None:
            params["cursor"] = cursor
        body = await self._call("GET", "/orders", params=params, timeout_s=timeout_s)
        return parse_orders_page(body)

    async def heartbeat(self, body: Heartbeat | Mapping[str, Any]) -> None:
        beat = body if isinstance(body, Heartbeat) else Heartbeat.model_validate(body)
        await self._call("POST", "/heartbeat", json_body=beat.model_dump(mode="json"))

    # --- one request ----------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        timeout_s: float | None = None,
        extra_s: float = 0.0,
        not_found: bool = False,
    ) -> bytes:
        """The body of a 200/204; any other status as the contract's error for it."""
        reply = await self.pipeline.send(method, path, params=params, json_body=json_body,
                                         content=content, timeout_s=timeout_s, extra_s=extra_s)
        if reply.status in (200, 204):
            return reply.body
        raise error_for_status(reply.status, reply.what, retry_after=reply.retry_after,
                               detail=self.pipeline.detail(reply), not_found=not_found)
