"""The local SQLite store: connection set-up, transactions, migrations.

Durability is the product's first promise, so the pragmas are not merely set
but read back: a database that will not run in WAL with synchronous=FULL is
refused rather than used.

Every write goes through ``Store.write()``, which starts with BEGIN IMMEDIATE:
a deferred transaction that reads and then writes fails with SQLITE_BUSY when
another process wrote in between, and busy_timeout cannot help it. Taking the
write lock up front turns contention into waiting.

This module is the store's boundary: a ``sqlite3`` error that means the disk
or the file failed (full, I/O error, damage, no write permission) leaves it as
a ``StoreUnavailableError`` whose message names the cause, the directory and
the fix (exit 5), never as a library exception (the translation:
``agent.store.disk_errors``). Errors that mean a bug (a constraint, bad SQL)
pass through unchanged.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import sqlite_utils

from agent.errors import (
    StoreBusyError,
    StoreError,
    StoreSetupError,
    StoreUnavailableError,
)
from agent.store import sync_state
from agent.store.disk_errors import refuse_a_file_that_is_not_a_database, storage_error
from agent.store.schema import MIGRATIONS

_T = TypeVar("_T")

BUSY_TIMEOUT_MS = 10_000
# How long a writer keeps retrying after busy_timeout gave up, before telling
# the user: long enough to outlast a checkpoint or another process's migration.
WRITE_PATIENCE_S = 30.0
# A person's screen waits at most this long for the write lock, in SQLite's own wait,
# and then says "busy, try again": an event loop must not freeze for half a minute.
INTERACTIVE_BUSY_MS = 1_000
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024
# Pages in the WAL before a committing connection checkpoints. Larger than
# SQLite's 1000 so an associate's action rarely pays for a checkpoint; the
# daemon checkpoints passively in the background (Store.checkpoint).
WAL_AUTOCHECKPOINT_PAGES = 4000


# Called directly rather than through super(): the wrapper then costs nothing measurable
# per statement (super() added ~0.5 us to each of the dozen statements of an action).
_EXECUTE = sqlite3.Connection.execute
_EXECUTEMANY = sqlite3.Connection.executemany
_EXECUTESCRIPT = sqlite3.Connection.executescript


class _Connection(sqlite3.Connection):
    """A connection whose statements fail with the store's errors, not sqlite3's (module doc).

    Busy and locked errors pass through untouched: Store._retry_busy waits them out.
    """

    store_path: Path

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        try:
            return _EXECUTE(self, sql, parameters)
        except sqlite3.Error as exc:
            raise storage_error(exc, self.store_path) or exc from exc

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        try:
            return _EXECUTEMANY(self, sql, parameters)
        except sqlite3.Error as exc:
            raise storage_error(exc, self.store_path) or exc from exc

    def executescript(self, script: str, /) -> sqlite3.Cursor:
        try:
            return _EXECUTESCRIPT(self, script)
        except sqlite3.Error as exc:
            raise storage_error(exc, self.store_path) or exc from exc


# POSIX record locks belong to the process: closing ANY descriptor of the database file
# drops every lock this process's SQLite connections hold on it, and another process can
# then take the file for its last-connection checkpoint and reset the WAL under them: their
# commits are lost. So the file is judged only while this process has no connection to it,
# and through SQLite (whose own descriptors defer their close while locks are held).
_CONNECTED: Counter[str] = Counter()
_CONNECTED_LOCK = threading.Lock()


def _connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves (see module doc).
    conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000,
                           check_same_thread=False, factory=_Connection)
    conn.store_path = path
    conn.row_factory = sqlite3.Row
    return conn


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _installed_version() -> str:
    try:
        return version("store-agent")
    except PackageNotFoundError:
        return "0+unknown"


class Store:
    """One connection to the store database, with the product's guarantees."""

    def __init__(self, path: str | os.PathLike[str], *, migrate: bool = True,
                 interactive: bool = False):
        """``interactive``: a UI's store, which gives up on a lock after a second
        (INTERACTIVE_BUSY_MS) instead of retrying for WRITE_PATIENCE_S."""
        self.path = Path(path)
        self.busy_ms = INTERACTIVE_BUSY_MS if interactive else BUSY_TIMEOUT_MS
        self.patience_s = 0.0 if interactive else WRITE_PATIENCE_S
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            key = str(self.path.resolve())
            with _CONNECTED_LOCK:
                if not _CONNECTED[key]:
                    refuse_a_file_that_is_not_a_database(self.path)
                self.conn = _connect(self.path)
                _CONNECTED[key] += 1
                self._connected_key: str | None = key
            self._configure()
        except StoreUnavailableError:
            self.close()
            raise
        except sqlite3.DatabaseError as exc:
            self.close()
            raise storage_error(exc, self.path) or StoreSetupError(
                f"{self.path}: cannot open the database ({exc})") from None
        except OSError as exc:
            raise StoreSetupError(f"{self.path}: cannot open the database ({exc.strerror})") from None
        self.db = sqlite_utils.Database(self.conn)
        if migrate:
            try:
                self.migrate()
            except BaseException:
                self.close()
                raise

    # --- set-up ---------------------------------------------------------
    def _configure(self) -> None:
        c = self.conn
        c.execute(f"PRAGMA busy_timeout = {self.busy_ms}")
        mode = self._retry_busy(lambda: c.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        c.execute("PRAGMA synchronous = FULL")
        c.execute("PRAGMA foreign_keys = ON")
        c.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}")
        c.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
        sync = c.execute("PRAGMA synchronous").fetchone()[0]
        fks = c.execute("PRAGMA foreign_keys").fetchone()[0]
        if str(mode).lower() != "wal" or sync != 2 or fks != 1:
            raise StoreSetupError(
                f"{self.path}: refusing to run without WAL, synchronous=FULL and foreign keys"
                f" (got journal_mode={mode}, synchronous={sync}, foreign_keys={fks});"
                " is the file on a network share?"
            )

    def migrate(self) -> None:
        """Apply pending migrations; safe when several processes start at once."""
        with self.write():
            # Inside our BEGIN IMMEDIATE, sqlite-utils' atomic() nests as
            # savepoints, so a second process waits for the first and then
            # finds nothing pending.
            self._refuse_newer_schema()
            before = self._applied_migrations()
            MIGRATIONS.apply(self.db)
            if self._applied_migrations() != before:
                # Remembered so that an older release can name the one it must not undercut.
                sync_state.put(self.conn, schema_migrated_by=_installed_version())

    def _applied_migrations(self) -> set[str]:
        if not self.conn.execute("SELECT 1 FROM sqlite_master WHERE name = '_sqlite_migrations'"
                                 ).fetchone():
            return set()
        return {r[0] for r in self.conn.execute(
            "SELECT name FROM _sqlite_migrations WHERE migration_set = ?", (MIGRATIONS.name,))}

    def _refuse_newer_schema(self) -> None:
        """A rollback to an older release must not run on a schema it does not know."""
        unknown = self._applied_migrations() - {m.name for m in MIGRATIONS._migrations}
        if not unknown:
            return
        newer = sync_state.get(self.conn, sync_state.SyncKey.SCHEMA_MIGRATED_BY) or "a newer release"
        raise StoreSetupError(
            f"{self.path}: migrated by store-agent {newer} (migrations {', '.join(sorted(unknown))});"
            f" this is store-agent {_installed_version()}, which does not know them: install"
            f" {newer} again, or restore the backup taken before the upgrade (docs/install.md)")

    def close(self) -> None:
        conn = getattr(self, "conn", None)
        if conn is not None:
            with contextlib.suppress(sqlite3.Error, StoreError):
                conn.close()
        key = getattr(self, "_connected_key", None)
        if key is not None:
            self._connected_key = None
            with _CONNECTED_LOCK:
                _CONNECTED[key] -= 1
                if _CONNECTED[key] <= 0:
                    del _CONNECTED[key]

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transactions ---------------------------------------------------
    def _retry_busy(self, fn: Callable[[], _T]) -> _T:
        deadline = time.monotonic() + self.patience_s
        delay = 0.005
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() >= deadline:
                    if _is_busy(exc):
                        raise StoreBusyError(
                            f"{self.path}: the database stayed locked for"
                            f" {self.patience_s + self.busy_ms / 1000:.0f} s by another process;"
                            " try again in a moment; nothing was changed"
                        ) from None
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.25)

    def write(self) -> _Write:
        """A write transaction: BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error.

        Returns only after COMMIT, i.e. after the WAL is fsynced (synchronous=FULL):
        whatever the caller confirms to a person afterwards survives a power cut.
        """
        return _Write(self)

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot across several SELECTs."""
        self.conn.execute("BEGIN")
        try:
            yield self.conn
        except sqlite3.Error as exc:  # raised while stepping through rows, past execute()
            raise storage_error(exc, self.path) or exc from exc
        finally:
            with contextlib.suppress(sqlite3.Error, StoreError):
                self.conn.execute("COMMIT")

    def data_version(self) -> int:
        """Changes when another connection commits: cheap change detection for UIs."""
        version: int = self.conn.execute("PRAGMA data_version").fetchone()[0]
        return version

    def checkpoint(self) -> tuple[int, int, int]:
        """Copy the WAL back into the database without blocking readers or writers."""
        return tuple(self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone())

    def limit_cache(self, kib: int) -> None:
        """Cap this connection's page cache (SQLite's default: 2 MiB per connection), for
        connections that read little or rarely and so need not keep pages resident."""
        self.conn.execute(f"PRAGMA cache_size = {-int(kib)}")

    def integrity_check(self) -> str:
        result: str = self.conn.execute("PRAGMA integrity_check").fetchone()[0]
        return result


class _Write:
    """Store.write()'s context manager. A class rather than @contextmanager:
    every associate action passes through it, and the generator version cost
    about 2 µs more per action (docs/benchmarks.md)."""

    __slots__ = ("store",)

    def __init__(self, store: Store):
        self.store = store

    def __enter__(self) -> sqlite3.Connection:
        conn = self.store.conn
        if conn.in_transaction:
            raise RuntimeError("write transactions do not nest")
        self.store._retry_busy(lambda: conn.execute("BEGIN IMMEDIATE"))
        return conn

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        conn = self.store.conn
        if exc_type is None:
            try:
                conn.execute("COMMIT")
                return
            except (sqlite3.OperationalError, StoreError):
                _rollback(conn)
                raise
        _rollback(conn)
        if isinstance(exc, sqlite3.Error):  # raised while stepping through rows, past execute()
            translated = storage_error(exc, self.store.path)
            if translated is not None:
                raise translated from exc


def _rollback(conn: sqlite3.Connection) -> None:
    with contextlib.suppress(sqlite3.Error, StoreError):
        if conn.in_transaction:
            conn.execute("ROLLBACK")
