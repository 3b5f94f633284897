"""The daemon's /metrics, scraped over HTTP and parsed with prometheus-client's own parser."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from agent.daemon import Daemon
from agent.ops.metrics import StoreMetrics
from agent.orders.actions import Actions
from agent.store.connection import Store
from config import load_settings
from config.sections import MetricsSettings
from sync.oms_sim import OmsSimServer, SimState
from tests.factories import write_config

TOKEN = "test-token-not-secret"


def samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(parsed: dict, name: str, **labels) -> float:
    return parsed[(name, tuple(sorted(labels.items())))]


async def _until(predicate, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def test_daemon_serves_metrics_scraped_over_http(tmp_path):
    state = SimState(token=TOKEN)
    state.create_store("S042")
    state.add_sample_orders("S042", 3)
    with OmsSimServer(state) as sim:
        path = write_config(tmp_path)
        settings = load_settings(path, environ={"STORE_AGENT_OMS__URL": sim.url})
        store = Store(settings.storage.path)

        async def scenario() -> str:
            daemon = Daemon(settings)
            run = asyncio.create_task(daemon.run())
            try:
                await _until(lambda: store.conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 3,
                             "the feed to deliver the orders")
                order_id = store.conn.execute(
                    "SELECT order_id FROM orders WHERE state = 'TO_PICK' ORDER BY order_id").fetchone()[0]
                Actions(store, settings).stage(order_id, bin="B-1", associate_id="A100")
                await _until(lambda: store.conn.execute(
                    "SELECT COUNT(*) FROM outbox WHERE status = 'acked'").fetchone()[0] == 1,
                    "the event to be acknowledged")
                await _until(lambda: getattr(daemon.metrics, "port", None), "the metrics endpoint")
                async with httpx.AsyncClient() as client:
                    response = await client.get(f"http://127.0.0.1:{daemon.metrics.port}/metrics")
                assert response.status_code == 200
                return response.text
            finally:
                daemon.stop.set()
                await asyncio.wait_for(run, 15)

        text = asyncio.run(scenario())
        store.close()
    parsed = samples(text)
    assert value(parsed, "store_agent_database_up") == 1
    assert value(parsed, "store_agent_online") == 1
    assert value(parsed, "store_agent_outbox_pending") == 0
    assert value(parsed, "store_agent_outbox_oldest_pending_age_seconds") == 0
    assert value(parsed, "store_agent_dead_letters") == 0
    assert value(parsed, "store_agent_held_orders") == 0
    assert value(parsed, "store_agent_quarantined_snapshots") == 0
    assert value(parsed, "store_agent_events_created_total") == 1
    assert value(parsed, "store_agent_events_sent_total") == 1
    assert value(parsed, "store_agent_events_acknowledged_total") == 1
    assert value(parsed, "store_agent_events_dead_total") == 0
    assert value(parsed, "store_agent_event_ack_latency_seconds_count") == 1
    assert value(parsed, "store_agent_event_ack_latency_seconds_bucket", le="+Inf") == 1
    assert time.time() - value(parsed, "store_agent_last_sync_success_timestamp_seconds") < 60
    assert 0 <= value(parsed, "store_agent_feed_lag_seconds") < 60
    (status,) = [dict(labels)["status"] for name, labels in parsed
                 if name == "store_agent_printer_status" and dict(labels)["printer"] == "counter"]
    assert status in ("unknown", "ready")  # "ready" once the print worker has asked the file printer
    assert value(parsed, "store_agent_device_ready", kind="printer",
                 device="counter") == (status == "ready")
    assert [dict(labels)["store_id"] for name, labels in parsed if name == "store_agent_info"] == ["S042"]
    # Ours, and prometheus-client's process series (a crash loop shows in their start time).
    assert all(name.startswith(("store_agent_", "process_")) for name, _ in parsed)
    assert ("process_start_time_seconds", ()) in parsed


def test_collector_reads_the_database_at_scrape_time(settings, store, seed, actions):
    metrics = StoreMetrics(settings)
    seed(seed.snapshot("W1"), seed.snapshot("W2"), {"order_id": "BAD", "version": "x"})
    actions.stage("W1", bin="B-1", associate_id="A100")
    actions.stage("W2", bin="B-2", associate_id="A100")
    with store.write() as conn:
        conn.execute("UPDATE outbox SET status = 'dead', dead_at = occurred_at, attempts = 1"
                     " WHERE order_id = 'W1'")
        conn.execute("INSERT INTO sync_state (key, value) VALUES ('printer:counter', ?)",
                     (json.dumps({"status": "ready", "since": None, "reason": None}),))
    parsed = samples(generate_latest(metrics.registry).decode())
    assert value(parsed, "store_agent_dead_letters") == 1
    assert value(parsed, "store_agent_held_orders") == 1
    assert value(parsed, "store_agent_outbox_pending") == 1
    assert value(parsed, "store_agent_events_dead_total") == 1
    assert value(parsed, "store_agent_quarantined_snapshots") == 1
    assert value(parsed, "store_agent_online") == 0
    assert value(parsed, "store_agent_device_ready", kind="printer", device="counter") == 1
    assert value(parsed, "store_agent_open_alerts", severity="warning") >= 1
    assert ("store_agent_feed_lag_seconds", ()) not in parsed  # never synced: absent, not 0

    metrics.observe_ack("2026-11-23T10:00:00.000Z", "2026-11-23T10:00:03.000Z")
    parsed = samples(generate_latest(metrics.registry).decode())
    assert value(parsed, "store_agent_event_ack_latency_seconds_bucket", le="2.0") == 0
    assert value(parsed, "store_agent_event_ack_latency_seconds_bucket", le="5.0") == 1
    metrics.collector.close()


def test_unreadable_database_is_reported_not_a_500(tmp_path, settings):
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"garbage" * 1000)
    settings.storage.path = broken
    metrics = StoreMetrics(settings)
    parsed = samples(generate_latest(metrics.registry).decode())
    assert value(parsed, "store_agent_database_up") == 0


@pytest.mark.parametrize("listen, expected", [("127.0.0.1:9464", ("127.0.0.1", 9464)),
                                              (":9464", ("0.0.0.0", 9464)),
                                              ("[::1]:9", ("::1", 9))])
def test_parse_listen(listen, expected):
    assert MetricsSettings(listen=listen).host_port() == expected
