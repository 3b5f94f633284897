"""What a failing disk or file means to a person, in the store's error tree.

A ``sqlite3`` error that means the disk or the file failed (full, I/O error,
damage, no write permission) becomes a ``StoreError`` whose message names the
cause, the directory and the fix; errors that mean a bug (a constraint, bad
SQL) are not translated. And a file SQLite cannot read as a database is
refused before a read-write connection would touch it.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from urllib.parse import quote

from agent.errors import (
    StoreCorruptError,
    StoreDiskFullError,
    StoreError,
    StoreIOError,
    StoreUnavailableError,
)

# SQLite's primary result codes that mean the disk or the file, not our code.
SQLITE_PERM, SQLITE_READONLY, SQLITE_IOERR, SQLITE_CORRUPT = 3, 8, 10, 11
SQLITE_FULL, SQLITE_CANTOPEN, SQLITE_NOTADB = 13, 14, 26
# Under this many bytes free, an I/O error on write is the disk being full.
NEARLY_FULL_BYTES = 1024 * 1024
SQLITE_HEADER = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database


def storage_error(exc: sqlite3.Error, path: Path) -> StoreError | None:
    """The error-tree twin of a sqlite3 error about the disk or the file; None for the rest."""
    code = _code(exc)
    text = str(exc).lower()
    directory = path.parent
    unchanged = "nothing was changed"
    if code == SQLITE_IOERR and _nearly_full(directory):
        code = SQLITE_FULL
    if code == SQLITE_FULL or "disk is full" in text:
        return StoreDiskFullError(
            f"the disk holding {directory} is full: free space on it (old files, old backups),"
            f" then try again; {unchanged}")
    if code == SQLITE_IOERR or "disk i/o error" in text:
        return StoreIOError(
            f"the disk holding {directory} failed to read or write {path.name} ({exc}): check the"
            f" disk (dmesg, free space) and try again; {unchanged}")
    if code in (SQLITE_CORRUPT, SQLITE_NOTADB) or "malformed" in text or "not a database" in text:
        return StoreCorruptError(
            f"the database {path} is damaged ({exc}): stop the daemon and restore the newest"
            f" backup (`store-agent doctor` prints the exact command); {unchanged}")
    if code in (SQLITE_READONLY, SQLITE_PERM, SQLITE_CANTOPEN):
        return StoreUnavailableError(
            f"cannot write the database {path} ({exc}): check the owner and mode of {directory}"
            f" and its files (`store-agent doctor` names the fix); {unchanged}")
    return None


def _nearly_full(directory: Path) -> bool:
    try:
        return shutil.disk_usage(directory).free < NEARLY_FULL_BYTES
    except OSError:
        return False


def refuse_a_file_that_is_not_a_database(path: Path) -> None:
    """Judge the file before a read-write connection opens it: closing one to a file SQLite
    cannot read deletes its -wal, which a restore means to keep.

    Asked through SQLite, never by opening the file with Python: closing any descriptor of the
    database file drops every POSIX lock this process holds on it, those of its open SQLite
    connections included, and another process could then checkpoint and delete the -wal under
    them. First immutable (no locks, no -wal, nothing written): a header that is not SQLite's
    is refused at once. Pages the file alone calls malformed are asked again through the WAL
    and its locks, because another process's checkpoint copies pages into the file while we
    read: the file is then half old, half new, and perfectly healthy.
    """
    if not path.exists():
        return
    where = quote(str(path.resolve()))
    failure = _read_schema(f"file:{where}?mode=ro&immutable=1")
    if failure is not None and _code(failure) != SQLITE_NOTADB:
        failure = _read_schema(f"file:{where}?mode=ro")  # the pages through the WAL, locked
    damage = storage_error(failure, path) if failure is not None else None
    if isinstance(damage, StoreCorruptError):
        raise damage from None


def _read_schema(uri: str) -> sqlite3.DatabaseError | None:
    """The error reading the schema through ``uri`` gives; None when it reads (or cannot even
    open: the real connection then says why)."""
    try:
        probe = sqlite3.connect(uri, uri=True)
    except sqlite3.Error:
        return None
    try:
        probe.execute("PRAGMA schema_version").fetchone()
        return None
    except sqlite3.DatabaseError as exc:
        return exc
    finally:
        probe.close()


def _code(exc: sqlite3.Error) -> int:
    return (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF


def has_sqlite_header(path: Path) -> bool:
    """Whether the file starts as every SQLite database does (OSError when it cannot be read).

    Judging a file by its bytes, without SQLite, is how a tool with no connection to it
    (doctor, restore) tells "not a database" apart: a read-write open of such a file deletes
    its -wal on close. Not for a process holding connections to the file: closing this
    descriptor would drop their POSIX locks (see refuse_a_file_that_is_not_a_database).
    """
    with open(path, "rb") as fh:
        return fh.read(len(SQLITE_HEADER)) == SQLITE_HEADER
