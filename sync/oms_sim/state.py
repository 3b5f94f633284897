"""The reference OMS's memory: stores, orders, change logs, received events, stats.

Plain synchronous code behind one lock, so tests can drive it directly and the
HTTP layer (``app.py``) stays thin. Every mutation of an order bumps its version
and appends the new snapshot to the store's change log, as a real OMS echoes
the store's own events back on the feed.

A stored snapshot is never changed in place: every change builds a new dict (the
nested lines, customer... are shared with the previous version, never edited),
so ``orders`` and the log share one object per version, and the readers that
only serialize (``changes``, ``list_orders``, event results) hand them out
without copying. What a caller may keep and edit (``get_order``, ``add_order``,
``update_order``) is a deep copy. Copying every snapshot twice per accepted
event was most of the reference OMS's CPU in the drain benchmark.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import random
import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sync.models import Event, OrderSnapshot, to_rfc3339
from sync.oms_sim.faults import FaultSpec, ScriptedAnswer
from sync.oms_sim.rules import OPEN_STATUSES, decide
from sync.oms_sim.store import StoreSim
from sync.samples import sample_arrival, sample_snapshot


class CursorGone(Exception):
    """The cursor is older than the compaction point, from another run, or garbage: 410."""


class UnknownOrder(KeyError):
    pass



class SimState:
    """All stores of one reference OMS. Thread-safe; see ``OmsSimServer`` for HTTP."""

    def __init__(
        self,
        *,
        token: str | None = "dev-token",
        seed: int = 42,
        faults: FaultSpec | str | None = None,
        clock: Callable[[], datetime] | None = None,
        next_order_number: int = 1000001,
    ):
        self.default_token = token
        self.rng = random.Random(seed)
        self.faults = faults if isinstance(faults, FaultSpec) else FaultSpec.parse(faults)
        self.fault_rng = random.Random(self.faults.seed if self.faults.seed is not None else seed)
        self.script: list[ScriptedAnswer] = []
        self.clock = clock or (lambda: datetime.now(UTC))
        self.lock = threading.RLock()
        self.stores: dict[str, StoreSim] = {}
        self.next_order_number = next_order_number
        self.trickle_interval_s: float | None = None
        self.epoch = secrets.token_hex(4)  # cursors of another run are expired, not misread
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: dict[str, asyncio.Event] = {}
        # Feed requests held open right now, per store: lets a test wait for a long poll in
        # flight instead of sleeping and hoping one is.
        self.polls_waiting: dict[str, int] = {}

    # --- stores and auth ------------------------------------------------------

    def store(self, store_id: str) -> StoreSim:
        with self.lock:
            if store_id not in self.stores:
                self.stores[store_id] = StoreSim(store_id)
            return self.stores[store_id]

    def create_store(self, store_id: str, token: str | None = None) -> StoreSim:
        with self.lock:
            store = self.store(store_id)
            store.token = token if token is not None else store.token
            return store

    def check_token(self, store_id: str, authorization: str | None) -> int | None:
        """None if allowed; 401 for no or unknown token; 403 for another store's token."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return 401
        with self.lock:
            expected = self.stores[store_id].token if store_id in self.stores else None
            expected = expected or self.default_token
            if expected is not None and secrets.compare_digest(token, expected):
                return None
            if any(s.token and secrets.compare_digest(token, s.token) for s in self.stores.values()):
                return 403
        return 401

    def set_faults(self, faults: FaultSpec | str | None) -> None:
        with self.lock:
            self.faults = faults if isinstance(faults, FaultSpec) else FaultSpec.parse(faults)
            if self.faults.seed is not None:
                self.fault_rng.seed(self.faults.seed)

    def take_scripted(self, method: str, path: str) -> ScriptedAnswer | None:
        with self.lock:
            for answer in self.script:
                if answer.matches(method, path):
                    answer.times -= 1
                    if answer.times <= 0:
                        self.script.remove(answer)
                    return answer
        return None

    # --- orders (admin and trickle) --------------------------------------------

    def add_order(self, store_id: str, snapshot: dict[str, Any] | None = None) -> dict[str, Any]:
        """Add ``snapshot`` (validated) or a sample order; an existing order is replaced
        with a higher version, as an edit at the OMS would."""
        with self.lock:
            if snapshot is None:
                orders = self.store(store_id).orders
                while f"W{self.next_order_number}" in orders:  # given orders may use our numbers
                    self.next_order_number += 1
                order_id = f"W{self.next_order_number}"
                self.next_order_number += 1
                snapshot = sample_snapshot(self.rng, order_id, self.clock())
            snapshot = OrderSnapshot.model_validate(snapshot).model_dump(mode="json")
            current = self.store(store_id).orders.get(snapshot["order_id"])
            if current is not None:
                snapshot["version"] = max(snapshot["version"], current["version"] + 1)
            self._publish(store_id, snapshot)
            return copy.deepcopy(snapshot)

    def add_sample_orders(self, store_id: str, n: int) -> list[dict[str, Any]]:
        return [self.add_order(store_id) for _ in range(n)]

    def update_order(self, store_id: str, order_id: str, **changes: Any) -> dict[str, Any]:
        """Change fields of an order at the OMS (cancel online, curbside arrival...)."""
        with self.lock:
            order = self.store(store_id).orders.get(order_id)
            if order is None:
                raise UnknownOrder(order_id)
            snapshot = {**order, **changes}  # validated and dumped below: a new structure
            snapshot["version"] = order["version"] + 1
            snapshot["updated_at"] = to_rfc3339(self.clock())
            snapshot = OrderSnapshot.model_validate(snapshot).model_dump(mode="json")
            self._publish(store_id, snapshot)
            return copy.deepcopy(snapshot)

    def cancel_order(self, store_id: str, order_id: str) -> dict[str, Any]:
        return self.update_order(store_id, order_id, status="cancelled")

    def mark_arrival(
        self, store_id: str, order_id: str, arrival: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        arrival = arrival or sample_arrival(self.rng, self.clock())
        return self.update_order(store_id, order_id, fulfillment="curbside", arrival=arrival)

    def append_raw_change(self, store_id: str, raw: Any) -> None:
        """Put anything on the feed, unvalidated: how tests make a snapshot go bad."""
        with self.lock:
            store = self.store(store_id)
            store.log.append({"change_id": f"c{len(store.log) + 1}", "order": copy.deepcopy(raw)})
        self._notify(store_id)

    def compact(self, store_id: str) -> int:
        """Forget the log so far: every cursor handed out before now answers 410."""
        with self.lock:
            store = self.store(store_id)
            store.floor = len(store.log)
            return store.floor

    def _publish(self, store_id: str, snapshot: dict[str, Any], *, notify: bool = True) -> None:
        """Make ``snapshot`` (a new dict, never edited afterwards) current and append it to the log."""
        store = self.store(store_id)
        store.orders[snapshot["order_id"]] = snapshot
        store.log.append({"change_id": f"c{len(store.log) + 1}", "order": snapshot})
        if notify:
            self._notify(store_id)

    # --- feed -------------------------------------------------------------------

    def _cursor(self, store_id: str, phase: str, position: int, last: str = "") -> str:
        text = f"{self.epoch}|{store_id}|{phase}|{position}|{last}"
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    def _read_cursor(self, store_id: str, cursor: str) -> tuple[str, int, str]:
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            epoch, store, phase, position, last = (
                base64.urlsafe_b64decode(padded.encode("ascii")).decode().split("|", 4)
            )
            pos = int(position)
        except (ValueError, UnicodeError):
            raise CursorGone("cursor is not one of ours") from None
        log = self.store(store_id).log
        if epoch != self.epoch or store != store_id or phase not in ("b", "l"):
            raise CursorGone("cursor is from another run or store")
        if pos < self.store(store_id).floor or pos > len(log):
            raise CursorGone("cursor is older than the compaction point")
        return phase, pos, last

    def changes(self, store_id: str, after: str | None, limit: int) -> dict[str, Any]:
        """One feed page. Without ``after``: every open order first, then the log.

        The snapshots in the page are the stored ones, for serializing: do not edit them."""
        with self.lock:
            store = self.store(store_id)
            if after is None:
                phase, position, last = "b", len(store.log), ""
            else:
                phase, position, last = self._read_cursor(store_id, after)
            out: list[dict[str, Any]] = []
            if phase == "b":
                # Keyset on order_id, not an offset: an order closing between two pages
                # must not make the next page skip another.
                open_ids = sorted(
                    oid for oid, o in store.orders.items() if o["status"] in OPEN_STATUSES and oid > last
                )
                for order_id in open_ids[:limit]:
                    order = store.orders[order_id]
                    change_id = f"boot-{order_id}-v{order['version']}"
                    out.append({"change_id": change_id, "order": order})
                if len(open_ids) > limit:
                    cursor = self._cursor(store_id, "b", position, open_ids[limit - 1])
                    return {"changes": out, "cursor": cursor, "has_more": True}
            entries = store.log[position : position + limit - len(out)]
            out.extend(entries)  # shared, read-only: see the module docstring
            position += len(entries)
            return {
                "changes": out,
                "cursor": self._cursor(store_id, "l", position),
                "has_more": position < len(store.log),
            }

    def attach_loop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self._loop = loop
        self._waiters.clear()

    def waiter(self, store_id: str) -> asyncio.Event:
        """Take this before reading the feed; it is set by the next change to the store."""
        return self._waiters.setdefault(store_id, asyncio.Event())

    def _notify(self, store_id: str) -> None:
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # a stopped loop has nobody waiting
            loop.call_soon_threadsafe(self._wake, store_id)

    def _wake(self, store_id: str) -> None:
        event = self._waiters.pop(store_id, None)
        if event is not None:
            event.set()

    # --- events -----------------------------------------------------------------

    def apply_events(
        self, store_id: str, events: list[Event], raw: list[dict[str, Any]] | None = None
    ) -> list[dict[str, Any]]:
        """Apply a batch in array order; one result per event.

        ``raw``: the events as they came over the wire (the validated request's JSON),
        recorded as received instead of dumping each model again.
        """
        with self.lock:
            store = self.store(store_id)
            store.stats["batches_received"] += 1
            now = to_rfc3339(self.clock())  # one instant per batch
            changed = False
            results = []
            for index, event in enumerate(events):
                record = raw[index] if raw is not None else event.model_dump(mode="json")
                result, published = self._apply(store, event, {**record, "received_at": now}, now)
                results.append(result)
                changed = changed or published
            if changed:
                self._notify(store_id)  # once per batch: each wake-up is a write to the loop's pipe
            return results

    def _apply(
        self, store: StoreSim, event: Event, record: dict[str, Any], now: str
    ) -> tuple[dict[str, Any], bool]:
        event_id = str(event.event_id)
        store.stats["events_received"] += 1
        store.deliveries[event_id] += 1
        if store.deliveries[event_id] == 2:
            store.stats["duplicate_ids"] += 1
        store.received.append(record)
        result, snapshot = decide(store, event, event_id, now)
        published = snapshot is not None
        if snapshot is not None:
            self._publish(store.store_id, snapshot, notify=False)
        record["result"] = result["status"]
        store.stats[result["status"]] += 1
        return result, published

    # --- reads --------------------------------------------------------------------

    def availability(self, store_id: str, skus: list[str] | None = None) -> list[dict[str, Any]]:
        """The store's available units per SKU (API 1.1's availability endpoint)."""
        with self.lock:
            return self.store(store_id).stock.report(skus)

    def get_order(self, store_id: str, order_id: str) -> dict[str, Any] | None:
        with self.lock:
            order = self.store(store_id).orders.get(order_id)
            return copy.deepcopy(order)

    def list_orders(
        self, store_id: str, updated_after: datetime | None, cursor: str | None, limit: int
    ) -> dict[str, Any]:
        """Open orders plus those updated after ``updated_after``, by order_id, keyset-paged.

        The snapshots are the stored ones, for serializing: do not edit them."""
        with self.lock:
            orders = self.store(store_id).orders
            wanted = sorted(
                oid
                for oid, o in orders.items()
                if (cursor is None or oid > cursor)
                and (
                    o["status"] in OPEN_STATUSES
                    or (updated_after and datetime.fromisoformat(o["updated_at"]) > updated_after)
                )
            )
            page = wanted[:limit]
            return {
                "orders": [orders[oid] for oid in page],  # shared, read-only
                "next_cursor": page[-1] if len(wanted) > limit else None,
            }

    def record_heartbeat(self, store_id: str, body: dict[str, Any]) -> None:
        with self.lock:
            store = self.store(store_id)
            store.heartbeats.append({**body, "received_at": to_rfc3339(self.clock())})
            del store.heartbeats[:-100]

    def stats(self, store_id: str) -> dict[str, Any]:
        with self.lock:
            store = self.store(store_id)
            return {
                "events_received": store.stats["events_received"],
                "batches_received": store.stats["batches_received"],
                "accepted": store.stats["accepted"],
                "duplicate_results": store.stats["duplicate"],
                "duplicate_ids": store.stats["duplicate_ids"],
                "rejected": store.stats["rejected"],
                "conflicts": store.stats["conflict"],
                "ordering_violations": copy.deepcopy(store.ordering_violations),
                "orders": len(store.orders),
                "open_orders": sum(o["status"] in OPEN_STATUSES for o in store.orders.values()),
                "changes": len(store.log),
                "compacted_at": store.floor,
                "heartbeats": len(store.heartbeats),
                "long_polls_waiting": self.polls_waiting.get(store_id, 0),
            }
