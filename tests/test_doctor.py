"""`store-agent doctor`: every check passes on a healthy set-up and fails, saying so, when broken."""

from __future__ import annotations

import email.utils
import grp
import os
import pwd
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiohttp import web

from agent.ops import doctor
from agent.ops.checks import database as database_checks
from agent.ops.checks import permissions as permission_checks
from agent.store.connection import Store
from agent.store.daemon_lock import DaemonLock, lock_path
from config import load_settings
from sync.oms_sim import OmsSimServer, SimState
from tests.factories import METRICS_LISTEN, write_config
from tests.local_http import ThreadedApp

TOKEN = "test-token-not-secret"  # the token in tests.factories' config
REPO = Path(__file__).resolve().parent.parent


def me() -> str | None:
    """The name of the account running the tests (None: a uid without a passwd entry)."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return None


def by_name(checks) -> dict[str, doctor.Check]:
    return {c.name: c for c in checks}


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = write_config(tmp_path)
    os.chmod(path, 0o600)
    Store(tmp_path / "agent.db").close()
    return path


@pytest.fixture(scope="module")
def sim():
    with OmsSimServer(SimState(token=TOKEN)) as server:
        yield server


def test_healthy_setup_passes(cfg, sim):
    # Checked for the account running the tests: a store-agent user on this machine must not matter.
    with DaemonLock(cfg.parent / "agent.db"):
        checks = by_name(doctor.run_checks(cfg, environ={"STORE_AGENT_OMS__URL": sim.url},
                                           service_user=me()))
    for name in ("config", "config_permissions", "database_dir", "database", "wal_size",
                 "disk_free", "database_permissions", "daemon", "oms_reachable", "oms_credentials",
                 "clock_skew", "printer:counter", "scanner:backroom-1", "device_groups"):
        assert checks[name].result == doctor.PASS, checks[name]
    assert doctor.summary(list(checks.values()))["ok"] is True


def test_oms_down_fails_reachability(cfg):
    checks = by_name(doctor.run_checks(cfg, environ={}))  # the factory's OMS is 127.0.0.1:9
    assert checks["oms_reachable"].result == doctor.FAIL
    assert "127.0.0.1:9" in checks["oms_reachable"].detail
    assert "network" in checks["oms_reachable"].fix
    assert checks["oms_credentials"].result == doctor.WARN
    assert doctor.summary(list(checks.values()))["ok"] is False


def test_wrong_token_fails_credentials(cfg):
    with OmsSimServer(SimState(token="another-token-entirely")) as other:
        checks = by_name(doctor.run_checks(cfg, environ={"STORE_AGENT_OMS__URL": other.url}))
    assert checks["oms_reachable"].result == doctor.PASS
    assert checks["oms_credentials"].result == doctor.FAIL
    assert "refused the token" in checks["oms_credentials"].detail
    assert TOKEN not in str(checks)


def test_skewed_oms_clock_warns(cfg):
    async def not_found(request):
        skewed = email.utils.formatdate(time.time() - 300, usegmt=True)
        return web.json_response({"error": "not_found"}, status=404, headers={"Date": skewed})

    app = web.Application()
    app.router.add_get("/v1/stores/{store}/orders/{order}", not_found)
    with ThreadedApp(app) as oms:
        checks = by_name(doctor.run_checks(cfg, environ={"STORE_AGENT_OMS__URL": oms.url}))
    assert checks["oms_credentials"].result == doctor.PASS
    skew = checks["clock_skew"]
    assert skew.result == doctor.WARN
    assert "ahead of the OMS" in skew.detail and "ntp" in skew.fix


def test_corrupted_database_fails(cfg):
    db = cfg.parent / "agent.db"
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    data = bytearray(db.read_bytes())
    data[4096:8192] = os.urandom(4096)  # page 2 scrambled: a file that opens but is damaged
    db.write_bytes(bytes(data))
    check = by_name(doctor.run_checks(cfg, environ={}))["database"]
    assert check.result == doctor.FAIL
    assert "restore" in check.fix

    db.write_bytes(b"this is not a database" * 300)
    check = by_name(doctor.run_checks(cfg, environ={}))["database"]
    assert check.result == doctor.FAIL and "damaged or unreadable" in check.detail


def test_missing_devices_fail(tmp_path):
    extra = """
[[printers]]
id = "labels"
kind = "serial"
address = "/dev/store-agent-no-such-printer"

[[stations]]
id = "front-1"
scanner = "/dev/store-agent-no-such-scanner"
"""
    path = write_config(tmp_path, extra=extra)
    os.chmod(path, 0o600)
    checks = by_name(doctor.run_checks(path, environ={}))
    assert checks["scanner:front-1"].result == doctor.FAIL
    assert "not present" in checks["scanner:front-1"].detail
    assert "udev" in checks["scanner:front-1"].fix
    assert checks["printer:labels"].result == doctor.FAIL
    assert "unreachable" in checks["printer:labels"].detail
    assert checks["scanner:backroom-1"].result == doctor.PASS


def test_world_readable_config_with_token_fails(cfg):
    os.chmod(cfg, 0o644)
    check = by_name(doctor.run_checks(cfg, environ={}))["config_permissions"]
    assert check.result == doctor.FAIL
    assert check.fix == f"chmod 600 {cfg}"


def test_low_disk_warns(cfg):
    class Usage:
        total, free = 1000, 50

    check = by_name(doctor.run_checks(cfg, environ={}, disk_usage=lambda p: Usage))["disk_free"]
    assert check.result == doctor.WARN and "5.0 %" in check.detail


def test_unwritable_database_dir_fails(tmp_path):
    # A file where the directory should be: fails even for root, who writes anywhere else.
    (tmp_path / "data").write_text("not a directory")
    path = write_config(tmp_path)
    path.write_text(path.read_text().replace(str(tmp_path / "agent.db"),
                                             str(tmp_path / "data" / "agent.db")))
    os.chmod(path, 0o600)
    check = by_name(doctor.run_checks(path, environ={}))["database_dir"]
    assert check.result == doctor.FAIL and "chown" in check.fix


def test_cli_json_and_exit_codes(cli, config_path, tmp_path):
    os.chmod(config_path, 0o600)
    result = cli("doctor", "--json")
    assert result.code == 5, result.err  # the OMS of the factory config is down: unavailable
    body = result.json()
    assert body["ok"] is False
    assert {"name", "result", "detail", "fix"} <= set(body["checks"][0])
    assert any(c["name"] == "oms_reachable" and c["result"] == "fail" for c in body["checks"])
    names = {c["name"]: c for c in body["checks"]}
    assert {"database_permissions", "device_groups"} <= set(names)

    result = cli("doctor", "--json", "--user", "no-such-user-store-agent-test")
    checks = {c["name"]: c for c in result.json()["checks"]}
    for name in ("database_permissions", "device_groups"):
        assert checks[name]["result"] == "fail" and "no-such-user" in checks[name]["detail"]

    config_path.write_text(config_path.read_text() + "\n[sync]\nbatch_size = 0\n")
    result = cli("doctor")
    assert result.code == 2  # a broken config is a configuration error, findings still shown
    assert "FAIL  config:" in result.out and "sync.batch_size" in result.out


# --- the write-ahead log and the daemon, made to fail for real ---------------------------------


def test_a_wal_pinned_by_an_open_reader_warns_then_passes_once_checkpointed(cfg, monkeypatch):
    monkeypatch.setattr(database_checks, "WAL_WARN_BYTES", 1 << 20)  # 128 MiB of real WAL is too slow a test
    db = cfg.parent / "agent.db"
    wal = Path(f"{db}-wal")
    writer = Store(db)
    reader = sqlite3.connect(db, isolation_level=None)
    try:
        writer.conn.execute("CREATE TABLE ballast (b BLOB)")
        # A reader in a transaction, like a UI left on a screen: no checkpoint may pass its snapshot.
        reader.execute("BEGIN")
        reader.execute("SELECT COUNT(*) FROM orders").fetchone()
        for _ in range(12):
            with writer.write() as conn:
                conn.execute("INSERT INTO ballast VALUES (randomblob(256 * 1024))")
        _busy, frames, copied = writer.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert copied < frames, "the reader did not pin the WAL"
        assert wal.stat().st_size > 2 << 20

        check = by_name(doctor.run_checks(cfg, environ={}))["wal_size"]
        assert check.result == doctor.WARN, check
        assert str(wal) in check.detail and "MiB" in check.detail
        assert "restart the UI and the daemon" in check.fix

        reader.execute("COMMIT")
        writer.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert wal.stat().st_size == 0
        assert by_name(doctor.run_checks(cfg, environ={}))["wal_size"].result == doctor.PASS
    finally:
        reader.close()
        writer.close()


def test_daemon_check_follows_a_real_daemon_killed_with_sigkill(cfg, tmp_path):
    """The check asks the kernel for the daemon's flock: a daemon killed by -9 leaves its lock
    file behind, and the check must still say it is not running."""
    db = cfg.parent / "agent.db"
    cfg.write_text(cfg.read_text().replace(METRICS_LISTEN, 'listen = ""\n'))  # no endpoint at all
    assert by_name(doctor.run_checks(cfg, environ={}))["daemon"].result == doctor.WARN  # no lock file

    log_path = tmp_path / "daemon.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORE_AGENT_")}
    env.update(STORE_AGENT_CONFIG=str(cfg), STORE_AGENT_LOG_LEVEL="INFO")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "ui.cli.main", "run"], cwd=REPO, env=env,
                                stdout=subprocess.DEVNULL, stderr=log)
    try:
        deadline = time.monotonic() + 60  # a bound against hanging, not a timing assertion
        while "daemon started" not in log_path.read_text(errors="replace"):
            assert proc.poll() is None, f"the daemon exited {proc.returncode}: {log_path.read_text()}"
            assert time.monotonic() < deadline, f"the daemon did not start: {log_path.read_text()}"
            time.sleep(0.1)
        running = by_name(doctor.run_checks(cfg, environ={}))["daemon"]
        assert running.result == doctor.PASS, running

        proc.send_signal(signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert lock_path(db).exists(), "the daemon should have left its lock file behind"
    check = by_name(doctor.run_checks(cfg, environ={}))["daemon"]
    assert check.result == doctor.WARN
    assert "not running" in check.detail and "systemctl start store-agent" in check.fix


def test_an_unreadable_daemon_lock_warns_instead_of_crashing_doctor(cfg):
    lock_path(cfg.parent / "agent.db").mkdir()  # a directory cannot be opened O_RDWR, even by root
    checks = by_name(doctor.run_checks(cfg, environ={}))
    assert checks["daemon"].result == doctor.WARN
    assert "cannot tell whether the daemon runs" in checks["daemon"].detail
    assert checks["printer:counter"].result == doctor.PASS  # asked directly instead


# --- ownership and modes of the database ------------------------------------------------------


def nobody() -> pwd.struct_passwd:
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user 'nobody' on this machine")
    if entry.pw_uid == os.geteuid():
        pytest.skip("the tests run as nobody")
    return entry


def test_a_world_writable_database_fails(cfg):
    db = cfg.parent / "agent.db"
    os.chmod(db, 0o666)
    check = by_name(doctor.run_checks(cfg, environ={}, service_user=me()))["database_permissions"]
    assert check.result == doctor.FAIL
    assert f"{db} (" in check.detail and "writable by every account" in check.detail
    assert check.fix == f"sudo chmod 600 {db}"
    os.chmod(db, 0o600)
    assert by_name(doctor.run_checks(cfg, environ={}, service_user=me()))[
        "database_permissions"].result == doctor.PASS


def test_a_world_writable_data_directory_fails(cfg):
    os.chmod(cfg.parent, 0o777)
    check = by_name(doctor.run_checks(cfg, environ={}, service_user=me()))["database_permissions"]
    assert check.result == doctor.FAIL and "writable by every account" in check.detail
    assert f"sudo chmod 750 {cfg.parent}" in check.fix


def test_database_files_readable_through_an_open_directory_warn(cfg):
    db = cfg.parent / "agent.db"
    with Store(db):  # open: the -wal and -shm files exist
        files = [db, Path(f"{db}-wal"), Path(f"{db}-shm")]
        for path in files:
            os.chmod(path, 0o644)
        os.chmod(cfg.parent, 0o700)  # others cannot reach the files: nothing to say
        check = by_name(doctor.run_checks(cfg, environ={}, service_user=me()))["database_permissions"]
        assert check.result == doctor.PASS, check
        assert "agent.db-wal" in check.detail and "agent.db-shm" in check.detail

        os.chmod(cfg.parent, 0o755)
        check = by_name(doctor.run_checks(cfg, environ={}, service_user=me()))["database_permissions"]
        assert check.result == doctor.WARN, check
        assert all(f"{path} (" in check.detail for path in files)
        assert "readable by every account" in check.detail
        assert check.fix == f"sudo chmod 600 {' '.join(map(str, files))}"


def test_database_files_the_service_user_cannot_write_fail(cfg):
    """Typically -wal and -shm left owned by root after someone ran a command with sudo."""
    user = nobody()
    group = grp.getgrgid(user.pw_gid).gr_name
    db = cfg.parent / "agent.db"
    with Store(db):
        files = [cfg.parent, db, Path(f"{db}-wal"), Path(f"{db}-shm")]
        for path in files:
            os.chmod(path, 0o700 if path.is_dir() else 0o600)
        check = by_name(doctor.run_checks(cfg, environ={}, service_user="nobody"))[
            "database_permissions"]
        assert check.result == doctor.FAIL, check
        assert check.detail.startswith("for nobody: ")
        assert f"{cfg.parent} (" in check.detail and "nobody cannot create files in it" in check.detail
        assert "nobody cannot write it" in check.detail
        assert check.fix == f"sudo chown nobody:{group} {' '.join(map(str, files))}"
        if os.geteuid() == 0:  # apply the fix: then it passes
            for path in files:
                os.chown(path, user.pw_uid, user.pw_gid)
            check = by_name(doctor.run_checks(cfg, environ={}, service_user="nobody"))[
                "database_permissions"]
            assert check.result == doctor.PASS, check
            assert "writable by nobody, closed to other accounts" in check.detail


def test_the_default_account(monkeypatch):
    account = doctor.service_account()
    assert account.uid == os.geteuid() or (os.geteuid() == 0 and account.name == doctor.SERVICE_USER)
    if account.uid == os.geteuid():
        assert account.this_process and account.groups == frozenset(os.getgroups()) | {os.getegid()}
    with pytest.raises(KeyError):
        doctor.service_account("no-such-user-store-agent-test")


# --- device groups -------------------------------------------------------------------------------


def fake_device(tmp_path: Path, monkeypatch, mode: int, gid: int | None = None) -> Path:
    """A file standing in for a device node: doctor treats paths under DEVICE_DIRS as devices."""
    monkeypatch.setattr(permission_checks, "DEVICE_DIRS", ("/dev/", f"{tmp_path}/"))
    dev = tmp_path / "ttyFAKE0"
    dev.write_bytes(b"")
    if gid is not None:
        os.chown(dev, -1, gid)
    os.chmod(dev, mode)
    return dev


def device_config(tmp_path: Path, dev: Path) -> Path:
    extra = f"""
[[printers]]
id = "labels"
kind = "serial"
address = "{dev}@38400"

[[stations]]
id = "front-1"
scanner = "{dev}"
"""
    path = write_config(tmp_path, extra=extra)
    os.chmod(path, 0o600)
    return path


def group_nobody_is_not_in(user: pwd.struct_passwd) -> int:
    """As root, any group but root nobody is not in; otherwise our own group (the only one we
    may give a file), provided nobody is not in it."""
    theirs = set(os.getgrouplist(user.pw_name, user.pw_gid))
    if os.geteuid() == 0:
        candidates = [g.gr_gid for g in grp.getgrall() if g.gr_gid != 0 and g.gr_gid not in theirs]
    else:
        candidates = [os.getegid()] if os.getegid() not in theirs | {0} else []
    if not candidates:
        pytest.skip("no group to test with that nobody is not in")
    return candidates[0]


def test_a_device_in_a_group_the_service_user_is_not_in_fails_naming_the_group(tmp_path, monkeypatch):
    user = nobody()
    gid = group_nobody_is_not_in(user)
    dev = fake_device(tmp_path, monkeypatch, 0o660, gid)
    group = grp.getgrgid(gid).gr_name
    checks = by_name(doctor.run_checks(device_config(tmp_path, dev), environ={}, service_user="nobody"))
    check = checks["device_groups"]
    assert check.result == doctor.FAIL, check
    assert check.detail == (f"nobody is not in group {group}, which {dev} (printer:labels),"
                            f" {dev} (scanner:front-1) need")
    assert check.fix == f"sudo usermod -aG {group} nobody, then log in again as nobody"
    assert doctor.summary(list(checks.values()))["ok"] is False

    os.chmod(dev, 0o666)  # open to everyone: no group needed
    check = by_name(doctor.run_checks(device_config(tmp_path, dev), environ={},
                                      service_user="nobody"))["device_groups"]
    assert check.result == doctor.PASS, check


def test_a_device_whose_group_grants_nothing_needs_a_udev_rule(tmp_path, monkeypatch):
    nobody()
    dev = fake_device(tmp_path, monkeypatch, 0o600)
    check = by_name(doctor.run_checks(device_config(tmp_path, dev), environ={},
                                      service_user="nobody"))["device_groups"]
    assert check.result == doctor.FAIL, check
    assert "joining its group would not help" in check.detail
    assert "udev rule" in check.fix and "udevadm trigger" in check.fix


def test_the_account_running_doctor_passes_for_its_own_group_and_root_for_any(tmp_path, monkeypatch):
    # Root (CI) opens any device whatever its mode and group, and the check says so; anyone
    # else owns the file they created.
    dev = fake_device(tmp_path, monkeypatch, 0o660 if os.geteuid() else 0o000)
    check = by_name(doctor.run_checks(device_config(tmp_path, dev), environ={}))["device_groups"]
    assert check.result == doctor.PASS, check
    if os.geteuid() == 0:
        assert "(uid 0) opens any device whatever its group" in check.detail
    else:
        assert f"can open {dev} (printer:labels, " in check.detail


def test_a_group_joined_after_login_does_not_count_until_the_next_login(tmp_path, monkeypatch):
    dev = fake_device(tmp_path, monkeypatch, 0o660)
    gid = dev.stat().st_gid
    if gid == 0:
        gid = next((g.gr_gid for g in grp.getgrall() if g.gr_gid != 0), None)
        if gid is None or os.geteuid() != 0:
            pytest.skip("no group other than root to test with")
        os.chown(dev, -1, gid)
    # A session that started before `usermod -aG`: the group database has it, the process not.
    account = doctor.Account("clerk", 54321, 54321, frozenset({54321}), this_process=True)
    monkeypatch.setattr(os, "getgrouplist", lambda name, base: [base, gid])
    settings = load_settings(device_config(tmp_path, dev), environ={})
    check = doctor.check_device_groups(settings, account)
    assert check.result == doctor.FAIL
    assert f"clerk joined group {grp.getgrgid(gid).gr_name} after this session started" in check.detail
    assert "log in again as clerk" in check.fix and "usermod" not in check.fix


def test_only_configured_device_files_are_checked(tmp_path):
    check = by_name(doctor.run_checks(write_config(tmp_path), environ={}))["device_groups"]
    assert check.result == doctor.PASS and "no device files configured" in check.detail
    extra = """
[[stations]]
id = "front-1"
scanner = "/dev/store-agent-no-such-scanner"
"""
    check = by_name(doctor.run_checks(write_config(tmp_path, extra=extra), environ={}))["device_groups"]
    assert check.result == doctor.PASS and "nothing to check" in check.detail  # the scanner check fails


def test_a_usb_printer_is_found_through_sysfs(tmp_path, monkeypatch):
    sysfs = tmp_path / "sys"
    for name, vendor, product, bus, devnum in (("1-1", "1d6b", "0002", "1", "1"),
                                               ("1-2", "04b8", "0e15", "1", "4")):
        entry = sysfs / name
        entry.mkdir(parents=True)
        for key, value in (("idVendor", vendor), ("idProduct", product), ("busnum", bus),
                           ("devnum", devnum)):
            (entry / key).write_text(value + "\n")
    monkeypatch.setattr(permission_checks, "SYSFS_USB", sysfs)
    assert permission_checks.usb_node("04b8:0e15") == "/dev/bus/usb/001/004"
    assert permission_checks.usb_node("04B8:0E15") == "/dev/bus/usb/001/004"
    assert permission_checks.usb_node("04b8:0202") is None  # not plugged in: the printer check says so
    assert permission_checks.usb_node("nonsense") is None
