"""The migration machinery: the one ``Migrations`` list and the statement-by-statement DDL runner.
The migrations themselves are in ``agent.store.schema`` and the history modules it imports."""

from __future__ import annotations

import sqlite3

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

MIGRATIONS = Migrations("store-agent")


def run_script(db: Database, script: str) -> None:
    """Run DDL statement by statement.

    sqlite3's executescript() COMMITs any open transaction first, which would
    release the migration lock half-way and let a second process race us.
    """
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            db.conn.execute(pending)
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement in migration: {pending[:80]!r}")
