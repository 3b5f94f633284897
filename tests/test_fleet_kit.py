"""The shipped Prometheus rules and Grafana fleet dashboard name only series the agent serves."""

from __future__ import annotations

import json
import re

import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from agent.ops.metrics import StoreMetrics
from agent.store import sync_state
from tests.conftest import REPO

RULES = REPO / "docs/prometheus/store-agent-rules.yml"
DASHBOARD = REPO / "docs/grafana/fleet.json"
# Series Prometheus itself adds to every scrape target.
PROMETHEUS_OWN = {"up"}
_FUNCTIONS = {"changes", "count", "sum", "max", "min", "rate", "time", "vector", "by", "on",
              "group_left", "or", "and", "bool", "label_values", "humanizeDuration"}


def _served(settings, store) -> set[str]:
    # The timestamps are absent until each thing has happened once: make them happen.
    with store.write() as conn:
        sync_state.put(conn, **{key: "2026-11-23T10:00:00.000Z" for key in (
            "last_backup_at", "last_contact_at", "last_feed_success_at", "last_reconcile_at",
            "last_offsite_backup_at")})
    metrics = StoreMetrics(settings)
    try:
        text = generate_latest(metrics.registry).decode()
    finally:
        metrics.collector.close()
        metrics.kpis.close()
    names = set()
    for family in text_string_to_metric_families(text):
        names |= {s.name for s in family.samples}
    return names


def _series_in(expr: str) -> set[str]:
    expr = re.sub(r"\{[^}]*\}", "", expr)      # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)     # ranges
    expr = re.sub(r"\b(by|on|group_left)\s*\([^)]*\)", "", expr)  # label lists
    words = set(re.findall(r"\b[a-z_][a-z0-9_]*\b", expr))
    return {w for w in words if w not in _FUNCTIONS and (w.startswith(("store_agent_", "process_"))
                                                        or w in PROMETHEUS_OWN)}


def _dashboard_exprs(dash: dict) -> list[str]:
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    exprs += [v["definition"] for v in dash["templating"]["list"] if "definition" in v]
    return exprs


def test_rules_are_valid_and_name_served_series(settings, store):
    served = _served(settings, store) | PROMETHEUS_OWN
    groups = yaml.safe_load(RULES.read_text())["groups"]
    rules = [r for g in groups for r in g["rules"]]
    assert len(rules) >= 8
    names = [r["alert"] for r in rules]
    assert len(names) == len(set(names))
    for rule in rules:
        assert rule["labels"]["severity"] in ("critical", "warning", "info"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        used = _series_in(rule["expr"])
        assert used, f"{rule['alert']}: no series in {rule['expr']!r}"
        assert used <= served, f"{rule['alert']}: {used - served} are not served"
    exprs = " ".join(r["expr"] for r in rules)
    for must in ("process_start_time_seconds", "store_agent_online",
                 "store_agent_outbox_oldest_pending_age_seconds", "store_agent_dead_letters"):
        assert must in exprs


def test_fleet_dashboard_shows_the_fleet_from_served_series(settings, store):
    served = _served(settings, store) | PROMETHEUS_OWN
    dash = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    exprs = _dashboard_exprs(dash)
    for expr in exprs:
        used = _series_in(expr)
        assert used <= served, f"{expr!r}: {used - served} are not served"
    joined = " ".join(exprs)
    for must in ("store_agent_online", "store_agent_outbox_pending",
                 "store_agent_outbox_oldest_pending_age_seconds", "store_agent_dead_letters"):
        assert must in joined, must
    store_var = next(v for v in dash["templating"]["list"] if v["name"] == "store")
    assert "store_agent_info" in store_var["definition"]
