"""What rings: a curbside customer checking in, an order turning late, a new order.

Each refresh (every second, and on every commit) compares the work now with
the work last seen; what is new rings the bell once and shows a short note.
The first look after login only takes stock: work that was already there
when the associate logged in is on the queue, sorted most urgent first.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from agent.kpis.timers import arrival_timers, timers_by_order
from agent.store.connection import Store
from config.catalogue import msg
from config.settings import SlaSettings


def bay_label(bay: str | None) -> str:
    """"bay 3" for "3", and "Bay 1" as sent (never "bay Bay 1")."""
    if not bay:
        return msg("bay.unknown")
    return bay if bay.strip().lower().startswith("bay") else msg("bay.named", bay=bay.strip())


@dataclass
class _Seen:
    arrived: set[str]
    late: set[str]
    to_pick: set[str]


class WorkSignals:
    def __init__(self, store: Store, sla: SlaSettings, bells: Collection[str]):
        self.store = store
        self.sla = sla
        self.bells = set(bells)
        self._seen: _Seen | None = None

    def reset(self) -> None:
        """A new session: take stock again on the next look."""
        self._seen = None

    def check(self, now: datetime) -> list[str]:
        """Notes for what is new since the last look, for the kinds configured to ring."""
        arrivals = arrival_timers(self.store, self.sla, now=now)
        timers = timers_by_order(self.store, self.sla, now=now)
        seen = _Seen(arrived={a.order_id for a in arrivals},
                     late={t.order_id for t in timers.values() if t.state == "late"},
                     to_pick=set(timers))
        before, self._seen = self._seen, seen
        if before is None:
            return []
        notes: list[str] = []
        if "arrival" in self.bells:
            for a in arrivals:
                if a.order_id not in before.arrived:
                    notes.append(msg("signal.arrival", order=a.order_id, bay=bay_label(a.bay),
                                     vehicle=a.vehicle or msg("vehicle.unknown")))
        if "late" in self.bells:
            for order_id in sorted(seen.late - before.late):
                notes.append(msg("signal.late", order=order_id))
        if "new_order" in self.bells:
            fresh = seen.to_pick - before.to_pick
            if len(fresh) == 1:
                notes.append(msg("signal.new_order", order=next(iter(fresh))))
            elif fresh:
                notes.append(msg("signal.new_orders", count=len(fresh)))
        return notes
