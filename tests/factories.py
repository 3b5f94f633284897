"""Builders of realistic inputs shared by the tests: configs and OMS snapshots."""

from __future__ import annotations

import copy
import socket
from pathlib import Path

BASE_CONFIG = """\
store_id = "S042"

[oms]
url = "http://127.0.0.1:9"
token = "test-token-not-secret"
timeout_s = 2

[storage]
path = "{db}"

[pickup]
offline_handoff = "{policy}"
max_offline_staleness_min = 15

[metrics]
# Any free port, never the default 9464: other daemons, and other test runs, may listen here.
listen = "127.0.0.1:0"

[[associates]]
id = "A100"
name = "Dana"
role = "associate"

[[associates]]
id = "M1"
name = "Morgan"
role = "manager"

[[printers]]
id = "counter"
kind = "file"
address = "{tmp}/printer.out"

[[stations]]
id = "backroom-1"
scanner = "keyboard"
printer = "counter"
"""


METRICS_LISTEN = 'listen = "127.0.0.1:0"\n'


def free_port() -> int:
    """A loopback port free now; a server a test starts binds it (never a fixed port: suites run
    side by side)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(tmp: Path, *, policy: str = "warn", extra: str = "", metrics: str = "") -> Path:
    """``metrics``: more lines for the [metrics] table (TOML allows one table per name)."""
    path = tmp / "config.toml"
    text = BASE_CONFIG.format(db=tmp / "agent.db", policy=policy, tmp=tmp)
    path.write_text(text.replace(METRICS_LISTEN, METRICS_LISTEN + metrics) + extra)
    return path


def snapshot(
    order_id: str = "W1001",
    *,
    version: int = 1,
    status: str = "released",
    lines: int = 2,
    code: str = "K7Q9MX",
    fulfillment: str = "pickup",
    arrival: dict | None = None,
    hold_until: str | None = "2026-11-26T20:00:00Z",
) -> dict:
    return copy.deepcopy({
        "order_id": order_id,
        "version": version,
        "status": status,
        "fulfillment": fulfillment,
        "customer": {"name": "Ann Smith", "phone_last4": "1234"},
        "pickup_code": code,
        "pickup_window": {"start": "2026-11-23T15:00:00Z", "end": "2026-11-23T17:00:00Z"},
        "hold_until": hold_until,
        "lines": [
            {"line_id": f"L{i}", "sku": f"SKU-{i}", "gtin": "4006381333931",
             "description": f"Item {i}", "quantity": 2}
            for i in range(1, lines + 1)
        ],
        "arrival": arrival,
        "updated_at": "2026-11-23T10:00:00Z",
    })
