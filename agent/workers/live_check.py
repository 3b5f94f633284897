"""The live check at handoff: ask the OMS about this order right now, with a short timeout.

A cancellation made online a minute ago may not be on the feed yet; asking
directly stops the associate at the counter. The answer is applied like any
snapshot before the pickup's own transaction reads the order.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from agent.clock import iso, utc_now
from agent.errors import UnknownOrderError
from agent.oms import make_client
from agent.orders.snapshots import apply_snapshot
from agent.store.connection import Store
from config.settings import Settings
from sync.adapter import OmsAdapter
from sync.errors import CredentialsError, NotFoundError, SyncError

log = logging.getLogger("store_agent.live_check")


@dataclass(frozen=True)
class LiveCheck:
    reached: bool
    detail: str


async def check_order(store: Store, settings: Settings, order_id: str, *,
                      client: OmsAdapter | None = None) -> LiveCheck:
    timeout = settings.pickup.live_check_timeout_s
    own = client is None
    client = client or make_client(settings)
    try:
        snapshot = await asyncio.wait_for(client.get_order(order_id, timeout_s=timeout), timeout)
    except NotFoundError:
        raise UnknownOrderError(f"the OMS does not know order {order_id}: do not hand it over"
                                " (call the store manager)") from None
    except CredentialsError as exc:
        return LiveCheck(False, f"OMS credentials rejected ({exc})")
    except (SyncError, TimeoutError) as exc:
        return LiveCheck(False, f"OMS not reachable within {timeout:g} s ({exc or 'timeout'})")
    finally:
        if own:
            await client.aclose()
    now = iso(utc_now())
    with store.write() as conn:
        outcome = apply_snapshot(conn, snapshot.model_dump(mode="json"),
                                 status_map=settings.status_map, now=now, source="live_check")
    return LiveCheck(True, f"OMS says {snapshot.status} (v{snapshot.version}, {outcome.outcome})")


def check_order_sync(store: Store, settings: Settings, order_id: str) -> LiveCheck:
    return asyncio.run(check_order(store, settings, order_id))
