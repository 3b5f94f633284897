"""Benchmark: sync with the OMS. Drain throughput, cancel and ack latency, fleet reconnect, daemon RSS.

Not a test (timings are not assertions in CI). Run from the repository root:

    .venv/bin/python -m tests.benchmarks.bench_sync                 # 10,000 events, 200 cancels
    .venv/bin/python -m tests.benchmarks.bench_sync --quick         # small sizes, a smoke run
    .venv/bin/python -m tests.benchmarks.bench_sync --events 5000 --dir /var/lib/store-agent

One run, everything against the reference OMS started as a separate process
(``store-agent oms-sim`` on 127.0.0.1), so it does not share the agent's CPU or GIL:

1. drain: the store learns ``events + sample`` orders through the feed; ``sample``
   stage actions (``Actions.stage``) are drained one event per request, then
   ``events`` stage actions in batches of ``sync.batch_size`` (500), both by an
   in-process ``OutboxSender``. Events/s of each and their ratio.
2. latency, with the real daemon (``store-agent run``) running: OMS cancel (admin
   call) -> store CANCELLED with an OPEN return task, and ``Actions.stage`` ->
   ``outbox.acked_at`` set, both seen by polling the database every 5 ms.
3. fleet: 10,000 agents retrying through a 30 s outage with ``sync.client.backoff_delay``
   exactly as the sender calls it; the largest share reconnecting in any 100 ms.
4. daemon: the daemon drains ``events`` more pending stage events; its VmRSS after.

Targets (issue 3): drain >= 10,000 events/s and >= 20x one-per-request; cancel and
ack p95 <= 1 s; fleet <= 3 % in any 100 ms; daemon RSS <= 80 MB. Exit code 0 when all
are met, 1 otherwise (the missed ones are named). When the drain target is missed
(or with --profile), a further drain runs under cProfile and the time is attributed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import os
import pstats
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from agent.oms import make_client  # noqa: E402
from agent.orders.actions import Actions  # noqa: E402
from agent.store.connection import Store  # noqa: E402
from agent.workers.feed import FeedPuller  # noqa: E402
from agent.workers.sender import OutboxSender  # noqa: E402
from config import load_settings  # noqa: E402
from config.settings import Settings  # noqa: E402
from sync.retry import backoff_delay  # noqa: E402
from tests.factories import BASE_CONFIG, free_port  # noqa: E402

TARGET_DRAIN_PER_S = 10_000
TARGET_RATIO = 20.0
TARGET_CANCEL_P95_S = 1.0
TARGET_ACK_P95_S = 1.0
TARGET_FLEET_SHARE = 0.03
TARGET_RSS_MB = 80.0

STORE_ID = "S042"
TOKEN = "bench-token-not-secret"
ASSOCIATE = "A100"
POLL_S = 0.005
LATENCY_TIMEOUT_S = 10.0
OUTAGE_S = 30.0
WINDOW_S = 0.1
FLEET_SEEDS = 5


class BenchError(RuntimeError):
    """The benchmark could not run as planned (not a missed target)."""


# --- small helpers ---------------------------------------------------------------------------


def percentile(sorted_s: list[float], p: float) -> float:
    """Nearest-rank percentile of sorted samples."""
    k = max(0, min(len(sorted_s) - 1, round(p / 100 * len(sorted_s) + 0.5) - 1))
    return sorted_s[k]


def _die_with_parent() -> None:  # runs in the child before exec: SIGTERM it if the bench dies
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def child_env(config: Path | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORE_AGENT_")}
    if config is not None:
        env["STORE_AGENT_CONFIG"] = str(config)
    env.update(extra)
    return env


def spawn(args: list[str], log: Path, env: dict[str, str], *, profile_to: Path | None = None
          ) -> subprocess.Popen:
    """``store-agent ARGS`` as a child; under cProfile (written at a clean exit) with ``profile_to``."""
    prefix = ["-m", "cProfile", "-o", str(profile_to)] if profile_to else []
    with open(log, "ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen([sys.executable, *prefix, "-m", "ui.cli.main", *args], cwd=REPO, env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=out,
                                preexec_fn=_die_with_parent if sys.platform == "linux" else None)


def stop(proc: subprocess.Popen | None, timeout: float = 10.0) -> int | None:
    if proc is None:
        return None
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_mb(pid: int) -> dict[str, float]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


def tail(path: Path, n: int = 2000) -> str:
    try:
        return path.read_bytes()[-n:].decode("utf-8", "replace")
    except OSError:
        return ""


def wait_until(predicate: Callable[[], object], what: str, timeout: float, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise BenchError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def write_bench_config(workdir: Path, url: str) -> Path:
    text = BASE_CONFIG.format(db=workdir / "agent.db", policy="warn", tmp=workdir)
    for old, new in (('url = "http://127.0.0.1:9"', f'url = "{url}"'),
                     ('token = "test-token-not-secret"', f'token = "{TOKEN}"'),
                     ("timeout_s = 2", "timeout_s = 10")):
        if old not in text:
            raise BenchError(f"tests/factories.BASE_CONFIG changed: {old!r} not found")
        text = text.replace(old, new)
    text += "\n[sync]\nbatch_size = 500\nlong_poll_s = 25\nheartbeat_s = 60\n"
    path = workdir / "config.toml"
    path.write_text(text)
    return path


def ro_connect(db: Path) -> sqlite3.Connection:
    """A read-only connection in autocommit mode: every SELECT sees the latest commit."""
    return sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5, isolation_level=None)


# --- the reference OMS in its own process ----------------------------------------------------------


class Oms:
    def __init__(self, workdir: Path, orders: int):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "oms-sim.log"
        self.proc = spawn(["oms-sim", "--host", "127.0.0.1", "--port", str(self.port), "--orders",
                           str(orders), "--token", TOKEN, "--store", STORE_ID, "--seed", "7"],
                          self.log, child_env())
        self.http = httpx.Client(base_url=self.url, timeout=30)
        wait_until(self._listening, "the reference OMS to listen", timeout=60 + orders / 200)

    def _listening(self) -> bool:
        if self.proc.poll() is not None:
            raise BenchError(f"oms-sim exited {self.proc.returncode}:\n{tail(self.log)}")
        try:
            return self.http.get("/admin/stores").status_code == 200
        except httpx.TransportError:
            return False

    def admin(self, method: str, path: str, **kwargs):
        r = self.http.request(method, path, **kwargs)
        if r.status_code >= 300:
            raise BenchError(f"oms-sim {method} {path}: {r.status_code} {r.text[:300]}")
        return r.json() if r.content else None

    def stats(self) -> dict:
        return self.admin("GET", f"/admin/stores/{STORE_ID}/stats")

    def versions(self) -> dict[str, int]:
        return {o["order_id"]: o["version"]
                for o in self.admin("GET", f"/admin/stores/{STORE_ID}/orders")["orders"]}

    def close(self) -> None:
        self.http.close()
        stop(self.proc)


# --- part 1: drain --------------------------------------------------------------------------------


@dataclass
class DrainResult:
    events: int
    requests: int
    wall_s: float
    agent_cpu_s: float
    sim_cpu_s: float
    per_request: list[float]  # round trips of POST /events
    phases: Counter = field(default_factory=Counter)
    in_flight: int = 1  # the sender's max_in_flight
    gc_cpu_s: float = 0.0  # of agent_cpu_s, in the garbage collector
    gc_full: int = 0

    @property
    def per_s(self) -> float:
        return self.events / self.wall_s


class GcMeter:
    """CPU seconds this process spends in the cyclic garbage collector, and full collections."""

    def __init__(self) -> None:
        self.cpu_s, self.full, self._t0 = 0.0, 0, 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._t0 = time.thread_time()
        else:
            self.cpu_s += time.thread_time() - self._t0
            self.full += info["generation"] == 2

    def __enter__(self) -> GcMeter:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        gc.callbacks.remove(self)


def _timed(fn, phases: Counter, name: str):
    def wrapper(*a, **kw):
        t0 = time.perf_counter()
        try:
            return fn(*a, **kw)
        finally:
            phases[name] += time.perf_counter() - t0
    return wrapper


def _timed_async(fn, phases: Counter, name: str):
    async def wrapper(*a, **kw):
        t0 = time.perf_counter()
        try:
            return await fn(*a, **kw)
        finally:
            phases[name] += time.perf_counter() - t0
    return wrapper


async def _drain(store: Store, settings: Settings, batch: int, expect: int, sim_pid: int,
                 profile: cProfile.Profile | None = None) -> DrainResult:
    phases: Counter = Counter()
    per_request: list[float] = []
    async with make_client(settings) as client:
        sender = OutboxSender(store, settings, client, rng=random.Random(1))
        sender.batch_limit = batch
        # Instance attributes shadow the methods: the sender's own code, timed per phase.
        sender.sendable = _timed(sender.sendable, phases, "select sendable rows")
        sender.wire_event = _timed(sender.wire_event, phases, "rows -> wire dicts")
        sender._record_results = _timed(sender._record_results, phases, "record results (1 commit)")
        post_events = client.post_events

        async def timed_post(events):
            t0 = time.perf_counter()
            sending = post_events(events)
            del events  # as the sender does: the models are not kept while in flight
            try:
                return await sending
            finally:
                per_request.append(time.perf_counter() - t0)

        client.post_events = timed_post
        acked, requests, drains = 0, 0, 0
        meter = GcMeter().__enter__()
        sim0, cpu0, t0 = cpu_s(sim_pid), time.process_time(), time.perf_counter()
        if profile is not None:
            profile.enable()
        try:
            # As the daemon does: drain() until it finds nothing; one drain keeps up to
            # sender.max_in_flight requests in flight and normally empties the outbox.
            while drains < 10:
                report = await sender.drain()
                drains += 1
                if report.error:
                    raise BenchError(f"drain stopped: {report.error}")
                if report.dead:
                    raise BenchError(f"{report.dead} event(s) became dead letters")
                if not report.requests:
                    break
                requests += report.requests
                acked += report.acked
        finally:
            if profile is not None:
                profile.disable()
            meter.__exit__()
        wall = time.perf_counter() - t0
        agent_cpu, sim_cpu = time.process_time() - cpu0, cpu_s(sim_pid) - sim0
    if acked != expect:
        raise BenchError(f"drain acknowledged {acked} events, expected {expect}")
    phases["post_events (HTTP round trip)"] = sum(per_request)
    return DrainResult(acked, requests, wall, agent_cpu, sim_cpu, per_request, phases,
                       sender.max_in_flight, meter.cpu_s, meter.full)


async def _bootstrap_feed(store: Store, settings: Settings, max_pages: int) -> int:
    changes = 0
    async with make_client(settings) as client:
        feed = FeedPuller(store, settings, client)
        for _ in range(max_pages):
            page = await feed.pull(wait=0)
            changes += page.changes
            if not page.has_more:
                return changes
    raise BenchError(f"the feed still had more after {max_pages} pages")


def stage_all(actions: Actions, order_ids: list[str], bin_: str) -> tuple[list[int], float]:
    t0 = time.perf_counter()
    seqs = [actions.stage(oid, bin=bin_, associate_id=ASSOCIATE).event.seq for oid in order_ids]
    return seqs, time.perf_counter() - t0


def fmt_drain(name: str, r: DrainResult) -> str:
    med = statistics.median(r.per_request) * 1000
    return (f"{name:<18} {r.events:>6} events in {r.requests:>5} requests, {r.wall_s:7.2f} s"
            f" = {r.per_s:8.0f} events/s; median round trip {med:7.2f} ms;"
            f" CPU agent {r.agent_cpu_s:.2f} s, OMS {r.sim_cpu_s:.2f} s")


# --- profile attribution ---------------------------------------------------------------------------

AREAS = (  # first match wins; on (filename, function name) of pstats entries
    ("waiting in epoll (OMS working, or idle)", lambda f, n: "poll' of 'select.epoll" in n),
    ("sqlite3 (execute/commit)", lambda f, n: "sqlite3" in n),
    ("pydantic validation / dump", lambda f, n: "pydantic" in f or "pydantic_core" in n),
    ("json encode/decode", lambda f, n: "/json/" in f or ("json" in n.lower() and f == "~")),
    ("httpx/httpcore/h11 (HTTP client)",
     lambda f, n: any(k in f for k in ("/httpx/", "/httpcore/", "/h11/", "/anyio/", "/sniffio/"))),
    ("asyncio event loop, sockets", lambda f, n: "/asyncio/" in f or "socket" in n or "selectors" in f),
    ("agent/ and sync/ code (Python)", lambda f, n: f"{os.sep}agent{os.sep}" in f
     or f"{os.sep}sync{os.sep}" in f),
    ("uuid, datetime, other stdlib/builtins", lambda f, n: True),
)


def attribute(profile: cProfile.Profile | str, wall_s: float, *, who: str = "the agent side",
              cumulative: tuple[str, ...] = ()) -> list[str]:
    stats = pstats.Stats(profile)
    areas: Counter = Counter()
    rows = []
    for (filename, lineno, name), (_cc, nc, tt, ct, _callers) in stats.stats.items():
        for area, match in AREAS:
            if match(filename, name):
                areas[area] += tt
                break
        rows.append((tt, ct, nc, f"{Path(filename).name}:{lineno}({name})" if filename != "~" else name))
    total = sum(areas.values())
    out = [f"  cProfile of {who} (tottime, {total:.2f} s profiled over {wall_s:.2f} s wall):"]
    out += [f"    {share:5.1f} %  {t:6.2f} s  {area}"
            for area, t in areas.most_common() for share in [100 * t / total if total else 0]]
    out.append("  top functions by own time:")
    for tt, ct, nc, where in sorted(rows, reverse=True)[:14]:
        out.append(f"    {tt:6.3f} s own  {ct:6.3f} s cum  {nc:>8} calls  {where[:80]}")
    if cumulative:  # time on the event loop per coroutine: a suspension counts as a return
        out.append("  time on the event loop (cumulative, awaits excluded) of:")
        picked = [r for r in rows if any(r[3].endswith(f"({name})") for name in cumulative)]
        for _tt, ct, nc, where in sorted(picked, key=lambda r: -r[1])[:12]:
            out.append(f"    {ct:6.3f} s cum  {nc:>8} calls  {where[:80]}")
    return out


# --- part 2: latency ------------------------------------------------------------------------------


def cancel_latencies(oms: Oms, db: Path, order_ids: list[str], rng: random.Random,
                     admin_s: list[float]) -> list[float]:
    conn = ro_connect(db)
    sql = ("SELECT o.state = 'CANCELLED' AND EXISTS (SELECT 1 FROM return_tasks r"
           " WHERE r.order_id = o.order_id AND r.state = 'OPEN') FROM orders o WHERE o.order_id = ?")
    out = []
    try:
        for oid in order_ids:
            time.sleep(rng.uniform(0, 0.05))  # no phase lock with the daemon's own polling
            t0 = time.perf_counter()
            oms.admin("POST", f"/admin/stores/{STORE_ID}/orders/{oid}/cancel")
            admin_s.append(time.perf_counter() - t0)  # the OMS's own share: the admin call
            deadline = t0 + LATENCY_TIMEOUT_S
            while True:
                row = conn.execute(sql, (oid,)).fetchone()
                now = time.perf_counter()
                if row and row[0]:
                    out.append(now - t0)
                    break
                if now >= deadline:
                    out.append(float("inf"))
                    break
                time.sleep(POLL_S)
    finally:
        conn.close()
    return out


def ack_latencies(actions: Actions, db: Path, order_ids: list[str], rng: random.Random) -> list[float]:
    conn = ro_connect(db)
    out = []
    try:
        for oid in order_ids:
            time.sleep(rng.uniform(0, 0.05))
            t0 = time.perf_counter()
            seq = actions.stage(oid, bin="B3", associate_id=ASSOCIATE).event.seq
            deadline = t0 + LATENCY_TIMEOUT_S
            while True:
                row = conn.execute("SELECT acked_at FROM outbox WHERE seq = ?", (seq,)).fetchone()
                now = time.perf_counter()
                if row and row[0]:
                    out.append(now - t0)
                    break
                if now >= deadline:
                    out.append(float("inf"))
                    break
                time.sleep(POLL_S)
    finally:
        conn.close()
    return out


def fmt_latency(name: str, lat: list[float]) -> tuple[str, float]:
    s = sorted(lat)
    p95 = percentile(s, 95)
    lost = sum(x == float("inf") for x in s)
    line = (f"{name:<28} n={len(s)}  p50 {percentile(s, 50) * 1000:7.1f} ms  p95 {p95 * 1000:7.1f} ms"
            f"  max {s[-1] * 1000:7.1f} ms" + (f"  ({lost} not seen within {LATENCY_TIMEOUT_S:g} s)"
                                                  if lost else ""))
    return line, p95


# --- part 3: fleet reconnect ----------------------------------------------------------------------


def reconnect_times(agents: int, seed: int, *, chains: int = 1, outage_s: float = OUTAGE_S) -> list[float]:
    """When each agent's first request after the outage goes out.

    Every agent's request fails at t=0 (the OMS going down resets every long poll at
    once: the worst case). Then each chain does what OutboxSender.drain does after a
    transient error: wait ``backoff_delay(failures)``, ``failures += 1``, try again; a
    try at t < outage_s fails at once. ``chains=2``: the feed loop's identical chain
    too; the agent is back at the first try of either.
    """
    rng = random.Random(seed)
    out = []
    for _ in range(agents):
        first = float("inf")
        for _chain in range(chains):
            t, failures = 0.0, 0
            while t < outage_s:
                t += backoff_delay(failures, rng=rng)
                failures += 1
            first = min(first, t)
        out.append(first)
    return out


def max_window_share(times: list[float], window_s: float = WINDOW_S) -> tuple[float, float]:
    s = sorted(times)
    best, at, j = 0, 0.0, 0
    for i, start in enumerate(s):
        while j < len(s) and s[j] < start + window_s:
            j += 1
        if j - i > best:
            best, at = j - i, start
    return best / len(s), at


# --- the run -----------------------------------------------------------------------------------


@dataclass
class Verdicts:
    rows: list[tuple[str, bool]] = field(default_factory=list)

    def add(self, what: str, ok: bool) -> str:
        self.rows.append((what, ok))
        return "met" if ok else "MISSED"


def run(args: argparse.Namespace, scratch: Path, verdicts: Verdicts) -> None:
    n, sample, cancels = args.events, args.sample, args.cancels
    procs: list[subprocess.Popen] = []
    oms: Oms | None = None
    store: Store | None = None
    try:
        # ---- setup: OMS with n + sample orders; the store learns them through the feed
        t0 = time.perf_counter()
        oms = Oms(scratch, n + sample)
        procs.append(oms.proc)
        print(f"oms-sim pid {oms.proc.pid} on {oms.url} with {n + sample} orders"
              f" (started in {time.perf_counter() - t0:.1f} s)")
        config = write_bench_config(scratch, oms.url)
        settings = load_settings(config, environ={})
        db = settings.storage.path
        store = Store(db)
        actions = Actions(store, settings)
        t0 = time.perf_counter()
        changes = asyncio.run(_bootstrap_feed(store, settings, max_pages=(n + sample) // 100 + 20))
        orders = [r[0] for r in store.conn.execute("SELECT order_id FROM orders ORDER BY order_id")]
        if len(orders) != n + sample:
            raise BenchError(f"the store knows {len(orders)} orders after the feed, expected {n + sample}")
        print(f"feed bootstrap: {changes} changes, {len(orders)} orders in {time.perf_counter() - t0:.1f} s")
        single_ids, batch_ids = orders[n:], orders[:n]

        # ---- part 1: drain, one event per request, then batched
        print("\n[1] drain of pending stage events by an in-process OutboxSender")
        _, st = stage_all(actions, single_ids, "B1")
        single = asyncio.run(_drain(store, settings, 1, sample, oms.proc.pid))
        _, st2 = stage_all(actions, batch_ids, "B1")
        print(f"staged {sample} + {n} orders with Actions.stage ({(sample + n) / (st + st2):.0f} actions/s)")
        batched = asyncio.run(_drain(store, settings, settings.sync.batch_size, n, oms.proc.pid))
        print(fmt_drain("one per request", single))
        print(fmt_drain(f"batch {settings.sync.batch_size}", batched))
        wall = batched.wall_s
        print(f"  batched drain: up to {batched.in_flight} requests in flight; agent CPU"
              f" {batched.agent_cpu_s / batched.events * 1e6:.0f} us/event ({batched.agent_cpu_s / wall:.0%}"
              f" of the wall time), OMS CPU {batched.sim_cpu_s / batched.events * 1e6:.0f} us/event"
              f" ({batched.sim_cpu_s / wall:.0%}); with requests overlapping these may add up to more"
              " than 100 %")
        print(f"  of the agent's CPU, garbage collection: {batched.gc_cpu_s:.2f} s"
              f" ({batched.gc_cpu_s / max(batched.agent_cpu_s, 1e-9):.0%},"
              f" {batched.gc_full} full collections)")
        print("  time per phase (summed over requests: round trips in flight together overlap):")
        for name, t in batched.phases.most_common():
            print(f"    {t:7.3f} s {t / wall:6.1%}  {name}")
        ratio = batched.per_s / single.per_s
        ok_rate = batched.per_s >= TARGET_DRAIN_PER_S
        ok_ratio = ratio >= TARGET_RATIO
        print(f"drain: {batched.per_s:.0f} events/s (target >= {TARGET_DRAIN_PER_S}:"
              f" {verdicts.add('drain events/s', ok_rate)})")
        print(f"ratio batched / one per request: {ratio:.1f}x (target >= {TARGET_RATIO:g}x:"
              f" {verdicts.add('drain ratio', ok_ratio)})")

        if args.profile or not ok_rate:
            p = min(n, args.profile_events)
            stage_all(actions, batch_ids[:p], "P1")
            profile = cProfile.Profile()
            prof = asyncio.run(_drain(store, settings, settings.sync.batch_size, p, oms.proc.pid, profile))
            print(f"  profiled drain of {p} events: {prof.per_s:.0f} events/s under cProfile;"
                  f" OMS CPU {prof.sim_cpu_s:.2f} s of {prof.wall_s:.2f} s wall")
            for line in attribute(profile, prof.wall_s):
                print(line)

        # ---- part 4: the daemon drains n pending events; its memory afterwards
        print("\n[4] the daemon (store-agent run) drains pending stage events")
        stage_all(actions, batch_ids, "B2")
        daemon_log = scratch / "daemon.log"
        daemon_prof = scratch / "daemon.pstats" if args.profile_daemon else None
        if daemon_prof:
            print("  (the daemon runs under cProfile: its rate and RSS below are not the product's)")
        daemon = spawn(["run"], daemon_log, child_env(config, STORE_AGENT_LOG_LEVEL="INFO"),
                       profile_to=daemon_prof)
        procs.append(daemon)

        def started() -> bool:
            if daemon.poll() is not None:
                raise BenchError(f"the daemon exited {daemon.returncode}:\n{tail(daemon_log)}")
            return b"daemon started" in daemon_log.read_bytes()

        wait_until(started, "the daemon to start", timeout=60, interval=0.01)
        t_start = time.perf_counter()
        mem0, d_cpu0, s_cpu0 = memory_mb(daemon.pid), cpu_s(daemon.pid), cpu_s(oms.proc.pid)
        ro = ro_connect(db)
        try:
            def drained() -> bool:
                if daemon.poll() is not None:
                    raise BenchError(f"the daemon exited {daemon.returncode}:\n{tail(daemon_log)}")
                return ro.execute("SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'held')"
                                  ).fetchone()[0] == 0

            wait_until(drained, "the daemon to drain the outbox", timeout=60 + n / 100, interval=0.01)
            daemon_s = time.perf_counter() - t_start
            mem = memory_mb(daemon.pid)
            d_cpu, s_cpu = cpu_s(daemon.pid) - d_cpu0, cpu_s(oms.proc.pid) - s_cpu0
            dead = ro.execute("SELECT COUNT(*) FROM outbox WHERE status = 'dead'").fetchone()[0]
        finally:
            ro.close()
        if dead:
            raise BenchError(f"{dead} dead letters after the daemon's drain:\n{tail(daemon_log)}")
        print(f"daemon: {n} events drained {daemon_s:.2f} s after 'daemon started'"
              f" = {n / daemon_s:.0f} events/s (feed, reconciliation and heartbeat running alongside);"
              f" CPU daemon {d_cpu:.2f} s, OMS {s_cpu:.2f} s;"
              f" VmRSS when it said started {mem0['VmRSS']:.1f} MB")
        ok_rss = mem["VmRSS"] <= TARGET_RSS_MB
        print(f"daemon memory right after the drain: VmRSS {mem['VmRSS']:.1f} MB, VmHWM (peak)"
              f" {mem['VmHWM']:.1f} MB (target RSS <= {TARGET_RSS_MB:g} MB:"
              f" {verdicts.add('daemon RSS', ok_rss)})")

        # ---- part 2: latencies with the daemon running
        print("\n[2] latency with the daemon running (database polled every 5 ms, read-only)")
        want = oms.versions()
        ro = ro_connect(db)
        try:
            def caught_up() -> bool:  # the feed has every echo, and the start-up reconciliation is done
                have = dict(ro.execute("SELECT order_id, version FROM orders").fetchall())
                done = ro.execute("SELECT value FROM sync_state WHERE key = 'last_reconcile_at'").fetchone()
                return all(have.get(k) == v for k, v in want.items()) and done is not None and done[0]

            t0 = time.perf_counter()
            wait_until(caught_up, "the daemon's feed to catch up with the OMS", timeout=120, interval=0.2)
            print(f"feed caught up with the OMS's {len(want)} orders and start-up reconciliation done"
                  f" {time.perf_counter() - t0:.1f} s after the drain")
        finally:
            ro.close()
        rng = random.Random(11)
        cancel_ids = batch_ids[:cancels]
        ack_ids = (batch_ids[cancels:] + single_ids)[:cancels]
        admin_s: list[float] = []
        lat_cancel = cancel_latencies(oms, db, cancel_ids, rng, admin_s)
        line, p95 = fmt_latency("OMS cancel -> CANCELLED+task", lat_cancel)
        print(f"{line}  (target p95 <= {TARGET_CANCEL_P95_S:g} s:"
              f" {verdicts.add('cancel p95', p95 <= TARGET_CANCEL_P95_S)})")
        worst = max(range(len(lat_cancel)), key=lat_cancel.__getitem__)
        print(f"  of which the admin cancel call itself: p50 {statistics.median(admin_s) * 1000:.1f} ms,"
              f" max {max(admin_s) * 1000:.1f} ms; slowest cancel #{worst + 1}:"
              f" {lat_cancel[worst] * 1000:.1f} ms, its admin call {admin_s[worst] * 1000:.1f} ms")
        lat_ack = ack_latencies(actions, db, ack_ids, rng)
        line, p95 = fmt_latency("stage -> acked_at", lat_ack)
        print(f"{line}  (target p95 <= {TARGET_ACK_P95_S:g} s:"
              f" {verdicts.add('ack p95', p95 <= TARGET_ACK_P95_S)})")
        mem2 = memory_mb(daemon.pid)
        print(f"daemon memory at the end: VmRSS {mem2['VmRSS']:.1f} MB, VmHWM {mem2['VmHWM']:.1f} MB")
        code = stop(daemon)
        if code != 0:
            raise BenchError(f"the daemon exited {code} on SIGTERM:\n{tail(daemon_log)}")
        if daemon_prof:
            for line in attribute(str(daemon_prof), daemon_s, who="the daemon's whole life",
                                  cumulative=("drain", "pull", "reconcile", "_post", "_record_results",
                                              "apply_snapshot", "list_orders", "get_changes",
                                              "post_events", "sendable", "job_reconcile")):
                print(line)
        stats = oms.stats()
        print(f"OMS saw {stats['events_received']} events in {stats['batches_received']} batches:"
              f" accepted {stats['accepted']}, duplicate ids {stats['duplicate_ids']},"
              f" rejected {stats['rejected']}, conflicts {stats['conflicts']},"
              f" ordering violations {len(stats['ordering_violations'])}")
        expected = sample + 2 * n + min(n, args.profile_events) * (args.profile or not ok_rate)
        if stats["accepted"] != expected + len(ack_ids) or stats["rejected"] or stats["conflicts"] \
                or stats["ordering_violations"]:
            raise BenchError(f"the OMS's counts are not what was sent (expected {expected + len(ack_ids)}"
                             " accepted, nothing else)")
    finally:
        if store is not None:
            store.close()
        for proc in reversed(procs):
            stop(proc)
        if oms is not None:
            oms.close()


def fleet(args: argparse.Namespace, verdicts: Verdicts) -> None:
    print(f"\n[3] fleet of {args.agents} agents, {OUTAGE_S:g} s outage, sync.client.backoff_delay"
          f" (base 1 s, cap 30 s, full jitter); every agent fails at t=0; {FLEET_SEEDS} seeds")
    for chains, label in ((1, "sender chain"), (2, "sender + feed chains, first wins")):
        shares, backs = [], []
        for seed in range(FLEET_SEEDS):
            times = reconnect_times(args.agents, seed, chains=chains)
            share, _at = max_window_share(times)
            shares.append(share)
            s = sorted(times)
            backs.append((percentile(s, 50), percentile(s, 95), s[-1]))
        med = statistics.median(shares)
        p50, p95, last = (statistics.median(b[i] for b in backs) for i in range(3))
        line = (f"{label:<34} largest share in any {WINDOW_S * 1000:.0f} ms: median {med:.2%}"
                f" (worst seed {max(shares):.2%}); back at p50 {p50:.1f} s, p95 {p95:.1f} s,"
                f" last {last:.1f} s")
        if chains == 1:
            line += (f"  (target <= {TARGET_FLEET_SHARE:.0%}:"
                     f" {verdicts.add('fleet 100 ms share', med <= TARGET_FLEET_SHARE)})")
        print(line)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=None, help="events drained in batches (default 10000)")
    ap.add_argument("--cancels", type=int, default=None,
                    help="OMS cancels and stage->ack samples (default 200)")
    ap.add_argument("--sample", type=int, default=None,
                    help="events drained one per request, for the ratio (default 500)")
    ap.add_argument("--agents", type=int, default=10_000, help="agents in the fleet reconnect simulation")
    ap.add_argument("--quick", action="store_true",
                    help="small sizes for a smoke run (300 events, 20 cancels)")
    ap.add_argument("--profile", action="store_true", help="profile a drain even if the target is met")
    ap.add_argument("--profile-events", type=int, default=2000, help="events in the profiled drain")
    ap.add_argument("--profile-daemon", action="store_true",
                    help="run the daemon under cProfile and attribute its time (distorts part 4)")
    ap.add_argument("--dir", type=Path, default=None,
                    help="where the scratch directory goes (default: the current directory; it must be"
                    " on the disk you want to measure); it is removed afterwards")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory (logs, database)")
    args = ap.parse_args(argv)
    quick = args.quick
    args.events = args.events if args.events is not None else (300 if quick else 10_000)
    args.cancels = args.cancels if args.cancels is not None else (20 if quick else 200)
    args.sample = args.sample if args.sample is not None else (50 if quick else 500)
    if args.events < 10 or args.sample < 1 or args.cancels < 1 or args.agents < 100 \
            or 2 * args.cancels > args.events + args.sample:
        ap.error("need --events >= 10, --sample >= 1, --cancels >= 1, --agents >= 100,"
                 " and 2 x --cancels <= --events + --sample")

    def on_term(*_):  # run the finally blocks: every child process is stopped
        raise SystemExit(143)

    signal.signal(signal.SIGTERM, on_term)
    parent = (args.dir or Path.cwd()).resolve()
    parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".bench-tmp-", dir=parent))
    print(f"scratch dir {scratch}; python {sys.version.split()[0]}; sqlite {sqlite3.sqlite_version};"
          f" {os.cpu_count()} cpu(s); load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{args.events} events batched, {args.sample} one per request, {args.cancels} cancels and acks,"
          f" {args.agents} agents{' (quick)' if quick else ''}")
    verdicts = Verdicts()
    try:
        fleet(args, verdicts)
        run(args, scratch, verdicts)
    except BenchError as exc:
        print(f"\nbench_sync: could not complete: {exc}", file=sys.stderr)
        return 2
    finally:
        if args.keep:
            print(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    print(f"\nload average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    missed = [what for what, ok in verdicts.rows if not ok]
    print(f"targets: {len(verdicts.rows) - len(missed)} of {len(verdicts.rows)} met"
          + (f"; MISSED: {', '.join(missed)}" if missed else ""))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
