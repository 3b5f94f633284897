"""One daemon per database, and a way for other commands to know one is running.

An fcntl lock on a file beside the database: the kernel drops it when the
process dies, even by SIGKILL, so a crashed daemon never leaves a stale lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from agent.errors import DaemonRunningError


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".daemon.lock")


class DaemonLock:
    def __init__(self, db_path: Path):
        self.path = lock_path(Path(db_path))
        self._fd: int | None = None

    def acquire(self) -> DaemonLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DaemonRunningError(
                f"another store-agent daemon already runs on this database ({self.path})"
            ) from None
        os.ftruncate(fd, 0)
        # The pid is for people reading the file; the flock is the lock. On a full disk
        # the daemon still starts (and says the disk is full) rather than dying here.
        with contextlib.suppress(OSError):
            os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> DaemonLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def daemon_running(db_path: Path) -> bool:
    path = lock_path(Path(db_path))
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)
