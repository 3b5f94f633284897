"""What the agent needs from an OMS, written down once: the ``OmsAdapter`` protocol.

The Store Sync API client (``sync.client.StoreSyncClient``) and the Medusa
adapter (``sync.medusa.MedusaClient``) both implement it; the sender, the feed,
reconciliation, the live check and doctor are typed against it and never ask
which OMS they talk to. What differs between OMSs is said by capability
attributes, not found out by probing:

- ``max_in_flight``: POST /events batches the sender may keep in flight at once
  (independent batches; the sender never puts one order in two of them).
- ``long_polls``: ``get_changes(wait=...)`` is answered by the OMS when a change
  arrives (False: the adapter polls until ``wait`` runs out).
- ``accepts_heartbeat``: the OMS keeps the store's health; False means
  ``heartbeat`` validates the body and drops it.

Every method raises only ``sync.errors.SyncError`` (and ``ValueError`` for an
argument out of range, a bug of the caller).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, Self, runtime_checkable

from sync.models import ChangesPage, Event, EventResult, Heartbeat, OrderSnapshot, OrdersPage


@runtime_checkable
class OmsAdapter(Protocol):
    """One store's connection to its OMS. Use ``async with`` or call ``aclose()``."""

    store_id: str
    max_in_flight: int
    long_polls: bool
    accepts_heartbeat: bool

    @property
    def last_server_date(self) -> datetime | None:
        """The OMS's ``Date`` on its last answer (doctor's clock-skew check)."""

    @property
    def last_response_at(self) -> datetime | None:
        """Our clock when that answer arrived."""

    async def get_changes(self, after: str | None = None, limit: int = 100, wait: float = 0, *,
                          timeout_s: float | None = None) -> ChangesPage:
        """One page of changes after the cursor ``after``; CursorExpiredError when it is stale."""

    async def post_events(self, events: Sequence[Event | Mapping[str, Any]]) -> list[EventResult]:
        """One result per event, in order, or a SyncError for the whole batch."""

    async def get_order(self, order_id: str, *, timeout_s: float | None = None) -> OrderSnapshot:
        """The OMS's current snapshot (the live check), or NotFoundError."""

    async def list_orders(self, updated_after: datetime | None = None, cursor: str | None = None,
                          limit: int = 100, *, timeout_s: float | None = None) -> OrdersPage:
        """One page for reconciliation: open orders plus those updated after ``updated_after``."""

    async def heartbeat(self, body: Heartbeat | Mapping[str, Any]) -> None:
        """Tell the OMS how the store is (a no-op where ``accepts_heartbeat`` is False)."""

    async def aclose(self) -> None: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc_info: object) -> None: ...
