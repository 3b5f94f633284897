"""The change feed: long-poll the OMS and apply each page with its cursor in one transaction.

A page is applied whole or not at all, together with the cursor that follows
it, so a crash can only make the OMS deliver a page again, which is harmless
(older or equal versions are ignored). A snapshot that fails validation is
quarantined inside that same transaction and never stops the loop.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

from agent.alerts import resolve_alert
from agent.clock import iso, utc_now
from agent.orders.snapshots import apply_snapshot, quarantine
from agent.store import sync_state
from agent.store.connection import Store
from agent.store.sync_state import SyncKey
from config.settings import Settings
from sync.adapter import OmsAdapter
from sync.errors import CursorExpiredError

log = logging.getLogger("store_agent.feed")

# Changes per request, and so per transaction. A page of 500 parsed snapshots
# and its application peaked at ~6 MB of Python objects in the daemon, next to
# the sender's batches in flight; CPython keeps such peaks resident. 200 costs a
# few more requests and commits while catching up on a backlog, and keeps each
# transaction (the event loop is blocked during it) shorter.
PAGE_SIZE = 200


@dataclass
class PullReport:
    changes: int
    outcomes: Counter[str]
    has_more: bool
    cursor_reset: bool = False


class FeedPuller:
    def __init__(self, store: Store, settings: Settings, client: OmsAdapter):
        self.store = store
        self.settings = settings
        self.client = client

    def cursor(self) -> str | None:
        return sync_state.get(self.store.conn, SyncKey.CURSOR)

    async def pull(self, *, wait: int, limit: int = PAGE_SIZE) -> PullReport:
        """One request. Raises SyncError; CursorExpiredError is handled here (cursor reset)."""
        cursor = self.cursor()
        try:
            page = await self.client.get_changes(after=cursor, limit=limit, wait=wait)
        except CursorExpiredError:
            log.warning("feed cursor expired (410): starting again from every open order")
            with self.store.write() as conn:
                sync_state.delete(conn, SyncKey.CURSOR)
                sync_state.put(conn, reconcile_requested="1")
            return PullReport(0, Counter(), True, cursor_reset=True)
        outcomes: Counter[str] = Counter()
        now = iso(utc_now())
        status_map = self.settings.status_map
        with self.store.write() as conn:
            for change in page.changes:
                if change.snapshot is None:
                    result = quarantine(conn, raw=change.raw, reason=f"invalid snapshot: {change.error}",
                                        source="feed", now=now, order_id=change.order_id,
                                        change_id=change.change_id)
                else:
                    result = apply_snapshot(conn, change.raw, snapshot=change.snapshot,
                                            status_map=status_map, now=now, source="feed",
                                            change_id=change.change_id)
                outcomes[result.outcome] += 1
            sync_state.put(conn, cursor=page.cursor, last_feed_success_at=now)
            sync_state.mark_online(conn, now)
            if page.changes:
                sync_state.put(conn, last_change_at=now)
            # The sender's to clear, if it raised it.
            if not sync_state.flag(conn, SyncKey.CREDENTIALS_REJECTED):
                resolve_alert(conn, kind="credentials", key="oms", now=now)
        return PullReport(len(page.changes), outcomes, page.has_more)
