"""F5: one drain of the outbox and one pull of the feed, as `store-agent sync` does."""

from __future__ import annotations

from typing import Any

from agent.store.connection import Store
from agent.workers import sync_once as one_shot
from config.settings import Settings


async def sync_once(settings: Settings) -> dict[str, Any]:
    # A connection of its own, so the sender's transactions never interleave
    # with a screen's read on the app's connection; interactive: it runs on the UI's
    # event loop, which a lock held elsewhere must not freeze (a busy F5 says so).
    with Store(settings.storage.path, migrate=False, interactive=True) as store:
        return await one_shot.sync_once(store, settings)
