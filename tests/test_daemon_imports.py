"""What the daemon's process loads: names of modules, not sizes, so the check is deterministic.

`store-agent run` starts through the CLI's entry point, so the process imports
``ui.cli.main`` (every command's module) as well as ``agent.daemon``. Textual
(the associate UI) and python-escpos (receipt rendering, loaded on the first
print job) are each several megabytes of resident memory the daemon does not
need (docs/benchmarks.md, "Memory").
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NOT_IN_THE_DAEMON = ("textual", "textual_serve", "escpos", "biip")  # biip: GS1 tables, scans only


@pytest.mark.parametrize("entry", ["agent.daemon", "ui.cli.main"])
def test_the_daemon_process_loads_no_ui_or_receipt_rendering(entry):
    code = (
        f"import sys, {entry}\n"
        f"bad = sorted(n for n in sys.modules if n.split('.')[0] in {NOT_IN_THE_DAEMON!r})\n"
        "print(','.join(bad))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "", f"{entry} pulled in: {proc.stdout}"
