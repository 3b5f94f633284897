"""Device-path latency benchmark (not a test): serial line -> classified scan, and receipt render.

Run from the repository root:

    .venv/bin/python tests/benchmarks/bench_devices.py [--scans 2000] [--renders 500]

Targets: scan p95 <= 5 ms, render p95 <= 20 ms. Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from drivers.emulators import PtyScanner
from drivers.receipts import PickupReceipt, ReceiptItem, render_pickup_receipt
from drivers.scan_parse import classify
from drivers.scanner_serial import SerialScanner

SCAN_TARGET_MS = 5.0
RENDER_TARGET_MS = 20.0
CODES = [
    "W1000234",
    "B-07",
    "A1042",
    "K7Q9MX",
    "5901234123457",
    "]C10109506000134352\x1d10ABC123\x1d17261231",
    "PICKUP:W1000234:K7Q9MX",
    "https://id.example.com/01/09506000134352/10/ABC?17=261231",
]


def percentiles(samples_s: list[float]) -> tuple[float, float]:
    ms = sorted(s * 1000 for s in samples_s)
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return q[49], q[94]


def bench_scans(n: int) -> list[float]:
    latencies: list[float] = []
    arrived = threading.Event()
    sent_at = 0.0

    def on_frame(frame: str) -> None:
        classify(frame)
        latencies.append(time.perf_counter() - sent_at)
        arrived.set()

    with tempfile.TemporaryDirectory() as tmp, PtyScanner(Path(tmp)) as emu:
        scanner = SerialScanner(str(emu.link), on_frame, read_timeout_s=0.05)
        scanner.start()
        deadline = time.monotonic() + 5
        while not scanner.status.connected and time.monotonic() < deadline:
            time.sleep(0.01)
        try:
            for i in range(n):
                arrived.clear()
                sent_at = time.perf_counter()
                emu.scan(CODES[i % len(CODES)], b"\r\n")
                if not arrived.wait(2):
                    raise SystemExit(f"scan {i} never arrived; scanner status: {scanner.status}")
        finally:
            scanner.stop()
    return latencies


def bench_renders(n: int) -> list[float]:
    receipt = PickupReceipt(
        store_id="S042",
        order_id="W1000234",
        associate="Jane D. (A1042)",
        handed_over_at=datetime(2025, 3, 14, 15, 9, tzinfo=UTC),
        items=tuple(ReceiptItem(f"Item number {i} with a longish name", i + 1) for i in range(8)),
    )
    render_pickup_receipt(receipt)  # warm caches (profile class, code pages)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        render_pickup_receipt(receipt)
        times.append(time.perf_counter() - t0)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=2000)
    parser.add_argument("--renders", type=int, default=500)
    args = parser.parse_args()

    ok = True
    for name, samples, target in (
        ("scan (pty line -> Scan)", bench_scans(args.scans), SCAN_TARGET_MS),
        ("render (pickup receipt)", bench_renders(args.renders), RENDER_TARGET_MS),
    ):
        p50, p95 = percentiles(samples)
        verdict = "ok" if p95 <= target else "MISSED"
        ok = ok and p95 <= target
        print(
            f"{name:<26} n={len(samples):<5} p50={p50:6.3f} ms  p95={p95:6.3f} ms"
            f"  target p95<={target:g} ms  {verdict}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
