"""The database: its directory, the file's integrity, the write-ahead log, free disk space, and
whether the daemon holds its lock. Each check reads; none creates or migrates the database."""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from agent.alerts.rules import disk_free_pct
from agent.ops.checks import FAIL, PASS, WARN, Check
from agent.ops.checks.accounts import SERVICE_USER
from agent.ops.maintenance import restore_command
from agent.store.daemon_lock import daemon_running, lock_path
from agent.store.disk_errors import has_sqlite_header
from config.settings import Settings

WAL_WARN_BYTES = 128 * 1024 * 1024  # twice journal_size_limit: checkpoints are not keeping up

DISK_FAIL_PCT = 1.0


def check_database_dir(settings: Settings) -> Check:
    """The database's directory exists (or can be created) and takes new files."""
    return _check_writable(Path(settings.storage.path).parent)


def check_database_file(settings: Settings) -> Check:
    """The database file is a SQLite database that passes quick_check (or does not exist yet)."""
    db = Path(settings.storage.path)
    if not db.exists():
        return Check("database", WARN, f"{db} does not exist yet",
                     "start the daemon (store-agent run) or any command: it creates the database")
    return _check_integrity(db, settings)


def check_wal_size(settings: Settings) -> Check | None:
    """The write-ahead log is checkpointed (None while there is no database)."""
    db = Path(settings.storage.path)
    if not db.exists():
        return None
    wal = db.with_name(db.name + "-wal")
    size = wal.stat().st_size if wal.exists() else 0
    if size > WAL_WARN_BYTES:
        return Check("wal_size", WARN, f"{wal} is {size / 2**20:.0f} MiB",
                     "a long-running reader pins it; restart the UI and the daemon"
                     " (the daemon checkpoints every 30 s)")
    return Check("wal_size", PASS, f"write-ahead log {size / 2**20:.1f} MiB")


def check_disk_free(settings: Settings, disk_usage: Callable[[Any], Any]) -> Check:
    """Free space on the database's file system, against [alerts] disk_free_pct."""
    directory = Path(settings.storage.path).parent
    try:
        free = disk_free_pct(directory if directory.exists() else Path("/"), disk_usage)
    except OSError as exc:
        return Check("disk_free", WARN, f"cannot measure free space of {directory}:"
                                        f" {exc.strerror}", "check the directory exists")
    limit = settings.alerts.disk_free_pct
    result = FAIL if free < DISK_FAIL_PCT else WARN if free < limit else PASS
    return Check("disk_free", result, f"{free:.1f} % free on the file system of {directory}"
                 f" (warning under {limit:g} %)",
                 "" if result == PASS else "free space: delete old files or grow the disk;"
                 f" old backups are in {settings.storage.backup_dir or directory / 'backups'}")


def _check_writable(directory: Path) -> Check:
    fix = f"chown store-agent: {directory} && chmod 700 {directory}"
    if not directory.exists():
        parent = next((p for p in directory.parents if p.exists()), Path("/"))
        if os.access(parent, os.W_OK):
            return Check("database_dir", PASS, f"{directory} will be created")
        return Check("database_dir", FAIL, f"{directory} does not exist and {parent} is not writable",
                     f"mkdir -p {directory} && {fix}")
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".doctor-"):
            pass
    except OSError as exc:
        return Check("database_dir", FAIL, f"cannot create files in {directory}: {exc.strerror}", fix)
    return Check("database_dir", PASS, f"{directory} is writable")


def _check_integrity(db: Path, settings: Settings) -> Check:
    fix = restore_command(settings)
    try:
        # A file that is not a database is judged by its header alone: a read-write
        # open of it deletes its -wal on close, which restore means to keep.
        if not has_sqlite_header(db):
            return Check("database", FAIL, f"{db} is damaged or unreadable: its first bytes are"
                         " not a SQLite header", fix)
        # With a -wal and -shm present: read-only, so that closing the last connection
        # never checkpoints or deletes a log that may hold what restore must keep. Without
        # them, read-write: a read-only open would leave both behind, owned by whoever ran
        # doctor (root), and the service could not write them. No pragmas that write.
        logs = all(db.with_name(db.name + s).exists() for s in ("-wal", "-shm"))
        conn = sqlite3.connect(f"file:{quote(str(db.resolve()))}?mode={'ro' if logs else 'rw'}",
                               uri=True, timeout=10)
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
        finally:
            conn.close()
    except (sqlite3.Error, OSError) as exc:
        return Check("database", FAIL, f"{db} is damaged or unreadable: {exc}", fix)
    result = "; ".join(r[0] for r in rows[:3])
    if result != "ok":
        return Check("database", FAIL, f"{db} is damaged: quick_check found {result}", fix)
    return Check("database", PASS, f"{db}: quick_check ok ({db.stat().st_size / 2**20:.1f} MiB)")


def check_daemon(settings: Settings) -> Check:
    # The daemon holds an flock on agent.db.daemon.lock while it runs (agent/store/daemon_lock.py):
    # a lock file nobody holds is a daemon that stopped or crashed.
    db = Path(settings.storage.path)
    try:
        running = daemon_running(db)
    except OSError as exc:
        return Check("daemon", WARN, f"cannot tell whether the daemon runs: {lock_path(db)}:"
                                     f" {exc.strerror}",
                     f"run doctor as root or as the service user: sudo -u {SERVICE_USER} store-agent doctor")
    if running:
        return Check("daemon", PASS, "the daemon is running")
    return Check("daemon", WARN, "the daemon is not running: nothing syncs with the OMS",
                 "sudo systemctl start store-agent (or store-agent run)")
