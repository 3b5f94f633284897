"""Store-PC install into a staging root: files, modes, units, upgrade, uninstall, purge.

One test walks the whole life cycle because each step builds on the last and a
real install (a fresh virtual environment with every dependency) takes a while.
"""

from __future__ import annotations

import os
import pwd
import shutil
import sqlite3
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _install(*args: str, cwd: Path = REPO, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(REPO / "install.sh"), *args], capture_output=True, text=True,
                          timeout=600, cwd=cwd, stdin=subprocess.DEVNULL, **kwargs)


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
    units = root / "usr/local/lib/systemd/system"  # the vendor folder: store IT uses drop-ins
    assert agent.exists() and os.access(agent, os.X_OK)
    on_path = root / "usr/local/bin/store-agent"
    assert on_path.is_symlink() and on_path.resolve() == agent.resolve()
    # The configuration belongs to root; the service reads it through its group only.
    assert _mode(config) == 0o640 and _mode(config.parent) == 0o750 and _mode(data) == 0o750
    assert _mode(config.parent / "config.d") == 0o750  # for drop-ins
    assert (root / "etc/udev/rules.d/99-store-agent.rules").exists()
    service = (units / "store-agent.service").read_text()
    for line in ("ExecStart=/opt/store-agent/bin/store-agent run", "Restart=always",
                 "RestartPreventExitStatus=2",  # a config error: restarting cannot mend it
                 "NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
                 "ReadWritePaths=/var/lib/store-agent", "User=store-agent",
                 "SupplementaryGroups=dialout lp"):
        assert line in service
    assert "/etc/store-agent" not in service.split("ReadWritePaths=")[1].splitlines()[0]
    ui_unit = (units / "store-agent-ui.service").read_text()
    assert "serve-ui" in ui_unit and "RestartPreventExitStatus=2" in ui_unit
    for line in ("NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectKernelTunables=yes",
                 "RestrictNamespaces=yes", "CapabilityBoundingSet=\n", "SystemCallFilter=@system-service",
                 "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6", "ProtectProc=invisible",
                 "ProtectClock=yes", "ProtectHostname=yes", "ProtectKernelLogs=yes"):
        assert line in ui_unit, line
    assert str(root) not in service, "units must name the real paths, not the staging root"
    for unit in ("store-agent.service", "store-agent-ui.service"):
        _verify_unit(units / unit, root, tmp_path)

    # The staged agent runs; the config names the real paths (the image runs at /), and the
    # unedited template is refused until store IT fills it in.
    assert 'path = "/var/lib/store-agent/agent.db"' in config.read_text()
    assert str(root) not in config.read_text()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORE_AGENT_")}
    env["STORE_AGENT_CONFIG"] = str(config)
    env["STORE_AGENT_STORAGE__PATH"] = str(data / "agent.db")
    check = subprocess.run([str(agent), "config", "check"], capture_output=True, text=True, env=env)
    assert check.returncode == 2 and "change-me" in check.stderr, check.stderr

    # Store IT edits the config, the udev rule and the unit (by a drop-in); data accumulates.
    config.write_text(config.read_text().replace('store_id = "S042"', 'store_id = "S777"')
                      .replace('"change-me"', '"tok"').replace("oms.example.com", "oms.chain.test"))
    check = subprocess.run([str(agent), "config", "check"], capture_output=True, text=True, env=env)
    assert check.returncode == 0, check.stderr
    rules = root / "etc/udev/rules.d/99-store-agent.rules"
    rules.write_text(rules.read_text() + 'SUBSYSTEM=="tty", SYMLINK+="store-scanner-9"\n')
    drop_in = root / "etc/systemd/system/store-agent.service.d/10-site.conf"
    drop_in.parent.mkdir(parents=True)
    drop_in.write_text("[Service]\nEnvironment=STORE_AGENT_LOG_LEVEL=DEBUG\n")
    subprocess.run([str(agent), "status"], env=env, check=True, capture_output=True)
    db = data / "agent.db"
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO sync_state VALUES ('marker', 'kept')")

    # Upgrade in place (a relative --root is where the caller stands): config, udev rule,
    # drop-in and data kept, database migrated and openable.
    r = _install("--root", "root", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "keeping the existing" in r.stdout
    assert not (REPO / "root").exists()
    assert "store-scanner-9" in rules.read_text() and "kept your edited" in r.stdout
    assert drop_in.exists()
    assert 'store_id = "S777"' in config.read_text() and _mode(config) == 0o640
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT value FROM sync_state WHERE key='marker'").fetchone() == ("kept",)

    _planted_links_are_never_followed(root, tmp_path)

    # Uninstall keeps config, data and the edited udev rule.
    r = _install("--root", str(root), "--uninstall")
    assert r.returncode == 0, r.stderr
    assert not (root / "opt/store-agent").exists() and not (units / "store-agent.service").exists()
    assert not on_path.is_symlink()
    assert config.exists() and db.exists() and "store-scanner-9" in rules.read_text()
    # Purge asks first when it would delete unsent events or backups; without a terminal
    # (no one to ask) it refuses unless --yes.
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO outbox (event_id, order_id, type, occurred_at, associate_id,"
                     " device_id, data, status, based_on_version) VALUES ('e1', 'W1', 'order.staged',"
                     " '2026-01-01T00:00:00Z', 'A1', 'd', '{}', 'pending', 1)")
    (data / "backups" / "agent-20260101.db").write_text("")
    r = _install("--root", str(root), "--purge")
    assert r.returncode != 0 and "1 unsent or unresolved events and 1 backups" in r.stderr, r.stderr
    assert "--yes" in r.stderr and config.exists() and db.exists()
    r = _install("--root", str(root), "--purge", "--yes")
    assert r.returncode == 0, r.stderr
    assert not config.exists() and not data.exists() and not rules.exists()


def _planted_links_are_never_followed(root: Path, tmp: Path) -> None:
    """The service user owns the data directory: whatever it put there, root follows no link."""
    data = root / "var/lib/store-agent"
    db = data / "agent.db"
    # A database of root's elsewhere, linked in as agent.db: an upgrade must not migrate it.
    victim_db = tmp / "root-owned.db"
    with sqlite3.connect(victim_db) as conn:
        conn.execute("CREATE TABLE mine (x)")
    db.rename(tmp / "agent.db.aside")
    db.symlink_to(victim_db)
    r = _install("--root", str(root))
    assert r.returncode != 0 and f"{db} is a symbolic link" in r.stderr, r.stdout + r.stderr
    with sqlite3.connect(victim_db) as conn:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master")]
    assert tables == ["mine"], "the linked database was opened and migrated"
    db.unlink()
    (tmp / "agent.db.aside").rename(db)

    if os.geteuid() != 0:
        return  # handing the data directory over to the service user needs root
    victim = tmp / "root-only.txt"
    victim.write_text("secret")
    victim.chmod(0o600)
    (data / "backups" / "planted").symlink_to(victim)
    (data / "agent.db.planted").symlink_to(victim)
    (data / "backups" / "hard").hardlink_to(victim)
    own = data / "backups" / "own.db"
    own.write_text("")
    r = _install("--root", str(root), env={**os.environ, "STORE_AGENT_SERVICE_USER": "nobody"})
    assert r.returncode == 0, r.stdout + r.stderr
    assert (victim.stat().st_uid, _mode(victim)) == (0, 0o600), "a planted link was followed"
    assert own.stat().st_uid == pwd.getpwnam("nobody").pw_uid and data.stat().st_uid != 0
    config = root / "etc/store-agent/config.toml"
    assert config.stat().st_uid == 0 and config.parent.stat().st_uid == 0
    for planted in ("backups/planted", "agent.db.planted", "backups/hard", "backups/own.db"):
        (data / planted).unlink()
    for path in [data, *data.rglob("*")]:
        os.chown(path, 0, 0, follow_symlinks=False)


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
