from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.orders.actions import Actions
from agent.orders.ingest import ingest_snapshots
from agent.store.connection import Store
from config import load_settings
from tests.factories import snapshot, write_config

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return write_config(tmp_path)


@pytest.fixture
def settings(config_path: Path):
    return load_settings(config_path, environ={})


@pytest.fixture
def store(settings):
    s = Store(settings.storage.path)
    yield s
    s.close()


@pytest.fixture
def actions(store, settings) -> Actions:
    return Actions(store, settings)


@pytest.fixture
def seed(store, settings):
    """Apply snapshots the way the feed does."""

    def _seed(*snaps: dict, source: str = "feed"):
        return ingest_snapshots(store, list(snaps), status_map=settings.status_map, source=source)

    _seed.snapshot = snapshot
    return _seed


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


@pytest.fixture
def cli(config_path: Path):
    """Run the real `store-agent` in a subprocess, the way store IT and scripts do."""

    def _run(*args: str, stdin: str | None = None, env: dict | None = None) -> CliResult:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("STORE_AGENT_")}
        full_env["STORE_AGENT_CONFIG"] = str(config_path)
        full_env.update(env or {})
        proc = subprocess.run(
            [sys.executable, "-m", "ui.cli.main", *args],
            input=stdin, capture_output=True, text=True, env=full_env, cwd=REPO, timeout=60,
        )
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    return _run


def _rows(conn, table: str) -> list[tuple]:
    try:
        return conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
    except Exception:  # a WITHOUT ROWID table: its primary key orders it
        return conn.execute(f"SELECT * FROM {table}").fetchall()


def table_dump(path: Path, *tables: str) -> dict[str, list[tuple]]:
    """Every row of the named tables, for 'nothing changed' assertions."""
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        return {t: _rows(conn, t) for t in tables}
    finally:
        conn.close()


GUARDED = ("orders", "order_lines", "outbox", "return_tasks", "alerts", "quarantine")
