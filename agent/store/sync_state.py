"""Small key/value facts about sync, kept in SQLite so every process sees them."""

from __future__ import annotations

import sqlite3


def put(conn: sqlite3.Connection, **values: str | None) -> None:
    for key, value in values.items():
        conn.execute(
            "INSERT INTO sync_state (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )


def get(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM sync_state WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None
