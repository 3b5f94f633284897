"""An older release never runs on a database a newer one migrated: it refuses, naming both."""

from __future__ import annotations

import sqlite3
from importlib.metadata import version

import pytest

from agent.errors import StoreSetupError
from agent.store import sync_state
from agent.store.connection import Store


def test_migrating_records_the_version(tmp_path):
    with Store(tmp_path / "a.db") as store, store.read() as conn:
        assert sync_state.get(conn, "schema_migrated_by") == version("store-agent")


def test_older_release_refuses_a_newer_schema_naming_both_versions(tmp_path, cli, config_path):
    db = tmp_path / "a.db"
    Store(db).close()
    # What a newer release leaves behind: a migration this one does not have, and its version.
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at)"
                     " VALUES ('store-agent', 'm999_from_the_future', '2031-01-01')")
        conn.execute("UPDATE sync_state SET value = '9.9.0' WHERE key = 'schema_migrated_by'")
        conn.execute("CREATE TABLE future (x)")
    with pytest.raises(StoreSetupError) as err:
        Store(db)
    message = str(err.value)
    assert "9.9.0" in message and version("store-agent") in message
    assert "m999_from_the_future" in message and "restore" in message
    with sqlite3.connect(db) as conn:  # nothing was touched
        assert conn.execute("SELECT COUNT(*) FROM future").fetchone() == (0,)

    r = cli("status", env={"STORE_AGENT_STORAGE__PATH": str(db)})
    assert r.code != 0 and "9.9.0" in r.err and "bug" not in r.err
