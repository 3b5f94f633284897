"""Backups, restore and retention of the store database.

Backups use ``VACUUM INTO``: a consistent copy made inside one read
transaction, so the daemon, the UI and commands keep writing while it runs.
The copy is written under a temporary name, checked (quick_check), fsynced and
only then renamed: a backup file that exists is whole.

Restore copies a verified backup into the live database with SQLite's backup
API, in one write transaction. Every open connection (a UI left running) then
sees the old database or the restored one, never a mix; swapping the file
instead could pair the new file with the old -wal/-shm and corrupt it. The
previous content is kept first as ``<db>.before-restore``.

A damaged database cannot be copied through SQLite (the copy is exactly what
fails), and it is the moment restore exists for. So when the current file
does not pass quick_check, its files (the db, -wal and -shm) are kept as they
are, by rename, as ``<db>.damaged-<UTC time>`` (with the same -wal/-shm
suffixes, so SQLite opens the kept copy with its log), and the backup is
copied into a fresh file. A UI still open on the damaged file keeps its old
inode until it is restarted. The restore holds
the daemon lock throughout: a running daemon refuses it, and no daemon can
start half-way.

Retention deletes acknowledged events and applied snapshots older than
``storage.retention_days``, only after a successful backup (which holds what
is deleted), never pending, held or dead events, and never the outbox row
with the highest seq: seq is the rowid, and SQLite would hand a deleted
maximum out again to the next event, which the OMS would take for a replay.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import secrets
import shlex
import sqlite3
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from agent.clock import age_s, iso, utc_now
from agent.errors import DaemonRunningError, StoreError, UsageError
from agent.ops.damage import database_damage, keep_damaged, max_seq_of_damaged
from agent.store import sync_state
from agent.store.connection import BUSY_TIMEOUT_MS, Store
from agent.store.daemon_lock import DaemonLock
from agent.store.schema import MIGRATIONS
from agent.store.sync_state import SyncKey
from config.settings import DEFAULT_CONFIG_PATH, Settings

log = logging.getLogger("store_agent.maintenance")

BACKUP_PREFIX = "agent-"
BACKUP_SUFFIX = ".db"
PURGE_CHUNK = 2000  # rows per transaction: keeps the write lock short for associates
# Purging needs a backup at most this old: the nightly one, with room for a late run.
BACKUP_FRESH_S = 36 * 3600
REQUIRED_TABLES = {"orders", "outbox", "received_changes", "alerts", "sync_state",
                   "_sqlite_migrations"}


def backup_dir(settings: Settings) -> Path:
    return Path(settings.storage.backup_dir or Path(settings.storage.path).parent / "backups")


def _uri(path: Path, mode: str) -> str:
    extra = "&immutable=1" if mode == "ro" else ""  # a backup file has no writers and no WAL
    return f"file:{quote(str(path.resolve()))}?mode={mode}{extra}"


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def vacuum_into(db_path: Path, dest: Path) -> Path:
    """A consistent, checked copy of the database at ``dest`` (replaced if it exists)."""
    db_path, dest = Path(db_path), Path(dest)
    if not db_path.exists():
        raise StoreError(f"{db_path}: no database to copy")
    dest.parent.mkdir(parents=True, exist_ok=True)
    # A name nobody can guess: the folder may belong to another user than the one copying
    # (root's backup before an upgrade), who could otherwise put a link there first.
    tmp = dest.with_name(f".{dest.name}.partial-{secrets.token_hex(8)}")
    try:
        conn = sqlite3.connect(_uri(db_path, "rw"), uri=True, isolation_level=None,
                               timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            # Created 0600, never readable by others even for a moment: the copy holds
            # customers' names and pickup codes (a chmod afterwards would leave a window).
            old_umask = os.umask(0o077)
            try:
                conn.execute("VACUUM INTO ?", (str(tmp),))
            finally:
                os.umask(old_umask)
        finally:
            conn.close()
        check = _integrity(tmp, quick=True)
        if check != "ok":
            raise StoreError(f"{dest}: the copy failed its check ({check}); no backup written")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)
    except sqlite3.Error as exc:
        raise StoreError(f"{dest}: backup failed ({exc})") from None
    except OSError as exc:
        raise StoreError(f"{dest}: backup failed ({exc.strerror or exc})") from None
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def _integrity(path: Path, *, quick: bool = False) -> str:
    conn = sqlite3.connect(_uri(path, "ro"), uri=True)
    try:
        rows = conn.execute("PRAGMA quick_check" if quick else "PRAGMA integrity_check").fetchall()
        return "; ".join(r[0] for r in rows[:3])
    finally:
        conn.close()


def backup(settings: Settings, path: Path, *, now: datetime | None = None) -> Path:
    """`store-agent backup PATH`: never overwrites; a directory gets a timestamped file."""
    path = Path(path)
    if path.is_dir():
        path = path / backup_name(now or utc_now())
    if path.exists():
        raise UsageError(f"{path}: already exists; a backup never overwrites a file")
    return vacuum_into(Path(settings.storage.path), path)


def backup_name(now: datetime) -> str:
    return f"{BACKUP_PREFIX}{now.strftime('%Y%m%dT%H%M%SZ')}{BACKUP_SUFFIX}"


def rotate(directory: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` nightly backups (named so that they sort by time)."""
    backups = sorted(p for p in directory.glob(f"{BACKUP_PREFIX}*{BACKUP_SUFFIX}") if p.is_file())
    removed = backups[:-keep] if keep > 0 else backups
    for old in removed:
        old.unlink(missing_ok=True)
    return removed


def nightly(settings: Settings, *, now: datetime | None = None) -> dict[str, Any]:
    """Back up, rotate, then purge: the daemon's nightly job (run it in a thread)."""
    now = now or utc_now()
    directory = backup_dir(settings)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    dest = vacuum_into(Path(settings.storage.path), directory / backup_name(now))
    removed = rotate(directory, settings.storage.backup_keep)
    with Store(settings.storage.path) as store:
        with store.write() as conn:
            sync_state.put(conn, last_backup_at=iso(now), last_backup_path=str(dest))
        purged = purge(store, settings, now=now)
    log.info("backup %s written; %d old backups removed; purged %d events, %d changes",
             dest, len(removed), purged["events"], purged["changes"])
    offsite = offsite_copy(settings, dest, now=now)
    return {"backup": str(dest), "removed": [str(p) for p in removed], "purged": purged,
            "offsite": offsite}


def offsite_copy(settings: Settings, backup: Path, *, now: datetime) -> dict[str, Any]:
    """Copy the night's backup to the second location(s). A failure is logged and remembered
    (doctor and the metrics show it) but never undoes the local backup."""
    from agent.ops import offsite

    result = offsite.copy_everywhere(settings, backup, backup_dir(settings))
    if result["targets"]:
        with Store(settings.storage.path) as store, store.write() as conn:
            if result["errors"]:
                sync_state.put(conn, last_offsite_error="; ".join(result["errors"]))
            else:
                sync_state.put(conn, last_offsite_backup_at=iso(now), last_offsite_error=None)
    return result


def purge(store: Store, settings: Settings, *, now: datetime | None = None) -> dict[str, Any]:
    """Delete old acknowledged events and applied snapshots; only right after a backup."""
    now = now or utc_now()
    last = age_s(sync_state.get(store.conn, SyncKey.LAST_BACKUP_AT), now)
    if last is None or last > BACKUP_FRESH_S:
        log.warning("retention skipped: no backup in the last %d h", BACKUP_FRESH_S // 3600)
        return {"events": 0, "changes": 0, "skipped": True}
    cutoff = iso(now - timedelta(days=settings.storage.retention_days))
    events = changes = 0
    while True:
        with store.write() as conn:
            seqs = [r[0] for r in conn.execute(
                "SELECT seq FROM outbox WHERE status = 'acked' AND acked_at < ?"
                " AND seq < (SELECT MAX(seq) FROM outbox) ORDER BY seq LIMIT ?",
                (cutoff, PURGE_CHUNK))]
            if seqs:
                marks = ",".join("?" * len(seqs))
                # Counters in /metrics are derived from the table: remember what leaves it.
                was_dead = conn.execute(f"SELECT COUNT(*) FROM outbox WHERE seq IN ({marks})"
                                        " AND resolution IS NOT NULL", seqs).fetchone()[0]
                conn.execute(f"DELETE FROM outbox WHERE seq IN ({marks})", seqs)
                sync_state.add(conn, SyncKey.PURGED_ACKED_EVENTS, len(seqs))
                sync_state.add(conn, SyncKey.PURGED_DEAD_EVENTS, was_dead)
            ids = [r[0] for r in conn.execute(
                "SELECT id FROM received_changes WHERE outcome = 'applied' AND received_at < ?"
                " ORDER BY id LIMIT ?", (cutoff, PURGE_CHUNK))]
            if ids:
                conn.execute(f"DELETE FROM received_changes WHERE id IN ({','.join('?' * len(ids))})",
                             ids)
        events += len(seqs)
        changes += len(ids)
        if len(seqs) < PURGE_CHUNK and len(ids) < PURGE_CHUNK:
            break
    return {"events": events, "changes": changes, "skipped": False}


def verify_backup(path: Path) -> dict[str, Any]:
    """Is ``path`` a whole store-agent database this version can run? UsageError naming it if not."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such backup file")
    try:
        check = _integrity(path)
        conn = sqlite3.connect(_uri(path, "ro"), uri=True)
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            applied = set() if "_sqlite_migrations" not in tables else {r[0] for r in conn.execute(
                "SELECT name FROM _sqlite_migrations WHERE migration_set = 'store-agent'")}
            orders = conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0] if "orders" in tables else 0
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise UsageError(f"{path}: not a usable SQLite database ({exc})") from None
    if check != "ok":
        raise UsageError(f"{path}: the backup is damaged (integrity_check: {check}); choose another")
    missing = REQUIRED_TABLES - tables
    if missing or not applied:
        raise UsageError(f"{path}: not a store-agent database (missing {', '.join(sorted(missing))})")
    unknown = applied - {m.name for m in MIGRATIONS._migrations}
    if unknown:
        raise UsageError(f"{path}: written by a newer store-agent (migrations {', '.join(sorted(unknown))});"
                         " upgrade this one first")
    return {"path": str(path), "migrations": len(applied), "orders": orders}


def restore(settings: Settings, source: Path) -> dict[str, Any]:
    """Put a backup back; refused while the daemon runs. Keeps the old content as .before-restore."""
    info = verify_backup(source)
    db_path = Path(settings.storage.path)
    if db_path.exists() and Path(source).resolve() == db_path.resolve():
        raise UsageError(f"{source}: that is the database itself; restore a backup of it")
    lock = DaemonLock(db_path)
    try:
        lock.acquire()
    except DaemonRunningError:
        raise DaemonRunningError(
            f"restore refused: the store-agent daemon is running on {db_path}; stop it first"
            " (sudo systemctl stop store-agent), restore, then start it again") from None
    try:
        previous, seq_floor, damaged = None, 0, None
        if db_path.exists():
            damage = database_damage(db_path)
            if damage is None:
                previous = vacuum_into(db_path, db_path.with_name(db_path.name + ".before-restore"))
                seq_floor = _max_seq(previous)
            else:
                log.warning("%s is damaged (%s): keeping its files as they are", db_path, damage)
                seq_floor = max_seq_of_damaged(db_path)
                previous = damaged = keep_damaged(db_path)
        with Store(db_path, migrate=False) as live:
            src = sqlite3.connect(_uri(Path(source), "ro"), uri=True)
            try:
                src.backup(live.conn)  # one transaction: readers see old or new, never a mix
            except sqlite3.Error as exc:
                raise StoreError(f"{db_path}: restore failed, nothing changed ({exc})") from None
            finally:
                src.close()
            with contextlib.suppress(sqlite3.Error):  # only shrinks the WAL; the data is committed
                live.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        with Store(db_path) as restored:  # a backup from an older version is migrated here
            _reserve_seq(restored, seq_floor)
    finally:
        lock.release()
    log.warning("database %s restored from %s (previous content kept as %s)", db_path, source,
                previous)
    return {**info, "restored_to": str(db_path), "previous": str(previous) if previous else None,
            "damaged": damaged is not None}


def newest_backup(settings: Settings) -> Path | None:
    """The newest nightly backup in the backup directory (their names sort by time)."""
    directory = backup_dir(settings)
    found = sorted(p for p in directory.glob(f"{BACKUP_PREFIX}*{BACKUP_SUFFIX}") if p.is_file()) \
        if directory.is_dir() else []
    return found[-1] if found else None


def _max_seq(path: Path) -> int:
    conn = sqlite3.connect(_uri(path, "ro"), uri=True)
    try:
        seq: int = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM outbox").fetchone()[0]
        return seq
    except sqlite3.Error:
        return 0
    finally:
        conn.close()


def _reserve_seq(store: Store, floor: int) -> None:
    """Keep new events above every seq the OMS may have seen before the restore.

    seq is the rowid, so the next event takes MAX(seq) + 1: after an older
    backup that would reuse seqs already sent, which the contract forbids. One
    acknowledged marker row at the old maximum moves the counter on; it is
    never sent, and audit shows it on its order as `store.seq_reserved`.
    """
    with store.write() as conn:
        if conn.execute("SELECT COALESCE(MAX(seq), 0) FROM outbox").fetchone()[0] >= floor:
            return
        order = conn.execute("SELECT order_id FROM orders ORDER BY received_at DESC LIMIT 1").fetchone()
        if order is None:  # an empty store: nothing for the marker to hang on, nor to confuse
            return
        now = iso(utc_now())
        conn.execute(
            "INSERT INTO outbox (seq, event_id, order_id, type, data, occurred_at, associate_id,"
            " device_id, based_on_version, status, acked_at, resolution)"
            " VALUES (?, ?, ?, 'store.seq_reserved', '{}', ?, 'store-agent', 'restore', 0, 'acked', ?,"
            " NULL)", (floor, str(uuid.uuid4()), order[0], now, now))


def restore_command(settings: Settings) -> str:
    """How to put the newest backup back, with the exact command, for doctor and errors."""
    newest = newest_backup(settings)
    if newest is None:
        return (f"no backup in {backup_dir(settings)}: stop the daemon and `store-agent restore`"
                " a copy of the database from elsewhere")
    return ("stop the daemon (sudo systemctl stop store-agent), run "
            f"`{restore_invocation(settings, newest)}` (the damaged files are kept beside the"
            " database as *.damaged-*), then start the daemon again")


def restore_invocation(settings: Settings, backup: Path) -> str:
    """`store-agent restore BACKUP` as the owner of the data directory, so the restored
    file stays the service's, with --config when the config is not the default one."""
    source = getattr(settings, "source_path", None)
    config = "" if source is None or str(source) == str(DEFAULT_CONFIG_PATH) \
        else f" --config {shlex.quote(str(source))}"
    as_owner = ""
    with contextlib.suppress(OSError, KeyError):
        owner = Path(settings.storage.path).parent.stat().st_uid
        if owner != os.geteuid():
            as_owner = f"sudo -u {pwd.getpwuid(owner).pw_name} "
    return f"{as_owner}store-agent{config} restore {shlex.quote(str(backup))}"
