"""A damaged store database: what is wrong with it, and keeping its files as they are.

Used by restore (agent/ops/maintenance.py). Nothing here copies the damaged
file through SQLite: that copy is exactly what fails, and a read-write open
of a file SQLite cannot read deletes its -wal when the connection closes.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from agent.clock import utc_now
from agent.store.connection import BUSY_TIMEOUT_MS
from agent.store.disk_errors import has_sqlite_header


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


SIDE_FILES = ("", "-wal", "-shm")


def database_damage(db_path: Path) -> str | None:
    """What quick_check (or opening) says is wrong with the live database; None when whole.

    Read-only, and a file without a SQLite header is judged by its bytes alone: SQLite
    deletes the -wal of a file it cannot read when a read-write connection closes. Only
    for a process with no SQLite connection to the file (restore, before it opens one):
    closing a Python descriptor of it would drop that connection's POSIX locks.
    """
    try:
        if not has_sqlite_header(db_path):
            return "its first bytes are not a SQLite header"
    except OSError as exc:
        return exc.strerror or str(exc)
    try:
        conn = sqlite3.connect(f"file:{quote(str(Path(db_path).resolve()))}?mode=ro", uri=True,
                               timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    result = "; ".join(str(r[0]) for r in rows[:3])
    return None if result == "ok" else result


def keep_damaged(db_path: Path, *, now: datetime | None = None) -> Path:
    """Move the damaged db and its -wal and -shm aside, byte for byte, never through SQLite."""
    stamp = (now or utc_now()).strftime("%Y%m%dT%H%M%SZ")
    kept = db_path.with_name(f"{db_path.name}.damaged-{stamp}")
    for suffix in SIDE_FILES:
        src = db_path.with_name(db_path.name + suffix)
        if src.exists():
            os.replace(src, kept.with_name(kept.name + suffix))
    _fsync_dir(db_path.parent)
    return kept


def max_seq_of_damaged(db_path: Path) -> int:
    """The highest seq a damaged database still shows, if any page of it can be read."""
    try:
        conn = sqlite3.connect(f"file:{quote(str(db_path.resolve()))}?mode=ro", uri=True)
    except sqlite3.Error:
        return 0
    try:
        return int(conn.execute("SELECT COALESCE(MAX(seq), 0) FROM outbox").fetchone()[0])
    except sqlite3.Error:
        return 0
    finally:
        conn.close()
