"""The live check at handoff and before staging: ask the OMS about this order now, briefly.

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
from agent.store import sync_state
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


async def check_before_stage(store: Store, settings: Settings, order_id: str, *,
                             client: OmsAdapter | None = None) -> LiveCheck | None:
    """Before staging, while the store is online: the same question, the same short timeout.

    A cancellation made online while the associate picked is applied here, and the
    stage is then refused as for any cancelled order, instead of reaching the OMS as
    a conflict. Offline (the store's last contact failed), nothing is asked: the
    stage goes ahead and a conflict answer later settles itself (orders/superseded).
    None when nothing was asked.
    """
    if not sync_state.reported_online(store.conn):
        return None
    try:
        return await check_order(store, settings, order_id, client=client)
    except UnknownOrderError as exc:  # the stage decides (and reconciliation flags it)
        return LiveCheck(True, str(exc))


def check_before_stage_sync(store: Store, settings: Settings, order_id: str) -> LiveCheck | None:
    return asyncio.run(check_before_stage(store, settings, order_id))


def check_order_sync(store: Store, settings: Settings, order_id: str) -> LiveCheck:
    return asyncio.run(check_order(store, settings, order_id))
