"""`store-agent demo` runs the whole product for a while and stops everything it started."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_syncs_both_ways_and_cleans_up(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORE_AGENT_")}
    proc = subprocess.run(
        [sys.executable, "-m", "ui.cli.main", "demo", "--dir", str(tmp_path / "demo"),
         "--port", str(port), "--orders", "6", "--duration", "12", "--pace", "1", "--trickle", "2"],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=90)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "every process it started has exited" in proc.stdout
    # Nothing still listens on the reference OMS port.
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0
    conn = sqlite3.connect(tmp_path / "demo" / "agent.db")
    statuses = dict(conn.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall())
    orders = conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0]
    conn.close()
    assert orders >= 6, "the feed delivered the sample orders"
    assert statuses.get("acked", 0) >= 3, f"the associate's events reached the OMS: {statuses}"
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(tmp_path / "demo") not in ps and f"--port {port}" not in ps
    assert json.loads(subprocess.run(
        [sys.executable, "-m", "ui.cli.main", "--config", str(tmp_path / "demo" / "config.toml"),
         "status", "--json"], capture_output=True, text=True, env=env, cwd=REPO).stdout)["orders"]
