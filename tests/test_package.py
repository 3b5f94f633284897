"""The .deb store IT pushes to stores: built by ./install.sh --package, installed by the real
dpkg into a throwaway root (its maintainer scripts run with DPKG_ROOT, touching nothing of
this machine), upgraded over an edited conffile, and its store-agent reports its version."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = [
    pytest.mark.slow,
    # Building the bundled environment and two dpkg runs take minutes on a busy 2-core machine.
    pytest.mark.timeout(1500),
    pytest.mark.skipif(shutil.which("dpkg") is None or shutil.which("dpkg-deb") is None,
                       reason="needs dpkg (a Debian machine) to install the package"),
]

VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


def _run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=900, **kwargs)


@pytest.fixture(scope="module")
def deb() -> Path:
    r = _run("bash", str(REPO / "install.sh"), "--package", cwd=REPO)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    arch = _run("dpkg", "--print-architecture").stdout.strip()
    path = REPO / "dist" / f"store-agent_{VERSION}_{arch}.deb"
    assert path.exists(), f"install.sh --package did not write {path}"
    return path


def _dpkg(root: Path, *args: str) -> subprocess.CompletedProcess:
    # --force-depends: the throwaway root has no python3 package; the host's runs the venv.
    return _run("dpkg", f"--root={root}", "--force-script-chrootless", "--force-depends",
                "--force-not-root", "--force-confold", *args)


def _empty_root(root: Path) -> Path:
    (root / "var/lib/dpkg/updates").mkdir(parents=True)
    (root / "var/lib/dpkg/info").mkdir(parents=True)
    (root / "var/lib/dpkg/status").touch()
    return root


def _agent(root: Path, *args: str, config: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORE_AGENT_")}
    if config is not None:
        env["STORE_AGENT_CONFIG"] = str(config)
        env["STORE_AGENT_STORAGE__PATH"] = str(root / "var/lib/store-agent/agent.db")
    # The venv's python is a link to Debian's python3, so it runs from any prefix.
    opt = root / "opt/store-agent"
    return _run(str(opt / "bin/python"), str(opt / "bin/store-agent"), *args, env=env)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _repack(deb: Path, tmp: Path, version: str) -> Path:
    tree = tmp / f"tree-{version}"
    assert _run("dpkg-deb", "-R", str(deb), str(tree)).returncode == 0
    control = tree / "DEBIAN/control"
    control.write_text(control.read_text().replace(f"Version: {VERSION}", f"Version: {version}"))
    out = tmp / f"store-agent_{version}.deb"
    r = _run("dpkg-deb", "-Zgzip", "-b", str(tree), str(out))
    assert r.returncode == 0, r.stderr
    return out


def test_package_installs_upgrades_and_keeps_edited_conffiles(deb, tmp_path):
    info = _run("dpkg-deb", "-f", str(deb), "Package", "Version", "Depends").stdout
    assert "Package: store-agent" in info and f"Version: {VERSION}" in info
    assert "python3 (>= 3.11)" in info
    conffiles = _run("dpkg-deb", "--ctrl-tarfile", str(deb)).stdout  # tar of control files
    assert conffiles  # the control archive exists
    listed = _run("sh", "-c", f"dpkg-deb --ctrl-tarfile {deb} | tar -xO ./conffiles").stdout.split()
    assert listed == ["/etc/store-agent/config.toml", "/etc/udev/rules.d/99-store-agent.rules"]

    root = _empty_root(tmp_path / "root")
    r = _dpkg(root, "-i", str(deb))
    assert r.returncode == 0, r.stdout + r.stderr

    opt = root / "opt/store-agent"
    config = root / "etc/store-agent/config.toml"
    units = root / "lib/systemd/system"
    # Files and modes: the token's file and folder belong to root, readable by the service's group.
    assert (opt / "bin/store-agent").exists() and os.access(opt / "bin/store-agent", os.X_OK)
    assert os.readlink(root / "usr/bin/store-agent") == "/opt/store-agent/bin/store-agent"
    assert _mode(config) == 0o640 and _mode(config.parent) == 0o750
    assert _mode(root / "var/lib/store-agent") == 0o750
    assert _mode(root / "etc/store-agent/config.d") == 0o750  # for drop-ins
    assert (root / "var/lib/store-agent/backups").is_dir()
    assert (root / "usr/share/doc/store-agent/install.md").exists()
    assert (root / "usr/share/doc/store-agent/grafana/fleet.json").exists()
    assert (root / "usr/share/doc/store-agent/prometheus/store-agent-rules.yml").exists()
    # The bundled environment names its final path, never the build folder.
    shebang = (opt / "bin/store-agent").read_text().splitlines()[0]
    assert shebang == "#!/opt/store-agent/bin/python"
    leaked = _run("grep", "-rlI", "build/package", str(opt / "bin"), str(opt / "pyvenv.cfg"), str(units))
    assert leaked.stdout == "", leaked.stdout

    # Units: in the vendor folder, hardened, and valid for systemd.
    service = (units / "store-agent.service").read_text()
    for line in ("ExecStart=/opt/store-agent/bin/store-agent run", "User=store-agent",
                 "NoNewPrivileges=yes", "ProtectSystem=strict"):
        assert line in service
    assert "serve-ui" in (units / "store-agent-ui.service").read_text()
    if shutil.which("systemd-analyze") is not None:
        for unit in ("store-agent.service", "store-agent-ui.service"):
            copy = tmp_path / unit
            copy.write_text((units / unit).read_text().replace("/opt/store-agent", str(opt)))
            v = _run("systemd-analyze", "verify", str(copy))
            problems = [ln for ln in v.stderr.splitlines() if str(copy) in ln or "Unknown" in ln]
            assert v.returncode == 0 and not problems, v.stderr

    # The installed program is the packaged version.
    v = _agent(root, "--version")
    assert v.returncode == 0 and v.stdout.strip() == f"store-agent {VERSION}", v.stdout + v.stderr

    # Store IT edits the config and the udev rule; the store accumulates data.
    edited = config.read_text().replace('store_id = "S042"', 'store_id = "S777"')
    assert edited != config.read_text()
    config.write_text(edited)
    rules = root / "etc/udev/rules.d/99-store-agent.rules"
    rules.write_text(rules.read_text() + 'SUBSYSTEM=="tty", SYMLINK+="store-scanner-9"\n')
    s = _agent(root, "status", config=config)
    assert s.returncode == 0, s.stderr
    with sqlite3.connect(root / "var/lib/store-agent/agent.db") as conn:
        conn.execute("INSERT INTO sync_state VALUES ('marker', 'kept')")

    # Upgrade to a newer package: edited conffiles kept, a backup taken first, data migrated.
    newer = _repack(deb, tmp_path, f"{VERSION}+1")
    r = _dpkg(root, "-i", str(newer))
    assert r.returncode == 0, r.stdout + r.stderr
    assert config.read_text() == edited and _mode(config) == 0o640
    assert "store-scanner-9" in rules.read_text()
    assert not list(root.rglob("*.dpkg-new")) and not list(root.rglob("*.dpkg-dist"))
    backup = root / f"var/lib/store-agent/backups/before-upgrade-from-{VERSION}.db"
    assert backup.exists(), r.stdout
    with sqlite3.connect(backup) as conn:
        assert conn.execute("SELECT value FROM sync_state WHERE key='marker'").fetchone() == ("kept",)
    status = _run("dpkg-query", f"--root={root}", "-W", "-f=${Version} ${Status}", "store-agent")
    assert status.stdout == f"{VERSION}+1 install ok installed"

    # Remove keeps config and data; purge removes the config, keeps the data (it may hold
    # unsent events).
    r = _dpkg(root, "--remove", "store-agent")
    assert r.returncode == 0, r.stdout + r.stderr
    assert not opt.exists() or not any(opt.rglob("*.py"))
    assert config.exists() and rules.exists()
    r = _dpkg(root, "--purge", "store-agent")
    assert r.returncode == 0, r.stdout + r.stderr
    assert not config.exists()
    assert (root / "var/lib/store-agent/agent.db").exists()
