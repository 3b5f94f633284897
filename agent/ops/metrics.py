"""Prometheus metrics, served by the daemon on ``metrics.listen`` (empty turns the endpoint off).

Almost everything is read from the database at scrape time by a custom
collector: the numbers are true for the whole store whichever process did the
work (CLI, UI, daemon), and the counters survive daemon restarts because they
are counts of rows - plus what retention purged, remembered in sync_state.
The one in-process metric is the histogram of occurred -> acknowledged
latency, observed by the sender as acknowledgements are recorded; it starts
empty after a restart, as histograms do.

The collector uses a connection of its own, under a lock: scrapes arrive on
the HTTP server's threads, and a connection's transactions must not
interleave with another thread's. A database that cannot be read yields
``store_agent_database_up 0`` instead of an HTTP error, so the scrape itself
still says what is wrong.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from agent.alerts.rules import disk_free_pct
from agent.clock import age_s, iso, parse_iso, utc_now
from agent.errors import StoreError
from agent.oms import agent_version
from agent.ops.kpi_metrics import KpiCollector
from agent.ops.metrics_http import start_server
from agent.store import sync_state
from agent.store.connection import Store
from agent.store.sync_state import DeviceKind, SyncKey
from config.settings import Settings

log = logging.getLogger("store_agent.metrics")

ACK_LATENCY_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600)
PRINTER_READY = frozenset({"ready", "paper_near_end"})
SCRAPE_CACHE_KIB = 256


def _ts(value: str | None) -> float | None:
    return parse_iso(value).timestamp() if value else None


def _gauge(name: str, doc: str, value: float | None) -> Iterator[GaugeMetricFamily]:
    if value is not None:  # an unknown value is an absent series, not a misleading 0
        yield GaugeMetricFamily(name, doc, value=value)


class StoreCollector(Collector):
    def __init__(self, settings: Settings, *, now: Callable[[], datetime] = utc_now):
        self.settings = settings
        self.db_path = Path(settings.storage.path)
        self._now = now
        self._lock = threading.Lock()
        self._store: Store | None = None

    def close(self) -> None:
        with self._lock:
            self._close_unlocked()

    def _close_unlocked(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def collect(self) -> Iterator[Any]:
        info = GaugeMetricFamily("store_agent_info", "This agent: store id and version.",
                                 labels=["store_id", "version"])
        info.add_metric([self.settings.store_id, agent_version()], 1)
        yield info
        with self._lock:
            try:
                if self._store is None:
                    self._store = Store(self.db_path, migrate=False)
                    # A scrape scans the outbox once; every commit elsewhere invalidates the
                    # cache anyway, so SQLite's default 2 MiB would only sit resident.
                    self._store.limit_cache(SCRAPE_CACHE_KIB)
                facts = self._read(self._store, self._now())
            except (sqlite3.Error, StoreError) as exc:
                log.warning("metrics: cannot read the database: %s", exc)
                self._close_unlocked()
                yield GaugeMetricFamily("store_agent_database_up", "1 when the database was read.",
                                        value=0)
                return
        yield GaugeMetricFamily("store_agent_database_up", "1 when the database was read.", value=1)
        yield from self._families(facts)

    def _read(self, store: Store, now: datetime) -> dict[str, Any]:
        f: dict[str, Any] = {"now": now}
        with store.read() as conn:
            def one(sql: str, *a: Any) -> Any:
                return conn.execute(sql, a).fetchone()

            f["state"] = sync_state.get_all(conn)
            f["printers"] = sync_state.device_states(conn, DeviceKind.PRINTER)
            f["pending"], f["oldest"] = one(
                "SELECT COUNT(*), MIN(occurred_at) FROM outbox WHERE status IN ('pending', 'held')")
            f["dead"] = one("SELECT COUNT(*) FROM outbox WHERE status = 'dead'"
                            " AND resolved_at IS NULL")[0]
            f["held_orders"] = one("SELECT COUNT(DISTINCT order_id) FROM outbox WHERE status = 'held'"
                                   " OR (status = 'dead' AND resolved_at IS NULL)")[0]
            f["quarantined"] = one("SELECT COUNT(*) FROM quarantine WHERE resolved_at IS NULL")[0]
            f["created"], f["sent"], f["acked"], f["ever_dead"] = one(
                "SELECT COALESCE(MAX(seq), 0), COUNT(*) FILTER (WHERE attempts > 0),"
                " COUNT(*) FILTER (WHERE status = 'acked'),"
                " COUNT(*) FILTER (WHERE dead_at IS NOT NULL OR resolution IS NOT NULL) FROM outbox")
            f["mismatches"] = one(
                "SELECT COUNT(*) FROM received_changes WHERE source = 'reconcile'"
                " AND outcome LIKE 'finding:%' AND received_at >= ?", iso(now - timedelta(hours=1)))[0]
            f["alerts"] = dict(conn.execute("SELECT severity, COUNT(*) FROM alerts"
                                            " WHERE resolved_at IS NULL GROUP BY severity").fetchall())
        return f

    def _families(self, f: dict[str, Any]) -> Iterator[Any]:
        state, now = f["state"], f["now"]
        purged_acked = int(state.get(SyncKey.PURGED_ACKED_EVENTS) or 0)
        purged_dead = int(state.get(SyncKey.PURGED_DEAD_EVENTS) or 0)
        online = sync_state.online_from(state, now)
        yield GaugeMetricFamily("store_agent_online", "1 when the OMS answered within the last 90 s.",
                                value=int(online))
        yield GaugeMetricFamily("store_agent_outbox_pending",
                                "Events not yet acknowledged by the OMS (pending and held).",
                                value=f["pending"])
        yield GaugeMetricFamily("store_agent_outbox_oldest_pending_age_seconds",
                                "Age of the oldest pending or held event; 0 when there is none.",
                                value=age_s(f["oldest"], now) or 0.0)
        yield GaugeMetricFamily("store_agent_dead_letters", "Unresolved dead letters.", value=f["dead"])
        yield GaugeMetricFamily("store_agent_held_orders",
                                "Orders whose events wait behind a dead letter.", value=f["held_orders"])
        yield GaugeMetricFamily("store_agent_quarantined_snapshots",
                                "OMS snapshots quarantined and not resolved.", value=f["quarantined"])
        yield GaugeMetricFamily("store_agent_reconcile_mismatches_last_hour",
                                "Differences reconciliation found in the last hour.",
                                value=f["mismatches"])
        yield from _gauge("store_agent_last_sync_success_timestamp_seconds",
                          "When the OMS last answered a request successfully (Unix time).",
                          _ts(state.get(SyncKey.LAST_CONTACT_AT)))
        yield from _gauge("store_agent_last_feed_success_timestamp_seconds",
                          "When the change feed last succeeded (Unix time).",
                          _ts(state.get(SyncKey.LAST_FEED_SUCCESS_AT)))
        yield from _gauge("store_agent_feed_lag_seconds", "Seconds since the change feed last succeeded.",
                          age_s(state.get(SyncKey.LAST_FEED_SUCCESS_AT), now))
        yield from _gauge("store_agent_last_reconcile_timestamp_seconds",
                          "When reconciliation last ran (Unix time).",
                          _ts(state.get(SyncKey.LAST_RECONCILE_AT)))
        yield from _gauge("store_agent_last_backup_timestamp_seconds",
                          "When the last nightly backup was written (Unix time).",
                          _ts(state.get(SyncKey.LAST_BACKUP_AT)))
        yield from _gauge("store_agent_last_offsite_backup_timestamp_seconds",
                          "When a nightly backup last reached its second location (Unix time).",
                          _ts(state.get(SyncKey.LAST_OFFSITE_BACKUP_AT)))
        created = CounterMetricFamily("store_agent_events_created", "Events created (the highest seq).")
        created.add_metric([], f["created"])
        yield created
        for name, doc, value in (
            ("store_agent_events_sent", "Events sent to the OMS at least once.", f["sent"] + purged_acked),
            ("store_agent_events_acknowledged", "Events acknowledged by the OMS.",
             f["acked"] + purged_acked),
            ("store_agent_events_dead", "Events that became dead letters.", f["ever_dead"] + purged_dead),
        ):
            counter = CounterMetricFamily(name, doc)
            counter.add_metric([], value)
            yield counter
        alerts = GaugeMetricFamily("store_agent_open_alerts", "Open alerts by severity.",
                                   labels=["severity"])
        for severity in ("warning", "critical"):
            alerts.add_metric([severity], f["alerts"].get(severity, 0))
        yield alerts
        yield from self._devices(f["printers"])
        yield from self._files()

    def _devices(self, printers: dict[str, dict[str, Any]]) -> Iterator[Any]:
        ready = GaugeMetricFamily("store_agent_device_ready",
                                  "1 when a configured device can work (printers: as last seen by the"
                                  " daemon's print worker).", labels=["kind", "device"])
        status = GaugeMetricFamily("store_agent_printer_status",
                                   "1 for the printer's current status.", labels=["printer", "status"])
        for printer in self.settings.printers:
            current = printers.get(printer.id, {}).get("status", "unknown")
            ready.add_metric(["printer", printer.id], int(current in PRINTER_READY))
            status.add_metric([printer.id, current], 1)
        yield ready
        yield status

    def _files(self) -> Iterator[Any]:
        for name, doc, path in (
            ("store_agent_database_size_bytes", "Size of the database file.", self.db_path),
            ("store_agent_wal_size_bytes", "Size of the write-ahead log.",
             self.db_path.with_name(self.db_path.name + "-wal")),
        ):
            try:
                size = os.stat(path).st_size
            except OSError:
                size = 0
            yield GaugeMetricFamily(name, doc, value=size)
        try:
            free = disk_free_pct(self.db_path.parent) / 100
        except OSError:
            return
        yield GaugeMetricFamily("store_agent_disk_free_ratio",
                                "Free share of the database's file system (0-1).", value=free)


class StoreMetrics:
    """The daemon's registry: the database collector plus the acknowledgement latency histogram."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.registry = CollectorRegistry(auto_describe=False)
        self.collector = StoreCollector(settings)
        self.registry.register(self.collector)
        self.kpis = KpiCollector(settings)
        self.registry.register(self.kpis)
        self.ack_latency = Histogram(
            "store_agent_event_ack_latency_seconds",
            "From an event's occurred_at to its acknowledgement by the OMS.",
            buckets=ACK_LATENCY_BUCKETS, registry=self.registry)
        # A crash loop shows as a start time that keeps moving (changes(...[1h]) > 3) and as
        # process_* series (CPU, memory, open files) from prometheus-client's own collector.
        ProcessCollector(registry=self.registry)
        Gauge("store_agent_start_time_seconds", "When this daemon process started (Unix time).",
              registry=self.registry).set(time.time())

    def observe_ack(self, occurred_at: str, acked_at: str) -> None:
        """The sender's hook; must never break sending, so a bad stamp is only logged."""
        try:
            seconds = (parse_iso(acked_at) - parse_iso(occurred_at)).total_seconds()
        except ValueError:
            log.debug("metrics: unparseable event time %r", occurred_at)
            return
        self.ack_latency.observe(max(seconds, 0.0))

    async def serve(self, stop: asyncio.Event) -> None:
        """A daemon worker: serve /metrics until ``stop``; a busy port is logged, never fatal."""
        listen = self.settings.metrics.listen
        try:
            host, port = self.settings.metrics.host_port()
            server, _thread, tls = start_server(self.registry, host, port, self.settings.metrics)
        except (OSError, ValueError, ssl.SSLError) as exc:
            # Syncing matters more than being watched: keep running without the endpoint.
            log.error("metrics endpoint on %s not started: %s", listen,
                      getattr(exc, "strerror", None) or exc)
            await stop.wait()
            return
        self.port = server.server_port
        log.info("metrics on %s://%s:%d/metrics%s", "https" if tls else "http", host, self.port,
                 " (basic auth)" if self.settings.metrics.basic_auth_user else "")
        try:
            await stop.wait()
        finally:
            server.shutdown()
            server.server_close()
            self.collector.close()
            self.kpis.close()
