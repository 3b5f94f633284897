"""The store's KPIs as Prometheus metrics, beside the sync metrics of agent/ops/metrics.py.

Each KPI of ``store-agent report`` (agent/kpis/report.py) over rolling windows
ending at the scrape: the last hour, 24 hours and 7 days (label ``window``),
plus the live queue: open orders by timer state and waiting curbside
customers. The targets of ``[sla]`` are series too
(``store_agent_kpi_target``), so a dashboard draws them as lines without
knowing each store's config.

A figure with nothing to count (no order made READY in the last hour) is an
absent series, not a misleading 0. The windows are computed at most once a
minute (KPIs move slowly; a 7-day window reads a few thousand rows), on a
connection of this collector's own, under a lock, as the sync collector does.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from agent.clock import utc_now
from agent.errors import StoreError
from agent.kpis.report import report
from agent.kpis.timers import arrival_timers, open_order_timers
from agent.store.connection import Store
from config.settings import Settings

log = logging.getLogger("store_agent.metrics")

WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}
CACHE_S = 60.0
TIMER_STATES = ("on_time", "nearing", "late")

# (metric suffix, report field, help); a summary field yields one series per stat.
_COUNTS = (
    ("orders_released", "orders_released", "Orders released to the store in the window."),
    ("orders_ready", "orders_ready", "Orders made READY in the window."),
    ("orders_picked_up", "orders_picked_up", "Orders handed over in the window."),
)
_RATIOS = (
    ("on_time_ready_ratio", "on_time_ready_rate", "Share of orders READY by their target."),
    ("pickup_conversion_ratio", "pickup_conversion",
     "Picked up / (picked up + cancelled or no-show after READY)."),
    ("no_show_ratio", "no_show_rate", "No-shows among orders that ended after READY."),
    ("short_pick_ratio", "short_pick_rate", "Share of orders made READY with a short line."),
)
_DURATIONS = (
    ("fulfillment_seconds", "fulfillment_time_s", "Released to the store -> READY."),
    ("curb_wait_seconds", "curb_wait_s", "Curbside check-in -> handover."),
    ("cancel_to_shelf_seconds", "cancel_to_shelf_s", "Return-to-shelf task opened -> done."),
)


class KpiCollector(Collector):
    def __init__(self, settings: Settings, *, now: Callable[[], datetime] = utc_now,
                 clock: Callable[[], float] = time.monotonic):
        self.settings = settings
        self.db_path = Path(settings.storage.path)
        self._now = now
        self._clock = clock
        self._lock = threading.Lock()
        self._store: Store | None = None
        self._cached: tuple[float, dict[str, Any]] | None = None

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def _facts(self) -> dict[str, Any] | None:
        with self._lock:
            if self._cached is not None and self._clock() - self._cached[0] < CACHE_S:
                return self._cached[1]
            now = self._now()
            try:
                if self._store is None:
                    self._store = Store(self.db_path, migrate=False)
                with self._store.read() as conn:
                    facts = {
                        "windows": {name: report(conn, now - span, now, self.settings.sla)
                                    for name, span in WINDOWS.items()},
                        "queue": Counter(t.state for t in open_order_timers(conn, self.settings.sla,
                                                                             now=now)),
                        "curbside": Counter(t.state for t in arrival_timers(conn, self.settings.sla,
                                                                            now=now)),
                    }
            except (sqlite3.Error, StoreError) as exc:
                log.warning("metrics: cannot compute the KPIs: %s", exc)
                return None  # store_agent_database_up already says why
            self._cached = (self._clock(), facts)
            return facts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        facts = self._facts()
        if facts is None:
            return
        yield from self._targets()
        windows: dict[str, dict[str, Any]] = facts["windows"]
        for suffix, field, doc in (*_COUNTS, *_RATIOS):
            family = GaugeMetricFamily(f"store_agent_kpi_{suffix}", doc, labels=["window"])
            for window, values in windows.items():
                if values[field] is not None:
                    family.add_metric([window], values[field])
            yield family
        for suffix, field, doc in _DURATIONS:
            family = GaugeMetricFamily(f"store_agent_kpi_{suffix}", doc + " Seconds, by stat.",
                                       labels=["window", "stat"])
            for window, values in windows.items():
                for stat, value in values[field].items():
                    if value is not None:
                        family.add_metric([window, stat], value)
            yield family
        queue = GaugeMetricFamily("store_agent_queue_orders",
                                  "Orders to pick, by timer state against their target.",
                                  labels=["timer_state"])
        curb = GaugeMetricFamily("store_agent_curbside_waiting",
                                 "Checked-in curbside customers waiting, by wait state.",
                                 labels=["timer_state"])
        for state in TIMER_STATES:
            queue.add_metric([state], facts["queue"].get(state, 0))
            curb.add_metric([state], facts["curbside"].get(state, 0))
        yield queue
        yield curb

    def _targets(self) -> Iterator[GaugeMetricFamily]:
        sla = self.settings.sla
        family = GaugeMetricFamily("store_agent_kpi_target",
                                   "The store's targets ([sla]): draw them as threshold lines.",
                                   labels=["kpi"])
        family.add_metric(["fulfillment_seconds"], sla.ready_within_min * 60)
        family.add_metric(["on_time_ready_ratio"], sla.on_time_target_pct / 100)
        family.add_metric(["pickup_conversion_ratio"], sla.pickup_conversion_target_pct / 100)
        family.add_metric(["curb_wait_seconds"], sla.curbside_wait_min * 60)
        yield family
