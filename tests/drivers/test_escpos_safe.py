from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Runs in a fresh interpreter: python-escpos's side effects happen once per
# process, at first import, and this test process may have imported it already.
PROBE = """
import json, logging, os, sys
root = logging.getLogger()
before = (list(root.handlers), root.level)
import drivers.escpos_safe as safe
dummy = safe.new_dummy("default")
dummy.textln("x")
print(json.dumps({
    "handlers": len(root.handlers) - len(before[0]),
    "level_kept": root.level == before[1],
    "env_kept": "ESCPOS_CAPABILITIES_PICKLE_DIR" not in os.environ,
    "rendered": dummy.output.endswith(b"x\\n"),
}))
"""


def _run(tmp_path: Path, code: str, **env: str) -> subprocess.CompletedProcess[str]:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={
            **{k: v for k, v in os.environ.items() if k != "ESCPOS_CAPABILITIES_PICKLE_DIR"},
            "TMPDIR": str(tmp),
            "PYTHONPATH": str(REPO),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_import_has_no_side_effects(tmp_path: Path) -> None:
    proc = _run(tmp_path, PROBE)
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, f"something else was written to stdout: {proc.stdout!r}"
    report = json.loads(lines[0])
    assert report == {"handlers": 0, "level_kept": True, "env_kept": True, "rendered": True}
    assert proc.stderr == ""
    assert list((tmp_path / "tmp").iterdir()) == [], "a temp dir was left behind"


def test_bare_import_would_have_side_effects(tmp_path: Path) -> None:
    # Guards the guard: if python-escpos stops doing this, escpos_safe can go.
    code = "import logging; import escpos.printer; print(len(logging.getLogger().handlers))"
    proc = _run(tmp_path, code)
    assert proc.stdout.strip() == "1"
    assert len(list((tmp_path / "tmp").iterdir())) == 1


def test_explicit_pickle_dir_is_respected(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    _run(tmp_path, "import drivers.escpos_safe", ESCPOS_CAPABILITIES_PICKLE_DIR=str(cache))
    assert any(cache.iterdir()), "the operator's cache dir is theirs to keep"
