"""One drain of the outbox and one pull of the feed: `store-agent sync` and the UI's F5."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent.oms import make_client
from agent.store.connection import Store
from agent.workers.feed import FeedPuller
from agent.workers.sender import OutboxSender
from config.settings import Settings
from sync.errors import SyncError


async def sync_once(store: Store, settings: Settings, *,
                    progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Returns ``{sent, acked, dead, changes, errors}``; ``progress`` gets events settled so far."""
    summary: dict[str, Any] = {"sent": 0, "acked": 0, "dead": 0, "changes": 0, "errors": []}
    async with make_client(settings) as client:
        sender = OutboxSender(store, settings, client)
        while True:
            report = await sender.drain(max_requests=1)
            summary["sent"] += report.sent
            summary["acked"] += report.acked
            summary["dead"] += report.dead
            if progress is not None:
                progress(summary["acked"] + summary["dead"])
            if report.error:
                summary["errors"].append(f"events: {report.error}")
                break
            if not report.requests:
                break
        feed = FeedPuller(store, settings, client)
        try:
            while True:
                page = await feed.pull(wait=0)
                summary["changes"] += page.changes
                if not page.has_more:
                    break
        except SyncError as exc:
            summary["errors"].append(f"feed: {exc}")
    return summary
