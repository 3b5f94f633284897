"""Benchmark: durable associate actions against the raw durable-commit floor of the same disk.

Not a test (timings are not assertions in CI). Run from the repository root:

    .venv/bin/python -m tests.benchmarks.bench_actions            # 5,000 actions, 3 rounds
    .venv/bin/python -m tests.benchmarks.bench_actions --n 2000 --rounds 5 --dir /var/lib/store-agent

What it measures, per round, on fresh database files in one directory:

- action: ``Actions.stage`` on real orders (seeded through ``ingest_snapshots``),
  re-staging each order alternately into bins B1 and B2, so that every call is a
  real state change plus its outbox event, committed with WAL + synchronous=FULL.
- floor: a separate database in the same directory with the same pragmas; per
  iteration ``BEGIN IMMEDIATE; INSERT one row; COMMIT``. That is the cheapest
  durable transaction SQLite can do on this disk: what no action can beat.

Rounds alternate which of the two runs first, so disk drift hits both; on a
machine shared with other jobs, ``--interleave BLOCK`` alternates them in blocks
within each round instead. After each round, untimed, 100 more stages count the
WAL pages one action writes. Every figure printed is a median (latency
percentiles within a round, then the median over rounds), never a mean. Targets
(issue 2): action throughput >= 0.8 x the floor, action p99 <= 2 ms.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from agent.orders.actions import Actions
from agent.orders.ingest import ingest_snapshots
from agent.store.connection import BUSY_TIMEOUT_MS, JOURNAL_SIZE_LIMIT, Store
from config import load_settings
from tests.factories import snapshot, write_config

TARGET_RATIO = 0.8
TARGET_P99_MS = 2.0
WAL_SAMPLE = 100  # untimed extra stages after a round, to count WAL pages per action


def percentile(sorted_ns: list[int], p: float) -> float:
    """Nearest-rank percentile of sorted nanosecond samples, in milliseconds."""
    k = max(0, min(len(sorted_ns) - 1, round(p / 100 * len(sorted_ns) + 0.5) - 1))
    return sorted_ns[k] / 1e6


def summarise(lat_ns: list[int], wall_s: float) -> dict[str, float]:
    s = sorted(lat_ns)
    return {"per_s": len(s) / wall_s, "p50": percentile(s, 50), "p99": percentile(s, 99),
            "max": s[-1] / 1e6}


def open_floor(workdir: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(workdir / "floor.db", isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}")
    sync = conn.execute("PRAGMA synchronous").fetchone()[0]
    if mode != "wal" or sync != 2:
        conn.close()
        raise SystemExit(f"floor database refused WAL/FULL (journal_mode={mode}, synchronous={sync})")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    return conn


def run_floor(workdir: Path, n: int) -> dict[str, float]:
    conn = open_floor(workdir)
    try:
        payloads = [str(uuid.uuid4()) for _ in range(n)]
        lat = [0] * n
        clock = time.perf_counter_ns
        begin = clock()
        for i in range(n):
            t0 = clock()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t (v) VALUES (?)", (payloads[i],))
            conn.execute("COMMIT")
            lat[i] = clock() - t0
        wall = (clock() - begin) / 1e9
        assert conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] == n
    finally:
        conn.close()
    return summarise(lat, wall)


def seed_actions(workdir: Path, n_orders: int) -> tuple[Store, Actions]:
    config_path = write_config(workdir)
    settings = load_settings(config_path, environ={})
    store = Store(settings.storage.path)
    ingest_snapshots(store, [snapshot(f"W{i:05d}", lines=1 + i % 3) for i in range(n_orders)],
                     status_map=settings.status_map, source="seed")
    return store, Actions(store, settings)


def stage_plan(n: int, n_orders: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(order, bin) for the n timed actions, then for the WAL sample that follows them.

    Action i stages order i % n_orders; each pass over the orders flips B1 <-> B2.
    """
    plan = [(f"W{i % n_orders:05d}", "B1" if (i // n_orders) % 2 == 0 else "B2")
            for i in range(n + WAL_SAMPLE)]
    return plan[:n], plan[n:]


def wal_pages_per_action(store: Store, actions: Actions, plan: list[tuple[str, str]]) -> float:
    """WAL frames (pages) one stage appends, each written and fsynced at its COMMIT. Not timed."""
    conn = store.conn
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for order_id, bin_ in plan:
        actions.stage(order_id, bin=bin_, associate_id="A100")
    return conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1] / len(plan)


def run_actions(workdir: Path, n: int, n_orders: int) -> dict[str, float]:
    store, actions = seed_actions(workdir, n_orders)
    try:
        plan, sample = stage_plan(n, n_orders)
        lat = [0] * n
        clock = time.perf_counter_ns
        begin = clock()
        for i, (order_id, bin_) in enumerate(plan):
            t0 = clock()
            actions.stage(order_id, bin=bin_, associate_id="A100")
            lat[i] = clock() - t0
        wall = (clock() - begin) / 1e9
        conn = store.conn
        assert conn.execute("SELECT COUNT(*), MAX(seq) FROM outbox").fetchone()[:] == (n, n)
        assert store.integrity_check() == "ok"
        return {**summarise(lat, wall), "wal_pages": wal_pages_per_action(store, actions, sample)}
    finally:
        store.close()


def run_interleaved(rdir: Path, n: int, n_orders: int, block: int) -> tuple[dict, dict]:
    """Floor commits and actions in alternating blocks, so both see the same moments of a
    shared disk and CPU. Each op is timed exactly as in run_floor and run_actions; a
    kind's throughput is its ops over the wall time of its own blocks."""
    conn = open_floor(rdir / "floor")
    store, actions = seed_actions(rdir / "actions", n_orders)
    try:
        plan, sample = stage_plan(n, n_orders)
        payloads = [str(uuid.uuid4()) for _ in range(n)]
        f_lat, a_lat, f_wall, a_wall = [0] * n, [0] * n, 0, 0
        clock = time.perf_counter_ns
        for b, start in enumerate(range(0, n, block)):
            stop = min(n, start + block)
            for kind in (("floor", "action") if b % 2 == 0 else ("action", "floor")):
                begin = clock()
                if kind == "floor":
                    for i in range(start, stop):
                        t0 = clock()
                        conn.execute("BEGIN IMMEDIATE")
                        conn.execute("INSERT INTO t (v) VALUES (?)", (payloads[i],))
                        conn.execute("COMMIT")
                        f_lat[i] = clock() - t0
                    f_wall += clock() - begin
                else:
                    for i in range(start, stop):
                        t0 = clock()
                        actions.stage(plan[i][0], bin=plan[i][1], associate_id="A100")
                        a_lat[i] = clock() - t0
                    a_wall += clock() - begin
        assert conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] == n
        assert store.conn.execute("SELECT COUNT(*), MAX(seq) FROM outbox").fetchone()[:] == (n, n)
        assert store.integrity_check() == "ok"
        pages = wal_pages_per_action(store, actions, sample)
        return summarise(f_lat, f_wall / 1e9), {**summarise(a_lat, a_wall / 1e9), "wal_pages": pages}
    finally:
        conn.close()
        store.close()


def fsync_probe(workdir: Path, n: int = 500) -> float:
    """p50 of a bare 4 KiB write + fsync in the same directory: what the disk itself costs."""
    path = workdir / "fsync.probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        block, lat = b"x" * 4096, []
        for _ in range(n):
            t0 = time.perf_counter_ns()
            os.write(fd, block)
            os.fsync(fd)
            lat.append(time.perf_counter_ns() - t0)
    finally:
        os.close(fd)
        path.unlink()
    return percentile(sorted(lat), 50)


def fmt(name: str, r: dict[str, float]) -> str:
    pages = f"   {r['wal_pages']:.1f} WAL pages/action" if "wal_pages" in r else ""
    return (f"{name:<8} {r['per_s']:>9.0f} /s   p50 {r['p50']:6.3f} ms   p99 {r['p99']:6.3f} ms"
            f"   max {r['max']:7.3f} ms{pages}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=5000, help="actions (and floor commits) per round")
    ap.add_argument("--rounds", type=int, default=3, help="rounds; medians over rounds are reported")
    ap.add_argument("--orders", type=int, default=500, help="orders seeded (each re-staged n/orders times)")
    ap.add_argument("--dir", type=Path, default=None,
                    help="where the scratch directory goes (default: the current directory; it must be"
                    " on the disk you want to measure); it is removed afterwards")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    ap.add_argument("--interleave", type=int, default=0, metavar="BLOCK",
                    help="alternate floor and actions in blocks of BLOCK ops within each round instead of"
                    " running them one after the other (for a machine shared with other jobs)")
    args = ap.parse_args(argv)
    if args.n < 100 or args.rounds < 1 or args.orders < 1 or args.interleave < 0:
        ap.error("--n must be >= 100, --rounds and --orders >= 1, --interleave >= 0")

    parent = (args.dir or Path.cwd()).resolve()
    parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".bench-tmp-", dir=parent))
    print(f"scratch dir {scratch} (fs device {os.stat(scratch).st_dev:#x}); sqlite {sqlite3.sqlite_version};"
          f" python {sys.version.split()[0]}; {os.cpu_count()} cpu(s)")
    print(f"{args.rounds} round(s) of {args.n} stage actions on {args.orders} orders vs {args.n}"
          f" one-row commits; WAL + synchronous=FULL"
          + (f"; interleaved in blocks of {args.interleave}" if args.interleave else ""))
    floors, acts = [], []
    try:
        print(f"disk: 4 KiB write+fsync p50 {fsync_probe(scratch):.3f} ms")
        for r in range(args.rounds):
            rdir = scratch / f"round{r}"
            (rdir / "floor").mkdir(parents=True)
            (rdir / "actions").mkdir()
            order = ("floor", "actions") if r % 2 == 0 else ("actions", "floor")
            res = {}
            if args.interleave:
                res["floor"], res["actions"] = run_interleaved(rdir, args.n, args.orders, args.interleave)
            else:
                for kind in order:
                    res[kind] = (run_floor(rdir / "floor", args.n) if kind == "floor"
                                 else run_actions(rdir / "actions", args.n, args.orders))
            floors.append(res["floor"])
            acts.append(res["actions"])
            print(f"round {r + 1}: {fmt('floor', res['floor'])}")
            print(f"         {fmt('action', res['actions'])}"
                  f"   ratio {res['actions']['per_s'] / res['floor']['per_s']:.2f}")
            shutil.rmtree(rdir)
    finally:
        if args.keep:
            print(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    def med(rows, key):
        return statistics.median(row[key] for row in rows)

    floor = {k: med(floors, k) for k in ("per_s", "p50", "p99", "max")}
    act = {k: med(acts, k) for k in ("per_s", "p50", "p99", "max", "wal_pages")}
    ratio = act["per_s"] / floor["per_s"]
    print("\nmedians over rounds")
    print(fmt("floor", floor))
    print(fmt("action", act))
    ok_ratio, ok_p99 = ratio >= TARGET_RATIO, act["p99"] <= TARGET_P99_MS
    print(f"ratio action/floor throughput: {ratio:.2f}  (target >= {TARGET_RATIO}: "
          f"{'met' if ok_ratio else 'MISSED'})")
    print(f"action p99: {act['p99']:.3f} ms  (target <= {TARGET_P99_MS} ms: "
          f"{'met' if ok_p99 else 'MISSED'})")
    return 0 if ok_ratio and ok_p99 else 1


if __name__ == "__main__":
    sys.exit(main())
