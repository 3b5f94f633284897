"""Applying a batch of OMS snapshots in one transaction (feed pages, imports, seeding)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from agent.clock import iso, utc_now
from agent.orders.snapshots import apply_snapshot
from agent.store import sync_state as sync_facts
from agent.store.connection import Store


def ingest_snapshots(
    store: Store,
    raws: Iterable[Any],
    *,
    status_map: Mapping[str, str],
    source: str,
    sync_state: dict[str, str] | None = None,
) -> Counter[str]:
    """Apply each snapshot under the store's rules; invalid ones are quarantined, not raised.

    ``sync_state`` (e.g. the feed cursor) is written in the same transaction,
    so a crash can never record a cursor past changes that were not applied.
    """
    outcomes: Counter[str] = Counter()
    now = iso(utc_now())
    with store.write() as conn:
        for raw in raws:
            change_id = None
            if isinstance(raw, dict) and "change_id" in raw and "order" in raw:
                change_id, raw = str(raw["change_id"]), raw["order"]
            result = apply_snapshot(conn, raw, status_map=status_map, now=now, source=source,
                                    change_id=change_id)
            outcomes[result.outcome] += 1
        sync_facts.put_all(conn, sync_state or {})
    return outcomes
