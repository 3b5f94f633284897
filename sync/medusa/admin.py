"""What the Medusa event handlers (events.py, items.py) need of the client, Medusa's own
refusal, and the two steps every handler shares (answer a result, write and answer), in a
module of their own: the client imports the handlers, the handlers import only this, so
there is no import cycle between them.

    UnexpectedStatusError              (sync.errors)
    └── MedusaError    a 400/404/409/422 from Medusa, with its ``type`` (not_allowed,
                       invalid_data, not_found): events.py turns it into that event's
                       result; on a read it stays transient (retrying is safe)
"""

from __future__ import annotations

from typing import Any, Protocol

from sync.errors import UnexpectedStatusError
from sync.medusa.mapping import check
from sync.models import Event, EventResult


class MedusaError(UnexpectedStatusError):
    """A 4xx Medusa answer to one write, which events.py turns into that event's result."""

    def __init__(self, message: str, *, status: int, kind: str, detail: str):
        super().__init__(message, status=status)
        self.kind = kind
        self.detail = detail


class MedusaAdmin(Protocol):
    """The admin API as the event handlers use it (``sync.medusa.client.MedusaClient``)."""

    location_id: str
    """The store's stock location."""

    async def order(self, order_id: str, *, timeout_s: float | None = None) -> dict[str, Any] | None:
        """The order with what a snapshot needs, or None when it is not this store's pickup order."""

    async def call(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                   json_body: Any = None, timeout_s: float | None = None) -> dict[str, Any]:
        """One request; a 2xx JSON object, MedusaError for a 4xx refusal, else a SyncError."""


def answer(event: Event, status: str, code: str | None = None, message: str | None = None,
           order: dict[str, Any] | None = None) -> EventResult:
    """The event's result in contract terms, with the order's snapshot when there is one."""
    raw, snapshot, error = (None, None, None) if order is None else check(order)
    return EventResult(event_id=event.event_id, status=status,  # pydantic checks the status
                       code=code, message=message, order=snapshot, order_raw=raw, order_error=error)


async def write(client: MedusaAdmin, event: Event, path: str, body: dict[str, Any]) -> EventResult:
    """POST a change and answer accepted with the new state, or the refusal in contract terms."""
    try:
        await client.call("POST", path, json_body=body, params={"fields": "id"})
    except MedusaError as exc:
        fresh = await client.order(event.order_id)
        status = "conflict" if exc.kind == "not_allowed" else "rejected"
        return answer(event, status, f"medusa_{exc.kind or exc.status}", exc.detail, fresh)
    return answer(event, "accepted", order=await client.order(event.order_id))
