"""Store-PC install into a staging root: files, modes, units, upgrade, uninstall, purge.

One test walks the whole life cycle because each step builds on the last and a
real install (a fresh virtual environment with every dependency) takes a while.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _install(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(REPO / "install.sh"), *args], capture_output=True, text=True,
                          timeout=600, cwd=REPO, **kwargs)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _verify_unit(unit: Path, root: Path, tmp: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        return  # the content checks below still run
    # verify wants ExecStart to exist: point it at the staged binary.
    copy = tmp / unit.name
    copy.write_text(unit.read_text().replace("/opt/store-agent", f"{root}/opt/store-agent"))
    proc = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True, text=True)
    problems = [line for line in proc.stderr.splitlines() if str(copy) in line or "Unknown" in line]
    assert proc.returncode == 0 and not problems, proc.stderr


def test_staging_root_life_cycle(tmp_path):
    root = tmp_path / "root"
    r = _install("--root", str(root))
    assert r.returncode == 0, r.stdout + r.stderr
    agent = root / "opt/store-agent/bin/store-agent"
    config = root / "etc/store-agent/config.toml"
    data = root / "var/lib/store-agent"
    units = root / "etc/systemd/system"
    assert agent.exists() and os.access(agent, os.X_OK)
    on_path = root / "usr/local/bin/store-agent"
    assert on_path.is_symlink() and on_path.resolve() == agent.resolve()
    assert _mode(config) == 0o600 and _mode(data) == 0o750
    assert (root / "etc/udev/rules.d/99-store-agent.rules").exists()
    service = (units / "store-agent.service").read_text()
    for line in ("ExecStart=/opt/store-agent/bin/store-agent run", "Restart=always",
                 "NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
                 "ReadWritePaths=/var/lib/store-agent", "User=store-agent",
                 "SupplementaryGroups=dialout lp"):
        assert line in service
    assert "serve-ui" in (units / "store-agent-ui.service").read_text()
    assert str(root) not in service, "units must name the real paths, not the staging root"
    for unit in ("store-agent.service", "store-agent-ui.service"):
        _verify_unit(units / unit, root, tmp_path)

    # The staged agent runs and its config (written from the template) is valid.
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORE_AGENT_")}
    env["STORE_AGENT_CONFIG"] = str(config)
    check = subprocess.run([str(agent), "config", "check"], capture_output=True, text=True, env=env)
    assert check.returncode == 0, check.stderr

    # Store IT edits the config and the store accumulates data.
    config.write_text(config.read_text().replace('store_id = "S042"', 'store_id = "S777"'))
    subprocess.run([str(agent), "status"], env=env, check=True, capture_output=True)
    db = data / "agent.db"
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO sync_state VALUES ('marker', 'kept')")

    # Upgrade in place: config and data kept, database migrated and openable.
    r = _install("--root", str(root))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "keeping the existing" in r.stdout
    assert 'store_id = "S777"' in config.read_text() and _mode(config) == 0o600
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT value FROM sync_state WHERE key='marker'").fetchone() == ("kept",)

    # Uninstall keeps config and data; purge removes them.
    r = _install("--root", str(root), "--uninstall")
    assert r.returncode == 0, r.stderr
    assert not (root / "opt/store-agent").exists() and not (units / "store-agent.service").exists()
    assert not on_path.is_symlink()
    assert config.exists() and db.exists()
    r = _install("--root", str(root), "--purge")
    assert r.returncode == 0, r.stderr
    assert not config.exists() and not data.exists()


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root to drop to an unprivileged user")
def test_store_pc_mode_refuses_without_root():
    # The unprivileged user runs a copy in a directory every account can read: the
    # checkout itself may live where others cannot (a clone under /root, mode 0700).
    public = Path(tempfile.mkdtemp(prefix="store-agent-install-"))
    try:
        public.chmod(0o755)
        script = public / "install.sh"
        shutil.copy(REPO / "install.sh", script)
        script.chmod(0o755)
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            "bash", str(script)], capture_output=True, text=True, timeout=60,
                           cwd="/")
    finally:
        shutil.rmtree(public)
    assert r.returncode != 0
    assert "needs root" in r.stderr and "sudo ./install.sh" in r.stderr
