"""Backups (VACUUM INTO) with rotation, restore (refused while the daemon runs), retention."""

from __future__ import annotations

import asyncio
import os
import shlex
import sqlite3
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from agent.clock import iso, utc_now
from agent.errors import DaemonRunningError, UsageError
from agent.ops import maintenance
from agent.store import sync_state
from agent.store.connection import Store
from agent.store.daemon_lock import DaemonLock


def orders(path: Path) -> dict[str, str]:
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT order_id, state FROM orders"))
    finally:
        conn.close()


@pytest.fixture
def two_orders(seed, actions):
    seed(seed.snapshot("W1"), seed.snapshot("W2"))
    actions.stage("W1", bin="B-1", associate_id="A100")


def test_backup_and_restore_round_trip(settings, store, actions, two_orders, tmp_path):
    db = Path(settings.storage.path)
    copy = maintenance.backup(settings, tmp_path / "copy.db")
    assert copy.stat().st_mode & 0o077 == 0
    assert maintenance.verify_backup(copy)["orders"] == 2
    with pytest.raises(UsageError, match="never overwrites"):
        maintenance.backup(settings, copy)

    actions.stage("W2", bin="B-2", associate_id="A100")  # after the backup
    reader = Store(db)  # a UI left open across the restore
    assert reader.conn.execute("SELECT state FROM orders WHERE order_id = 'W2'").fetchone()[0] == "READY"

    result = maintenance.restore(settings, copy)
    assert result["orders"] == 2
    assert orders(db) == {"W1": "READY", "W2": "TO_PICK"}
    assert reader.conn.execute("SELECT state FROM orders WHERE order_id = 'W2'").fetchone()[0] == "TO_PICK"
    assert orders(Path(result["previous"])) == {"W1": "READY", "W2": "READY"}
    assert store.integrity_check() == "ok"
    reader.close()
    # Seq 2 was used (and maybe sent) before the restore: the next event must not reuse it.
    actions.stage("W2", bin="B-3", associate_id="A100")
    assert store.conn.execute("SELECT MAX(seq) FROM outbox").fetchone()[0] == 3
    assert store.conn.execute("SELECT status, type FROM outbox WHERE seq = 2").fetchone()[:] == (
        "acked", "store.seq_reserved")


def test_restore_refused_while_the_daemon_runs(settings, two_orders, tmp_path):
    copy = maintenance.backup(settings, tmp_path)  # a directory: a timestamped file inside
    assert copy.parent == tmp_path and copy.name.startswith("agent-")
    with DaemonLock(Path(settings.storage.path)), \
            pytest.raises(DaemonRunningError, match="daemon is running") as exc:
        maintenance.restore(settings, copy)
    assert exc.value.exit_code == 3
    assert not Path(f"{settings.storage.path}.before-restore").exists()


def test_restore_refuses_what_is_not_a_whole_store_agent_database(settings, tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not sqlite" * 500)
    with pytest.raises(UsageError, match="not a usable SQLite database"):
        maintenance.restore(settings, junk)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(UsageError, match="not a store-agent database"):
        maintenance.restore(settings, other)
    with pytest.raises(UsageError, match="no such backup"):
        maintenance.restore(settings, tmp_path / "missing.db")


def test_cli_backup_and_restore(cli, settings, two_orders, tmp_path):
    target = tmp_path / "cli-copy.db"
    result = cli("backup", str(target), "--json")
    assert result.code == 0, result.err
    assert result.json()["backup"] == str(target)
    with DaemonLock(Path(settings.storage.path)):
        result = cli("restore", str(target))
    assert result.code == 3
    assert "restore refused: the store-agent daemon is running" in result.err
    result = cli("restore", str(target))
    assert result.code == 0, result.err
    assert "before-restore" in result.out


@pytest.mark.parametrize("where", ["header", "pages"])
def test_a_damaged_database_is_named_by_doctor_and_restored_from_the_newest_backup(
        cli, settings, store, actions, two_orders, where):
    db = Path(settings.storage.path)
    newest = Path(maintenance.nightly(settings)["backup"])
    actions.stage("W2", bin="B-2", associate_id="A100")  # after the backup: lost with the disk
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    data = bytearray(db.read_bytes())
    if where == "header":
        data[0:100] = b"\x55" * 100  # "file is not a database"
    else:
        data[4096:] = b"\x55" * (len(data) - 4096)  # every page after the first
    db.write_bytes(bytes(data))
    for suffix in ("-wal", "-shm"):  # whatever is left is kept as it is
        db.with_name(db.name + suffix).write_bytes(b"half a log" + suffix.encode())

    if where == "header":  # any command: exit 5 (unavailable), naming the damage and the way out
        r = cli("status")
        assert r.code == 5 and "is damaged" in r.err and "store-agent doctor" in r.err, r.err
    report = cli("doctor", "--json")
    assert db.with_name(db.name + "-wal").exists(), "doctor removed the log"  # changes nothing
    check = next(c for c in report.json()["checks"] if c["name"] == "database")
    assert check["result"] == "fail" and "damaged" in check["detail"], check
    command = check["fix"].split("`")[1]  # the exact command doctor prints, run as printed
    assert command.startswith("store-agent") and command.endswith(f"restore {newest}"), check

    result = cli(*shlex.split(command)[1:])
    assert result.code == 0, result.err
    assert "damaged database is kept as it was" in result.out
    assert orders(db) == {"W1": "READY", "W2": "TO_PICK"}
    kept = {p.name.rsplit("-", 1)[-1]: p for p in db.parent.glob(f"{db.name}.damaged-*")}
    assert set(kept) >= {"wal", next(k for k in kept if k.endswith("Z"))}, kept
    kept_db = next(p for k, p in kept.items() if k.endswith("Z"))
    assert kept_db.read_bytes() == bytes(data), "the damaged file was changed, not kept"
    assert kept["wal"].read_bytes() == b"half a log-wal"
    assert "shm" in kept  # its bytes are SQLite's scratch memory, rewritten by any reader
    doctor = cli("doctor", "--json").json()
    assert next(c for c in doctor["checks"] if c["name"] == "database")["result"] == "pass"


def test_nightly_backup_rotates_keeping_seven(settings, two_orders):
    directory = maintenance.backup_dir(settings)
    directory.mkdir(parents=True)
    start = utc_now() - timedelta(days=20)
    for day in range(9):
        (directory / maintenance.backup_name(start + timedelta(days=day))).write_bytes(b"old")
    (directory / "keep-me.txt").write_text("not a backup")
    result = maintenance.nightly(settings)
    kept = sorted(p.name for p in directory.glob("agent-*.db"))
    assert len(kept) == 7 and kept[-1] == Path(result["backup"]).name
    assert len(result["removed"]) == 3
    assert (directory / "keep-me.txt").exists()
    assert maintenance.verify_backup(Path(result["backup"]))["orders"] == 2


def test_retention_keeps_pending_held_dead_and_the_highest_seq(settings, store, seed, actions):
    for i in range(1, 7):
        seed(seed.snapshot(f"W{i}"))
        actions.stage(f"W{i}", bin=f"B-{i}", associate_id="A100")
    old = iso(utc_now() - timedelta(days=100))
    recent = iso(utc_now() - timedelta(days=10))
    with store.write() as conn:
        # seq 1, 2: acked long ago (purged); 3 pending, 4 held, 5 dead (all old: kept);
        # 6: acked long ago but the highest seq (kept: seq must never be reused).
        conn.execute("UPDATE outbox SET status = 'acked', acked_at = ? WHERE seq IN (1, 2, 6)", (old,))
        conn.execute("UPDATE outbox SET status = 'held' WHERE seq = 4")
        conn.execute("UPDATE outbox SET status = 'dead', dead_at = ? WHERE seq = 5", (old,))
        conn.execute("UPDATE outbox SET occurred_at = ?", (old,))
        conn.execute("UPDATE received_changes SET received_at = ?", (old,))
        conn.execute("INSERT INTO received_changes (source, order_id, outcome, received_at)"
                     " VALUES ('feed', 'W1', 'applied', ?), ('feed', 'W1', 'older', ?)", (recent, old))
    applied_old = store.conn.execute("SELECT COUNT(*) FROM received_changes WHERE outcome = 'applied'"
                                     " AND received_at = ?", (old,)).fetchone()[0]
    assert applied_old == 6

    assert maintenance.purge(store, settings)["skipped"] is True  # no backup yet: nothing goes

    maintenance.nightly(settings)
    seqs = [r[0] for r in store.conn.execute("SELECT seq FROM outbox ORDER BY seq")]
    assert seqs == [3, 4, 5, 6]
    outcomes = sorted(r[0] for r in store.conn.execute("SELECT outcome FROM received_changes"))
    assert outcomes == ["applied", "older"]  # the recent applied one and the non-applied one
    assert sync_state.get(store.conn, "purged_acked_events") == "2"

    # The next event continues after the highest seq ever used.
    seed(seed.snapshot("W7"))
    actions.stage("W7", bin="B-7", associate_id="A100")
    assert store.conn.execute("SELECT MAX(seq) FROM outbox").fetchone()[0] == 7


def test_daemon_jobs_back_up_and_evaluate_alerts(settings, store, two_orders):
    from agent.daemon import Daemon

    async def jobs():
        daemon = Daemon(settings)
        daemon.store = store
        try:
            await daemon.job_backup_catch_up()  # never backed up: runs now
            await daemon.job_alerts()
        finally:
            await daemon.client.aclose()

    asyncio.run(jobs())
    (backup,) = maintenance.backup_dir(settings).glob("agent-*.db")
    assert maintenance.verify_backup(backup)["orders"] == 2
    assert sync_state.get(store.conn, "last_backup_at")


def test_a_backup_is_created_private_not_made_private_afterwards(settings, two_orders, tmp_path,
                                                                  monkeypatch):
    # Whatever the caller's umask, the copy is born 0600: no moment where others could read it.
    chmodded: list[str] = []
    monkeypatch.setattr(maintenance.os, "chmod", lambda path, *a, **k: chmodded.append(str(path)))
    old = os.umask(0o022)
    try:
        made = maintenance.backup(settings, tmp_path / "private.db")
    finally:
        os.umask(old)
    assert stat.S_IMODE(made.stat().st_mode) == 0o600 and chmodded == []
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]
