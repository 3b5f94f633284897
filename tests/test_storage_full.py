"""The store's disk made full for real: a tmpfs of a few MiB holds the database.

Mounting needs root (CAP_SYS_ADMIN); where it is refused the tests skip and
say so. Nothing here is simulated: SQLite gets ENOSPC from the kernel.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.errors import StoreBusyError, StoreDiskFullError
from agent.orders.actions import Actions
from agent.orders.ingest import ingest_snapshots
from agent.store.connection import Store
from config import load_settings
from tests.factories import snapshot, write_config

TINY = "4m"


class TinyDisk:
    def __init__(self, mount: Path):
        self.mount = mount
        self.filler = mount / "filler"

    def fill(self) -> None:
        """Write until the kernel says ENOSPC: the file system is now really full."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for size in (65536, 4096, 1):
                with contextlib.suppress(OSError):
                    while os.write(fd, b"\0" * size):
                        pass
            with pytest.raises(OSError) as info:
                os.write(fd, b"\0")
            assert info.value.errno == errno.ENOSPC
        finally:
            os.close(fd)

    def free(self) -> None:
        self.filler.unlink()


@pytest.fixture
def tiny_disk() -> Iterator[TinyDisk]:
    mount = Path(tempfile.mkdtemp(prefix="store-agent-tiny-"))
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TINY},mode=0700", "tmpfs",
                        str(mount)], capture_output=True, text=True)
    if r.returncode != 0:
        os.rmdir(mount)
        pytest.skip(f"cannot mount a {TINY} tmpfs here to fill for real (needs root):"
                    f" {r.stderr.strip()}")
    try:
        yield TinyDisk(mount)
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
        os.rmdir(mount)


@pytest.fixture
def full_setup(tiny_disk: TinyDisk, tmp_path: Path):
    config = tmp_path / "tiny.toml"  # not config.toml: the cli fixture writes that one
    config.write_text(write_config(tmp_path).read_text().replace(
        str(tmp_path / "agent.db"), str(tiny_disk.mount / "data" / "agent.db")))
    settings = load_settings(config, environ={})
    with Store(settings.storage.path) as store:
        ingest_snapshots(store, [snapshot("W1"), snapshot("W2")], status_map=settings.status_map,
                         source="feed")
    return config, settings


def state(db: Path, order_id: str) -> str:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT state FROM orders WHERE order_id = ?", (order_id,)).fetchone()[0]
    finally:
        conn.close()


def test_a_full_disk_exits_5_naming_the_disk_changes_nothing_and_resumes(
        tiny_disk, full_setup, cli):
    config, settings = full_setup
    db = Path(settings.storage.path)
    tiny_disk.fill()
    env = {"STORE_AGENT_CONFIG": str(config)}
    r = cli("order", "stage", "W1", "--bin", "B-1", "--as", "A100", env=env)
    assert r.code == 5, (r.code, r.err)
    assert f"the disk holding {db.parent} is full" in r.err and "nothing was changed" in r.err
    assert "bug" not in r.err and "Traceback" not in r.err

    tiny_disk.free()
    assert state(db, "W1") == "TO_PICK"  # nothing was changed
    r = cli("order", "stage", "W1", "--bin", "B-1", "--as", "A100", env=env)
    assert r.code == 0, r.err
    assert state(db, "W1") == "READY"


def test_an_open_store_refuses_a_write_on_a_full_disk_and_writes_again_after(tiny_disk, full_setup):
    _, settings = full_setup
    with Store(settings.storage.path) as store:
        actions = Actions(store, settings)
        tiny_disk.fill()
        with pytest.raises(StoreDiskFullError, match="is full"):
            # The WAL has room for a few pages: keep writing until the disk is really needed.
            for n in range(200):
                actions.stage("W1" if n % 2 == 0 else "W2", bin=f"B-{n}", associate_id="A100")
        tiny_disk.free()
        actions.stage("W2", bin="B-LAST", associate_id="A100")
        assert store.conn.execute("SELECT bin FROM orders WHERE order_id = 'W2'").fetchone()[0] \
            == "B-LAST"


def test_an_interactive_store_gives_up_on_a_held_lock_with_a_busy_error(tmp_path):
    db = tmp_path / "agent.db"
    with Store(db) as holder, Store(db, interactive=True) as screen:
        with holder.write(), pytest.raises(StoreBusyError, match="try again"), \
                screen.write():  # another process is mid-transaction
            pass
        with screen.write() as conn:  # and works once the lock is free
            conn.execute("SELECT 1")


def test_the_daemon_on_a_full_disk_keeps_running_retries_and_records_a_storage_alert(
        tiny_disk, tmp_path):
    from tests.test_daemon import DaemonProcess, Oms, agent_config, query, wait_for

    oms = Oms(tmp_path, orders=10)
    daemon = None
    try:
        config = agent_config(tmp_path, oms.url)
        db = tiny_disk.mount / "data" / "agent.db"
        config.write_text(config.read_text().replace(str(tmp_path / "agent.db"), str(db)))
        # A reader holds the -shm (which SQLite maps, and cannot grow on a full disk) while the
        # log is empty: every write the daemon tries must grow the -wal, which the disk refuses.
        with Store(db) as holder:
            holder.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            tiny_disk.fill()
            daemon = DaemonProcess(config, tmp_path / "daemon.log")
            wait_for(lambda: f"the disk holding {db.parent} is full" in daemon.log(),
                     lambda: f"the daemon to say the disk is full:\n{daemon.log()[-2000:]}")
            assert daemon.proc.poll() is None, daemon.log()[-2000:]
            assert "Traceback" not in daemon.log()
            assert query(db, "SELECT COUNT(*) FROM orders")[0][0] == 0
            tiny_disk.free()
            wait_for(lambda: query(db, "SELECT COUNT(*) FROM orders")[0][0] == 10,
                     lambda: f"the feed to resume:\n{daemon.log()[-2000:]}")
            # Recorded, and none left open. Workers retry on their own schedules, so a worker
            # that met the full disk once more just after another's write went through may
            # record a second, shorter episode: what matters is that none stays open.
            wait_for(lambda: query(db, "SELECT COUNT(*), COUNT(resolved_at) FROM alerts"
                                       " WHERE kind = 'storage'")[0] in {(n, n) for n in (1, 2, 3)},
                     lambda: (f"the storage alert to be recorded and resolved:"
                              f" {query(db, 'SELECT * FROM alerts WHERE kind = ?', ('storage',))}\n"
                              f"{daemon.log()[-2000:]}"))
            raised, resolved, severity, message = query(
                db, "SELECT raised_at, resolved_at, severity, message FROM alerts"
                    " WHERE kind = 'storage' ORDER BY raised_at")[0]
            assert raised < resolved and severity == "critical" and "is full" in message
        code, _ = daemon.terminate()
        assert code == 0, daemon.log()[-2000:]
    finally:
        if daemon is not None:
            daemon.ensure_dead()
        oms.stop()
