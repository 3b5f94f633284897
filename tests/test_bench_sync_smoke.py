"""Smoke test of tests/benchmarks/bench_sync.py: it runs end to end and prints its figures.

Timings are never asserted (that is the benchmark's job, on an idle machine): exit 0
(all targets met) and 1 (some missed) both pass; 2 (could not run) or a crash fail.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_bench_sync_quick_runs_and_prints_every_figure(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.bench_sync", "--quick", "--events", "120", "--sample", "20",
         "--cancels", "5", "--agents", "1000", "--dir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    out = proc.stdout
    assert proc.returncode in (0, 1), f"exit {proc.returncode}\n{out}\n{proc.stderr[-3000:]}"
    for figure in ("events/s (target >= 10000", "ratio batched / one per request:",
                   "OMS cancel -> CANCELLED+task n=5", "stage -> acked_at            n=5",
                   "largest share in any 100 ms", "VmRSS", "targets:"):
        assert figure in out, f"{figure!r} missing from the output:\n{out}"
    assert ("MISSED" in out) == (proc.returncode == 1)
    assert list(tmp_path.iterdir()) == [], "the scratch directory was not removed"
