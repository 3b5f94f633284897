"""The store KPI dashboard names only series the agent serves, and draws every KPI."""

from __future__ import annotations

import json

from tests.conftest import REPO
from tests.kpis.test_kpi_metrics import _scrape
from tests.kpis.test_report import at, history  # noqa: F401  (the fixture)
from tests.test_fleet_kit import PROMETHEUS_OWN, _dashboard_exprs, _series_in, _served

DASHBOARD = REPO / "docs/grafana/kpis.json"


def test_kpi_dashboard_uses_served_series(history, settings, store):  # noqa: F811
    served = _served(settings, store) | PROMETHEUS_OWN | {name for name, _ in _scrape(settings, at("14:00"))}
    dash = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    exprs = _dashboard_exprs(dash)
    for expr in exprs:
        used = _series_in(expr)
        assert used and used <= served, f"{expr!r}: {used - served} are not served"
    joined = " ".join(exprs)
    for kpi in ("fulfillment_seconds", "on_time_ready_ratio", "pickup_conversion_ratio", "no_show_ratio",
                "curb_wait_seconds", "short_pick_ratio", "cancel_to_shelf_seconds", "kpi_target",
                "queue_orders"):
        assert f"store_agent_{kpi}" in joined or f"store_agent_kpi_{kpi}" in joined, kpi
    assert "store_agent_info" in next(v for v in dash["templating"]["list"]
                                      if v["name"] == "store")["definition"]
