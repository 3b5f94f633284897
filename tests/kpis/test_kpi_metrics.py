"""KPI metrics: the hand-built history of test_report, scraped at 14:00 through the exposition format."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from agent.ops.kpi_metrics import KpiCollector
from tests.kpis.test_report import at, history  # noqa: F401  (the fixture)


def _scrape(settings, now) -> dict[tuple[str, tuple], float]:
    registry = CollectorRegistry(auto_describe=False)
    collector = KpiCollector(settings, now=lambda: now)
    registry.register(collector)
    try:
        text = generate_latest(registry).decode()
    finally:
        collector.close()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_kpis_over_rolling_windows(history, settings):  # noqa: F811
    m = _scrape(settings, at("14:00"))
    day = (("window", "24h"),)
    # The last 24 h hold the whole history, W7's 09:00 release included (8 released).
    assert m[("store_agent_kpi_orders_released", day)] == 8
    assert m[("store_agent_kpi_pickup_conversion_ratio", day)] == 0.5
    assert m[("store_agent_kpi_no_show_ratio", day)] == 0.3333
    assert m[("store_agent_kpi_fulfillment_seconds", (("stat", "p90"), ("window", "24h")))] == 2850.0
    assert m[("store_agent_kpi_curb_wait_seconds", (("stat", "avg"), ("window", "24h")))] == 480.0
    # The last hour: only W6 was released; nothing was made READY, so no rate is invented.
    hour = (("window", "1h"),)
    assert m[("store_agent_kpi_orders_released", hour)] == 1
    assert m[("store_agent_kpi_orders_ready", hour)] == 0
    assert ("store_agent_kpi_on_time_ready_ratio", hour) not in m
    assert ("store_agent_kpi_fulfillment_seconds", (("stat", "avg"), ("window", "1h"))) not in m


def test_live_queue_and_targets(history, settings):  # noqa: F811
    m = _scrape(settings, at("14:00"))
    # W6, released at 13:00, is the one order to pick: 60 min against its 15.
    assert m[("store_agent_queue_orders", (("timer_state", "late"),))] == 1
    assert m[("store_agent_queue_orders", (("timer_state", "on_time"),))] == 0
    assert m[("store_agent_kpi_target", (("kpi", "fulfillment_seconds"),))] == 900
    assert m[("store_agent_kpi_target", (("kpi", "pickup_conversion_ratio"),))] == 0.95
    early = _scrape(settings, at("13:05"))
    assert early[("store_agent_queue_orders", (("timer_state", "on_time"),))] == 1
