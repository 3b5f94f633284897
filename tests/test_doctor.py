"""`store-agent doctor`: every check passes on a healthy set-up and fails, saying so, when broken."""

from __future__ import annotations

import email.utils
import os
import time
from pathlib import Path

import pytest
from aiohttp import web

from agent import doctor
from agent.daemon_lock import DaemonLock
from agent.store import Store
from sync.oms_sim import OmsSimServer, SimState
from tests.factories import write_config
from tests.local_http import ThreadedApp

TOKEN = "test-token-not-secret"  # the token in tests.factories' config


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
    with DaemonLock(cfg.parent / "agent.db"):
        checks = by_name(doctor.run_checks(cfg, environ={"STORE_AGENT_OMS__URL": sim.url}))
    for name in ("config", "config_permissions", "database_dir", "database", "wal_size",
                 "disk_free", "daemon", "oms_reachable", "oms_credentials", "clock_skew",
                 "printer:counter", "scanner:backroom-1"):
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
    assert check.result == doctor.FAIL and "cannot be read" in check.detail


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

    config_path.write_text(config_path.read_text() + "\n[sync]\nbatch_size = 0\n")
    result = cli("doctor")
    assert result.code == 2  # a broken config is a configuration error, findings still shown
    assert "FAIL  config:" in result.out and "sync.batch_size" in result.out
