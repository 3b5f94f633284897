"""Benchmark: shelf -> OMS. From an associate's short pick or return to the reference OMS
applying the availability change, with the real daemon running.

Not a test (timings are not assertions in CI). Run from the repository root:

    .venv/bin/python -m tests.benchmarks.bench_shelf               # 1,000 actions
    .venv/bin/python -m tests.benchmarks.bench_shelf --actions 100 # a smoke run

The reference OMS runs as its own process (``store-agent oms-sim``), the daemon as
another (``store-agent run``), both on 127.0.0.1. The store learns the orders through
the daemon's feed; half the orders are staged and cancelled beforehand (their events
drained) so each has an open return task. Then ``--actions`` actions alternate: a short
pick of one unit (``Actions.short``, ``order.line_short``) and a return to shelf
(``Actions.return_to_shelf``, ``order.returned_to_shelf``), each at a random 0-50 ms
gap, as associates on several handhelds would. Each action's clock starts right
before the call (the scan that triggers it) and stops at the OMS's own record of the
availability change for that event (``/admin/stores/{id}/stock-log``, wall clock of
the same machine): durable commit, the daemon noticing, the POST, the OMS applying.

Target (issue 14): p95 <= 1 s online. Exit code 0 when met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(REPO))

from agent.orders.actions import Actions  # noqa: E402
from agent.store.connection import Store  # noqa: E402
from config import load_settings  # noqa: E402
from tests.benchmarks.bench_sync import (  # noqa: E402
    STORE_ID,
    BenchError,
    Oms,
    child_env,
    percentile,
    ro_connect,
    spawn,
    stop,
    tail,
    wait_until,
    write_bench_config,
)

TARGET_P95_S = 1.0
ASSOCIATE = "A100"
UNITS_PER_LINE = 10


def _order(order_id: str, sku: str, quantity: int) -> dict:
    return {
        "order_id": order_id, "version": 1, "status": "released", "fulfillment": "pickup",
        "customer": {"name": "Bench Customer", "phone_last4": None}, "pickup_code": "BENCH1",
        "lines": [{"line_id": "L1", "sku": sku, "gtin": None, "description": f"Item {sku}",
                   "quantity": quantity, "location": "A1-1"}],
        "updated_at": "2026-11-23T10:00:00Z",
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--actions", type=int, default=1000, help="short picks + returns (default 1000)")
    ap.add_argument("--dir", type=Path, default=None, help="scratch directory (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = ap.parse_args(argv)
    shorts = (args.actions + 1) // 2
    returns = args.actions // 2
    short_orders = max(1, -(-shorts // UNITS_PER_LINE))
    scratch = Path(tempfile.mkdtemp(prefix="bench-shelf-", dir=args.dir))
    oms = daemon = None
    rng = random.Random(14)
    print(f"shelf -> OMS: {shorts} short picks on {short_orders} orders, {returns} returns;"
          f" load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    try:
        oms = Oms(scratch, orders=0)
        short_ids = [f"W{2000000 + i}" for i in range(short_orders)]
        return_ids = [f"W{3000000 + i}" for i in range(returns)]
        given = ([_order(o, f"SKU-S{i % 50}", UNITS_PER_LINE) for i, o in enumerate(short_ids)]
                 + [_order(o, f"SKU-R{i % 50}", 1) for i, o in enumerate(return_ids)])
        for start in range(0, len(given), 500):
            oms.admin("POST", f"/admin/stores/{STORE_ID}/orders", json={"orders": given[start:start + 500]})
        config = write_bench_config(scratch, oms.url)
        settings = load_settings(config, environ={})
        daemon_log = scratch / "daemon.log"
        daemon = spawn(["run"], daemon_log, child_env(config, STORE_AGENT_LOG_LEVEL="INFO"))
        db = scratch / "agent.db"

        def alive() -> None:
            if daemon is not None and daemon.poll() is not None:
                raise BenchError(f"the daemon exited {daemon.returncode}:\n{tail(daemon_log)}")

        def known() -> bool:
            alive()
            if not db.exists():
                return False
            ro = ro_connect(db)
            try:
                return ro.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == len(given)
            except Exception:
                return False
            finally:
                ro.close()

        wait_until(known, "the daemon to learn every order from the feed", timeout=120)
        store = Store(settings.storage.path)
        actions = Actions(store, settings)
        for order_id in return_ids:  # each gets an open return task
            actions.stage(order_id, bin="B-01", associate_id=ASSOCIATE)
            actions.cancel(order_id, reason="customer_refused", associate_id=ASSOCIATE)

        def drained() -> bool:
            alive()
            return store.conn.execute("SELECT COUNT(*) FROM outbox WHERE status != 'acked'"
                                      ).fetchone()[0] == 0

        wait_until(drained, "the daemon to drain the set-up events", timeout=120)
        log_before = len(oms.admin("GET", f"/admin/stores/{STORE_ID}/stock-log")["stock-log"])
        started: dict[str, tuple[str, float]] = {}
        plan = ["short"] * shorts + ["return"] * returns
        rng.shuffle(plan)
        short_iter = (short_ids[i % short_orders] for i in range(shorts))
        return_iter = iter(return_ids)
        t_all = time.perf_counter()
        for kind in plan:
            time.sleep(rng.uniform(0, 0.05))
            t0 = time.time()
            if kind == "short":
                result = actions.short(next(short_iter), lines={"L1": 1}, reason="not_found",
                                       associate_id=ASSOCIATE)
            else:
                result = actions.return_to_shelf(next(return_iter), associate_id=ASSOCIATE)
            started[result.event.event_id] = (kind, t0)
        issue_s = time.perf_counter() - t_all
        wait_until(drained, "the daemon to deliver every action", timeout=120)
        log = oms.admin("GET", f"/admin/stores/{STORE_ID}/stock-log")["stock-log"][log_before:]
        applied: dict[str, float] = {}
        for entry in log:
            applied.setdefault(entry["event_id"], entry["at"])
        missing = set(started) - set(applied)
        if missing:
            raise BenchError(f"{len(missing)} actions never changed the OMS's availability")
        by_kind: dict[str, list[float]] = {"short": [], "return": []}
        for event_id, (kind, t0) in started.items():
            by_kind[kind].append(applied[event_id] - t0)
        every = sorted(x for xs in by_kind.values() for x in xs)
        store.close()
        print(f"{len(every)} actions issued over {issue_s:.1f} s"
              f" ({len(every) / issue_s:.0f} actions/s)")
        for name, xs in (("short pick", by_kind["short"]), ("return", by_kind["return"]),
                         ("all", every)):
            if not xs:
                continue
            xs = sorted(xs)
            print(f"  {name:<10} n={len(xs):>4}  p50 {statistics.median(xs) * 1000:7.1f} ms"
                  f"  p95 {percentile(xs, 95) * 1000:7.1f} ms  max {xs[-1] * 1000:7.1f} ms")
        p95 = percentile(every, 95)
        ok = p95 <= TARGET_P95_S
        print(f"shelf -> OMS p95 {p95 * 1000:.0f} ms (target <= {TARGET_P95_S * 1000:.0f} ms):"
              f" {'met' if ok else 'MISSED'}; load average after {os.getloadavg()[0]:.2f}")
        return 0 if ok else 1
    finally:
        stop(daemon)
        if oms is not None:
            oms.close()
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
        else:
            print(f"kept {scratch}")


if __name__ == "__main__":
    sys.exit(main())
