"""The daemon end to end: the reference OMS and `store-agent run` as real processes.

The OMS is `store-agent oms-sim` on a free loopback port, driven through its
``/admin`` endpoints (orders, faults, what it received); the daemon is
`store-agent run` with its stderr in ``daemon.log`` of the test's tmp dir, and
associates act through `Actions` in this process or the CLI, as in a store.
Only the feed fuzz test replaces HTTP, by an ``httpx.MockTransport``: a server
per example would be too slow for a thousand of them.

Every wait is bounded (``wait_for``), so a bug fails a test instead of hanging it.
Set DAEMON_TEST_SEED to replay the random schedule of a failing run.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from agent.errors import BusinessRuleError
from agent.oms import make_client
from agent.orders.actions import Actions
from agent.orders.ingest import ingest_snapshots
from agent.store.connection import Store
from agent.workers.feed import FeedPuller
from agent.workers.reconcile import reconcile
from config import load_settings
from sync.client import StoreSyncClient
from sync.errors import SyncError
from sync.samples import sample_orders
from tests.factories import BASE_CONFIG, free_port, snapshot, write_config

REPO = Path(__file__).resolve().parent.parent
STORE_ID = "S042"
TOKEN = "tok-daemon-e2e-5c1f0a9b7d"
ASSOCIATE = "A100"
WAIT_S = 30.0
SEED = int(os.environ.get("DAEMON_TEST_SEED", random.randrange(1 << 30)))
STATE_OF = {"released": "TO_PICK", "ready_for_pickup": "READY", "picked_up": "PICKED_UP",
            "cancelled": "CANCELLED"}


# --- plumbing -----------------------------------------------------------------------


def child_env(config: Path | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORE_AGENT_")}
    if config is not None:
        env["STORE_AGENT_CONFIG"] = str(config)
    env.update(extra)
    return env


def wait_for(predicate: Callable[[], Any], what: str | Callable[[], str], timeout: float = WAIT_S,
             interval: float = 0.05):
    """Poll until ``predicate()`` is truthy and return it; fail (never hang) after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for"
                                 f" {what() if callable(what) else what}")
        time.sleep(interval)


def agent_config(tmp_path: Path, url: str, *, name: str = "config.toml", long_poll_s: int = 2,
                 batch_size: int = 500, policy: str = "warn") -> Path:
    text = BASE_CONFIG.format(db=tmp_path / "agent.db", policy=policy, tmp=tmp_path)
    text = text.replace('url = "http://127.0.0.1:9"', f'url = "{url}"')
    text = text.replace('token = "test-token-not-secret"', f'token = "{TOKEN}"')
    assert url in text and TOKEN in text
    text += f"\n[sync]\nlong_poll_s = {long_poll_s}\nbatch_size = {batch_size}\nheartbeat_s = 5\n"
    path = tmp_path / name
    path.write_text(text)
    return path


def query(db: Path, sql: str, args: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(db, timeout=10)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def outbox_counts(db: Path) -> Counter:
    return Counter(dict(query(db, "SELECT status, COUNT(*) FROM outbox GROUP BY status")))


def unsent(db: Path) -> int:
    counts = outbox_counts(db)
    return counts["pending"] + counts["held"]


def sync_value(db: Path, key: str) -> str | None:
    rows = query(db, "SELECT value FROM sync_state WHERE key = ?", (key,))
    return rows[0][0] if rows else None


class Oms:
    """`store-agent oms-sim` in a subprocess, and its admin API."""

    def __init__(self, tmp_path: Path, *, orders: int, seed: int = 7):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / "oms-sim.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ui.cli.main", "oms-sim", "--port", str(self.port), "--orders",
             str(orders), "--token", TOKEN, "--seed", str(seed), "--store", STORE_ID],
            cwd=REPO, env=child_env(), stdout=subprocess.DEVNULL, stderr=self._log)
        self.http = httpx.Client(base_url=self.url, timeout=10)
        wait_for(self._listening, "the reference OMS to listen", timeout=20)

    def _listening(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"oms-sim exited {self.proc.returncode}: {self.log_path.read_text()}")
        try:
            return self.http.get("/admin/stores").status_code == 200
        except httpx.TransportError:
            return False

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        r = self.http.request(method, path, **kwargs)
        assert r.status_code < 300, (method, path, r.status_code, r.text[:500])
        return r.json() if r.content else None

    def orders(self) -> dict[str, dict]:
        orders = self.admin("GET", f"/admin/stores/{STORE_ID}/orders")["orders"]
        return {o["order_id"]: o for o in orders}

    def released(self) -> list[str]:
        return sorted(oid for oid, o in self.orders().items() if o["status"] == "released")

    def cancel(self, order_id: str) -> dict:
        return self.admin("POST", f"/admin/stores/{STORE_ID}/orders/{order_id}/cancel")

    def update(self, order_id: str, **changes: Any) -> dict:
        return self.admin("POST", f"/admin/stores/{STORE_ID}/orders/{order_id}/update", json=changes)

    def raw_change(self, order: Any) -> None:
        self.admin("POST", f"/admin/stores/{STORE_ID}/raw-change", json={"order": order})

    def faults(self, spec: str) -> None:
        assert self.admin("PUT", "/admin/faults", json={"spec": spec})["spec"]

    def clear_faults(self) -> None:
        assert self.admin("DELETE", "/admin/faults")["spec"] == ""

    def stats(self) -> dict:
        return self.admin("GET", f"/admin/stores/{STORE_ID}/stats")

    def received(self) -> list[dict]:
        return self.admin("GET", f"/admin/stores/{STORE_ID}/events")["events"]

    def stop(self) -> None:
        self.http.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


class DaemonProcess:
    """`store-agent run`; its stderr is appended to one log file per test."""

    def __init__(self, config: Path, log_path: Path):
        self.log_path = log_path
        self._offset = log_path.stat().st_size if log_path.exists() else 0
        self._log = open(log_path, "ab")  # noqa: SIM115 (closed when the process is gone)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ui.cli.main", "run"], cwd=REPO,
            env=child_env(config, STORE_AGENT_LOG_LEVEL="INFO"),
            stdout=subprocess.DEVNULL, stderr=self._log)

    def log(self) -> str:
        return self.log_path.read_bytes()[self._offset:].decode("utf-8", "replace")

    def wait_started(self, timeout: float = 20) -> None:
        def started() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}:\n{self.log()[-3000:]}")
            return "daemon started" in self.log()

        wait_for(started, "the daemon to start", timeout)

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        code = self.proc.wait(10)
        self._log.close()
        assert code == -signal.SIGKILL, f"the daemon died by itself ({code}):\n{self.log()[-3000:]}"

    def terminate(self, timeout: float = 10) -> tuple[int, float]:
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError(f"daemon still running {timeout:g} s after SIGTERM:\n"
                                 f"{self.log()[-3000:]}") from None
        finally:
            self._log.close()
        return code, time.monotonic() - started

    def ensure_dead(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self._log.close()


@pytest.fixture
def oms(tmp_path: Path):
    sim = Oms(tmp_path, orders=40)
    yield sim
    sim.stop()


@pytest.fixture
def config_path(tmp_path: Path, oms: Oms) -> Path:
    """Overrides conftest's: the agent (and the `cli` fixture) talk to this test's OMS."""
    return agent_config(tmp_path, oms.url)


@pytest.fixture
def daemons(tmp_path: Path, config_path: Path):
    started: list[DaemonProcess] = []

    def start(config: Path | None = None) -> DaemonProcess:
        daemon = DaemonProcess(config or config_path, tmp_path / "daemon.log")
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.ensure_dead()


class Station:
    """This process as another station: its own Store and Actions on the daemon's database."""

    def __init__(self, config: Path):
        self.settings = load_settings(config, environ={})
        self.store = Store(self.settings.storage.path)
        self.actions = Actions(self.store, self.settings, device_id="handheld-7")

    def pull_feed(self) -> None:
        """What `sync` does for the feed, over real HTTP, without a process start."""

        async def pull() -> None:
            async with make_client(self.settings) as client:
                puller = FeedPuller(self.store, self.settings, client)
                while (await puller.pull(wait=0)).has_more:
                    pass

        asyncio.run(pull())

    def state(self, order_id: str) -> str:
        return self.store.conn.execute("SELECT state FROM orders WHERE order_id = ?",
                                       (order_id,)).fetchone()[0]


@pytest.fixture
def local(config_path: Path):
    station = Station(config_path)
    yield station
    station.store.close()


def random_actions(store: Store, actions: Actions, rnd: random.Random, n: int, *,
                   cancel_p: float = 0.05, pickup_p: float = 0.0) -> int:
    """``n`` associate actions on random orders; each one is committed with its event."""
    done = 0
    while done < n:
        orders = store.conn.execute(
            "SELECT order_id, state, pickup_code FROM orders WHERE order_id LIKE 'W%' ORDER BY order_id"
        ).fetchall()
        tasks = {r[0] for r in store.conn.execute(
            "SELECT order_id FROM return_tasks WHERE state = 'OPEN'")}
        choices = [r for r in orders if r["state"] in ("TO_PICK", "READY") or r["order_id"] in tasks]
        if not choices:
            break
        order = rnd.choice(choices)
        oid, roll = order["order_id"], rnd.random()
        try:
            if order["state"] == "CANCELLED":
                actions.return_to_shelf(oid, associate_id=ASSOCIATE)
            elif roll < cancel_p:
                actions.cancel(oid, reason=rnd.choice(["no_show", "damaged", "item_unavailable"]),
                               associate_id=ASSOCIATE)
            elif order["state"] == "READY" and roll < cancel_p + pickup_p:
                actions.pickup(oid, associate_id=ASSOCIATE, code=order["pickup_code"],
                               oms_confirmed=True)
            else:
                picked = None
                if rnd.random() < 0.2:  # a short pick now and then
                    first = store.conn.execute("SELECT line_id FROM order_lines WHERE order_id = ?"
                                               " ORDER BY position LIMIT 1", (oid,)).fetchone()[0]
                    picked = {first: 0}
                actions.stage(oid, bin=f"B-{rnd.randint(1, 30):02d}", associate_id=ASSOCIATE,
                              picked=picked)
        except BusinessRuleError as exc:  # nothing else changes these orders' states
            raise AssertionError(f"action on {oid} refused: {exc}") from exc
        done += 1
    return done


def assert_delivered_exactly_once_in_order(oms: Oms, db: Path, initial_versions: dict[str, int]) -> None:
    outbox = query(db, "SELECT event_id, seq, order_id, status FROM outbox ORDER BY seq")
    assert outbox, "no events were made"
    statuses = Counter(row[3] for row in outbox)
    assert statuses == {"acked": len(outbox)}, statuses
    received = oms.received()
    results = Counter(r["result"] for r in received)
    assert set(results) <= {"accepted", "duplicate"}, results
    accepted = Counter(r["event_id"] for r in received if r["result"] == "accepted")
    store_ids = {row[0] for row in outbox}
    assert {r["event_id"] for r in received} <= store_ids, "the OMS got events the store never made"
    missing = store_ids - set(accepted)
    assert not missing, f"{len(missing)} acknowledged events never took effect at the OMS"
    twice = {eid: n for eid, n in accepted.items() if n > 1}
    assert not twice, f"applied more than once: {twice}"
    store_seqs: dict[str, list[int]] = defaultdict(list)
    for _, seq, order_id, _ in outbox:
        store_seqs[order_id].append(seq)
    oms_seqs: dict[str, list[int]] = defaultdict(list)
    for r in received:
        if r["result"] == "accepted":
            oms_seqs[r["order_id"]].append(r["seq"])
    assert oms_seqs == store_seqs, "the OMS applied some order's events out of seq order"
    stats = oms.stats()
    assert stats["ordering_violations"] == []
    assert stats["accepted"] == len(outbox) and stats["rejected"] == 0 and stats["conflicts"] == 0
    # Each applied event bumps the order's version once: a double application would show.
    oms_orders = oms.orders()
    store_states = dict(query(db, "SELECT order_id, state FROM orders"))
    for order_id, version in initial_versions.items():
        assert oms_orders[order_id]["version"] == version + len(store_seqs.get(order_id, [])), order_id
        assert STATE_OF[oms_orders[order_id]["status"]] == store_states[order_id], order_id


def assert_status_drained(cli) -> dict:
    r = cli("status", "--json")
    assert r.code == 0, r.err
    status = r.json()
    assert status["outbox"]["pending"] == 0 and status["outbox"]["dead_letters"] == 0, status["outbox"]
    return status


# --- 1. kill -9 mid-drain --------------------------------------------------------------


def test_kill_9_twenty_times_mid_drain_loses_nothing_and_applies_nothing_twice(
        oms, cli, daemons, local, tmp_path):
    db = tmp_path / "agent.db"
    agent_config(tmp_path, oms.url, batch_size=5)  # small batches: a drain spans many requests
    local.pull_feed()
    initial_versions = {oid: o["version"] for oid, o in oms.orders().items()}
    assert len(query(db, "SELECT order_id FROM orders")) == len(initial_versions) == 40
    oms.faults(f"error_rate=0.2,lost_response=0.25,malformed=0.03,latency_ms=15,seed={SEED % 1000}")
    store, actions = local.store, local.actions
    rnd = random.Random(SEED)
    random_actions(store, actions, rnd, 150, cancel_p=0.02, pickup_p=0.02)
    mid_drain, kills = 0, 22
    for _ in range(kills):
        acked_before = outbox_counts(db)["acked"]
        daemon = daemons()
        daemon.wait_started()
        random_actions(store, actions, rnd, rnd.randint(10, 30), cancel_p=0.02, pickup_p=0.02)
        time.sleep(rnd.uniform(0.2, 1.0))
        daemon.kill9()
        if unsent(db) and outbox_counts(db)["acked"] > acked_before:
            mid_drain += 1
    # Guard on the test itself: most kills must land while events were in flight.
    assert mid_drain >= kills // 2, f"only {mid_drain} of {kills} kills landed mid-drain (seed {SEED})"
    oms.clear_faults()
    daemon = daemons()
    daemon.wait_started()
    wait_for(lambda: unsent(db) == 0,
             lambda: f"the outbox to drain after the last start: {dict(outbox_counts(db))} (seed {SEED})")
    assert_status_drained(cli)
    code, _ = daemon.terminate()
    assert code == 0, daemon.log()[-3000:]
    assert_delivered_exactly_once_in_order(oms, db, initial_versions)
    stats = oms.stats()
    assert stats["duplicate_ids"] > 0, "lost responses should have made the agent resend some events"
    assert query(db, "PRAGMA integrity_check") == [("ok",)]


# --- 2. outage -----------------------------------------------------------------------


def test_outage_500_actions_then_everything_delivered_in_order_and_status_said_offline(
        oms, cli, daemons, local, tmp_path):
    db = tmp_path / "agent.db"
    initial_versions = {oid: o["version"] for oid, o in oms.orders().items()}
    daemon = daemons()
    daemon.wait_started()
    wait_for(lambda: len(query(db, "SELECT 1 FROM orders")) == 40 and sync_value(db, "online") == "1",
             "the first feed page")
    oms.faults("down=1")
    store, actions = local.store, local.actions
    assert random_actions(store, actions, random.Random(SEED), 500, cancel_p=0.01, pickup_p=0.01) == 500
    offline = wait_for(lambda: (s := cli("status", "--json").json()) and not s["online"] and s,
                       "status to say offline", timeout=20, interval=0.2)
    assert offline["outbox"]["pending"] > 0
    assert oms.stats()["events_received"] == 0
    oms.clear_faults()
    wait_for(lambda: unsent(db) == 0,
             lambda: f"the outbox to drain after the outage: {dict(outbox_counts(db))} (seed {SEED})")
    status = assert_status_drained(cli)
    assert status["online"] is True and status["last_feed_success_at"]
    code, _ = daemon.terminate()
    assert code == 0, daemon.log()[-3000:]
    assert len(query(db, "SELECT 1 FROM outbox")) == 500
    assert_delivered_exactly_once_in_order(oms, db, initial_versions)


# --- 3. echo -------------------------------------------------------------------------


def test_an_echoed_ready_for_pickup_never_shows_a_handed_over_order_ready_again(
        oms, cli, daemons, local, tmp_path):
    db = tmp_path / "agent.db"
    oid = oms.released()[0]
    code = oms.orders()[oid]["pickup_code"]
    daemon = daemons()
    daemon.wait_started()
    wait_for(lambda: query(db, "SELECT 1 FROM orders WHERE order_id = ?", (oid,)), "the order to arrive")
    local.actions.stage(oid, bin="B-07", associate_id=ASSOCIATE)
    wait_for(lambda: oms.orders()[oid]["status"] == "ready_for_pickup", "the stage to reach the OMS")
    r = cli("order", "pickup", oid, "--code", code, "--as", ASSOCIATE)
    assert r.code == 0, r.err
    wait_for(lambda: oms.orders()[oid]["status"] == "picked_up", "the pickup to reach the OMS")
    wait_for(lambda: unsent(db) == 0, "both events acknowledged")
    # The OMS now echoes the earlier step, as newer versions: its own, and a raw one.
    echoed = oms.update(oid, status="ready_for_pickup")
    oms.raw_change({**echoed, "version": echoed["version"] + 1})
    final = echoed["version"] + 1
    seen: list[str] = []

    def delivered() -> bool:
        state, version = query(db, "SELECT state, version FROM orders WHERE order_id = ?", (oid,))[0]
        seen.append(state)
        return version == final

    wait_for(delivered, "the echoes to arrive on the feed")
    # Both echoes were judged (recorded), not merely the last one seen.
    wait_for(lambda: query(db, "SELECT COUNT(*) FROM received_changes WHERE order_id = ?"
                               " AND version >= ?", (oid, echoed["version"]))[0][0] >= 2,
             "both echoes to be recorded")
    show = cli("order", "show", oid, "--json")
    assert show.code == 0, show.err
    detail = show.json()
    assert set(seen) == {"PICKED_UP"}, seen
    assert detail["state"] == "PICKED_UP" and detail["version"] == final
    assert [e["type"] for e in detail["events"]] == ["order.staged", "order.picked_up"]
    code_, _ = daemon.terminate()
    assert code_ == 0
    assert local.state(oid) == "PICKED_UP"


# --- 4. live check ---------------------------------------------------------------------


def test_live_check_stops_a_handoff_cancelled_online_and_the_offline_policy_decides_otherwise(
        oms, cli, local, tmp_path):
    local.pull_feed()  # the orders arrive; then no daemon runs: the feed stands still
    target, other = oms.released()[:2]
    codes = {oid: o["pickup_code"] for oid, o in oms.orders().items()}
    local.actions.stage(target, bin="B-07", associate_id=ASSOCIATE)
    local.actions.stage(other, bin="B-08", associate_id=ASSOCIATE)
    oms.cancel(target)
    assert local.state(target) == "READY"  # the store has no idea yet
    r = cli("order", "pickup", target, "--code", codes[target], "--as", ASSOCIATE)
    assert r.code == 3, (r.code, r.err)
    assert "B-07" in r.err and "return task" in r.err and "Traceback" not in r.err
    detail = cli("order", "show", target, "--json").json()
    assert detail["state"] == "CANCELLED"
    assert detail["return_task"]["state"] == "OPEN" and detail["return_task"]["bin"] == "B-07"
    assert "order.picked_up" not in [e["type"] for e in detail["events"]]
    # The OMS cannot be reached: the configured policy (warn) decides.
    offline = {"STORE_AGENT_CONFIG": str(agent_config(
        tmp_path, f"http://127.0.0.1:{free_port()}", name="offline.toml"))}
    r = cli("order", "pickup", other, "--code", codes[other], "--as", ASSOCIATE, env=offline)
    assert r.code == 4, (r.code, r.err)
    assert "--yes" in r.err and "last heard from the OMS" in r.err
    assert local.state(other) == "READY"
    r = cli("order", "pickup", other, "--code", codes[other], "--as", ASSOCIATE, "--yes", env=offline)
    assert r.code == 0, r.err
    assert local.state(other) == "PICKED_UP"


# --- 5. hostile feed bodies -------------------------------------------------------------

FUZZ_NOW = datetime(2026, 11, 23, 14, 5, 9, tzinfo=UTC)
POOL = sample_orders(4, seed=11, now=FUZZ_NOW)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
# Each makes a snapshot invalid for a reason the contract names.
SNAPSHOT_MUTATIONS: list[tuple[str, Any]] = [
    ("order_id", ""), ("order_id", "x" * 65), ("order_id", 1234), ("order_id", None),
    ("version", 0), ("version", -3), ("version", "three"), ("version", None), ("version", 1.5),
    ("status", ""), ("status", None), ("status", "s" * 65), ("fulfillment", "delivery"),
    ("customer", None), ("customer", {"phone_last4": "1234"}), ("customer", "Ann"),
    ("pickup_code", "abc"), ("pickup_code", "x" * 17),
    ("pickup_window", {"start": "2026-11-23T10:00:00Z"}),
    ("pickup_window", {"start": "2026-11-23T10:00:00", "end": "2026-11-23T12:00:00"}),
    ("hold_until", "next tuesday"), ("lines", []), ("lines", None), ("lines", "1 drill"),
    ("lines", [{"line_id": "1"}]), ("arrival", {"bay": "3"}), ("updated_at", None),
    ("updated_at", "2026-13-01T00:00:00Z"), ("updated_at", "2026-11-23T10:00:00"),
]
REQUIRED = ["order_id", "version", "status", "fulfillment", "customer", "pickup_code", "lines",
            "updated_at"]
LINE_MUTATIONS: list[tuple[str, Any]] = [
    ("gtin", "123"), ("gtin", "40063813339a1"), ("quantity", 0), ("quantity", -1), ("quantity", 1.5),
    ("line_id", ""), ("sku", None), ("description", None),
]
UNMAPPED = ["on_hold", "READY_FOR_PICKUP", "Released", "shipped", "ready for pickup", "\u202ecancelled"]
HOSTILE_IDS = ["W'); DROP TABLE orders;--", "Ω" * 64, "W%_*", "W 1"]
# Ids with control characters are refused (quarantined), never cleaned into another order's id:
# "W\u202e1000001" would otherwise overwrite W1000001, and "W\n1" the order "W 1".
CONTROL_IDS = ["W\u202e1000001", "W\n1", "W1000001\x1b[2J"]
ENVELOPE_BREAKS: list[tuple[str, Any]] = [
    ("cursor", ""), ("cursor", 5), ("cursor", None), ("cursor", "c" * 5000), ("cursor", ["a"]),
    ("has_more", "maybe"), ("has_more", None), ("has_more", []), ("has_more", {}),
    ("changes", None), ("changes", {}), ("changes", "x"), ("changes", 5),
]
ITEM_BREAKS: list[Any] = [
    5, "x", None, [], {"order": {}}, {"change_id": "", "order": {}}, {"change_id": 7, "order": {}},
    {"change_id": "c" * 201, "order": {}}, {"change_id": None},
]
HOSTILE_BODIES: list[bytes] = [
    b"", b"null", b"[]", b"{}", b"[" * 100_000, b'{"changes": NaN}', b'{"changes": [], "cursor": 1e999}',
    b'{"changes": [], "cursor": "a", "has_more": ' + b"9" * 5000 + b"}",
    "\ud800".encode("utf-8", "surrogatepass"), b"\xff\xfe{\x00}\x00", b"<html>502 Bad Gateway</html>",
    b'{"changes": [], "cursor": "a", "has_more": false}' + b" trailing",
    b'\xef\xbb\xbf{"changes": [], "cursor": "bom", "has_more": false}',
]


@st.composite
def feed_change(draw) -> tuple[dict, bool]:
    """One change and whether its snapshot is valid (and mapped)."""
    kind = draw(st.sampled_from(["valid", "valid", "hostile_valid", "mutated", "mutated", "missing",
                                 "line", "unmapped", "control_id", "json"]))
    order = copy.deepcopy(draw(st.sampled_from(POOL)))
    change_id = draw(st.text(min_size=1, max_size=30))
    valid = kind in ("valid", "hostile_valid")
    if valid:
        order["version"] = draw(st.integers(1, 40))
        order["status"] = draw(st.sampled_from(sorted(STATE_OF)))
        if kind == "hostile_valid":
            order["order_id"] = draw(st.sampled_from(HOSTILE_IDS))
    elif kind == "mutated":
        key, value = draw(st.sampled_from(SNAPSHOT_MUTATIONS))
        order[key] = value
    elif kind == "control_id":
        order["order_id"] = draw(st.sampled_from(CONTROL_IDS))
    elif kind == "missing":
        del order[draw(st.sampled_from(REQUIRED))]
    elif kind == "line":
        key, value = draw(st.sampled_from(LINE_MUTATIONS))
        order["lines"][0][key] = value
    elif kind == "unmapped":
        order["status"] = draw(st.sampled_from(UNMAPPED))
        order["version"] = draw(st.integers(1, 40))
    else:
        order = draw(JSON)
    return {"change_id": change_id, "order": order}, valid


@st.composite
def feed_body(draw) -> tuple[bytes, str, list[bool]]:
    """(body, expectation, validity of each change): expectation is ok, bad or either."""
    shape = draw(st.sampled_from(["page", "page", "page", "envelope", "item", "missing", "truncated",
                                  "top", "bytes", "hostile"]))
    if shape == "bytes":
        return draw(st.binary(max_size=300)), "either", []
    if shape == "hostile":
        return draw(st.sampled_from(HOSTILE_BODIES)), "either", []
    changes = draw(st.lists(feed_change(), max_size=5))
    page: Any = {"changes": [c for c, _ in changes], "cursor": draw(st.text(min_size=1, max_size=40)),
                 "has_more": draw(st.booleans())}
    if draw(st.integers(0, 9)) == 0:
        page["next_steps"] = draw(JSON)  # unknown fields are ignored
    if shape == "page":
        return json.dumps(page).encode(), "ok", [v for _, v in changes]
    if shape == "envelope":
        key, value = draw(st.sampled_from(ENVELOPE_BREAKS))
        page[key] = value
    elif shape == "item":
        page["changes"].insert(draw(st.integers(0, len(page["changes"]))), draw(st.sampled_from(ITEM_BREAKS)))
    elif shape == "missing":
        del page[draw(st.sampled_from(["changes", "cursor", "has_more"]))]
    elif shape == "truncated":
        body = json.dumps(page).encode()
        return body[:draw(st.integers(0, len(body) - 1))], "bad", []
    else:
        page = draw(st.sampled_from([[page], "page", None, 3, True]))
    return json.dumps(page).encode(), "bad", []


def test_hostile_feed_bodies_are_quarantined_or_refused_and_never_applied(tmp_path):
    settings = load_settings(write_config(tmp_path), environ={})
    store = Store(settings.storage.path)
    ingest_snapshots(store, POOL[:2], status_map=settings.status_map, source="feed")
    current: dict[str, bytes] = {}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=current["body"]))
    client = StoreSyncClient("http://oms.test", STORE_ID, TOKEN, transport=transport)
    puller = FeedPuller(store, settings, client)
    loop = asyncio.new_event_loop()
    seen = Counter()

    def orders() -> dict[str, tuple]:
        return {r[0]: tuple(r) for r in store.conn.execute("SELECT * FROM orders")}

    def count(table: str) -> int:
        # received_changes: the rows of snapshots, not of the settlements a valid one may make
        # (a quarantined snapshot it supersedes: agent/orders/snapshots.py).
        where = (" WHERE outcome NOT IN ('quarantine_resolved', 'conflict_resolved')"
                 if table == "received_changes" else "")
        return store.conn.execute(f"SELECT COUNT(*) FROM {table}{where}").fetchone()[0]

    @hsettings(max_examples=1000, deadline=None, derandomize=False, database=None,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(case=feed_body())
    def check(case):
        body, expect, validity = case
        current["body"] = body
        before = orders()
        cursor = puller.cursor()
        quarantined, received = count("quarantine"), count("received_changes")
        try:
            report = loop.run_until_complete(puller.pull(wait=0))
        except SyncError:
            assert expect in ("bad", "either"), body[:300]
            seen["refused"] += 1
            assert puller.cursor() == cursor, "the cursor moved past a page that was not applied"
            assert orders() == before
            assert count("quarantine") == quarantined and count("received_changes") == received
            return
        assert expect in ("ok", "either"), f"a broken envelope was accepted: {body[:300]!r}"
        page = json.loads(body)
        assert puller.cursor() == page["cursor"]
        assert report.changes == len(page["changes"]) == count("received_changes") - received
        if expect == "either":
            validity = [None] * len(page["changes"])
        seen["applied"] += 1
        after = orders()
        touched = set()
        for change, valid in zip(page["changes"], validity, strict=True):
            order = change["order"]
            if valid:
                touched.add(order["order_id"])
                assert order["order_id"] in after
                version = store.conn.execute("SELECT version FROM orders WHERE order_id = ?",
                                             (order["order_id"],)).fetchone()[0]
                assert version >= order["version"]
            elif valid is None:
                return  # an arbitrary body that happens to be a page: the envelope was all we knew
        invalid = validity.count(False)
        seen["quarantined"] += invalid
        assert count("quarantine") - quarantined == invalid
        assert set(after) == set(before) | touched
        for order_id, row in before.items():
            if order_id not in touched:
                assert after[order_id] == row, f"an invalid snapshot changed order {order_id}"

    try:
        check()
    finally:
        loop.run_until_complete(client.aclose())
        loop.close()
        store.close()
    assert seen["refused"] + seen["applied"] >= 1000, seen
    assert seen["refused"] > 200 and seen["applied"] > 200 and seen["quarantined"] > 200, seen


# --- 6. SIGTERM during a long poll ----------------------------------------------------------


def test_sigterm_while_a_long_poll_is_in_flight_exits_0_within_3_s(oms, daemons, tmp_path):
    db = tmp_path / "agent.db"
    daemon = daemons(agent_config(tmp_path, oms.url, name="long-poll.toml", long_poll_s=25))
    daemon.wait_started()
    fed = wait_for(lambda: sync_value(db, "last_feed_success_at"), "the first feed page")
    # The feed loop asks again at once; with nothing new the OMS holds that request for 25 s.
    wait_for(lambda: oms.stats()["long_polls_waiting"] == 1, "a long poll held by the OMS")
    code, took = daemon.terminate(timeout=10)
    assert code == 0, daemon.log()[-3000:]
    assert took <= 3.0, f"SIGTERM took {took:.1f} s"
    assert sync_value(db, "last_feed_success_at") == fed, "no long poll was in flight after all"
    assert "stopped cleanly" in daemon.log()


# --- 7. reconciliation ------------------------------------------------------------------


def test_reconcile_applies_a_change_the_feed_missed_and_flags_an_order_unknown_to_the_oms(
        oms, cli, local, tmp_path):
    local.pull_feed()
    staged, waiting = oms.released()[:2]
    local.actions.stage(staged, bin="B-12", associate_id=ASSOCIATE)
    r = cli("sync", "--json")
    assert r.code == 0 and r.json()["acked"] == 1, (r.out, r.err)
    # The OMS changes its mind; no daemon runs, so the store's feed cursor stays behind.
    oms.cancel(staged)
    oms.cancel(waiting)
    stranger = tmp_path / "stranger.json"
    stranger.write_text(json.dumps([snapshot("X9000001", code="ZZ9ZZ9")]))
    assert cli("import-snapshots", str(stranger)).code == 0
    r = cli("reconcile", "--json")
    assert r.code == 0, r.err
    findings = {(f["order_id"], f["kind"]) for f in r.json()["findings"]}
    assert findings == {(staged, "missed_change"), (waiting, "missed_change"),
                        ("X9000001", "unknown_to_oms")}
    detail = cli("order", "show", staged, "--json").json()
    assert detail["state"] == "CANCELLED"
    assert detail["return_task"]["state"] == "OPEN" and detail["return_task"]["bin"] == "B-12"
    assert local.state(waiting) == "CANCELLED"
    assert local.state("X9000001") == "TO_PICK"  # flagged for a person, not changed
    # The feed bringing the same cancellations later changes nothing more.
    local.pull_feed()
    tasks = local.store.conn.execute("SELECT COUNT(*) FROM return_tasks").fetchone()[0]
    assert local.state(staged) == "CANCELLED" and tasks == 1


# Regression: reconcile() used to pass an ISO string as updated_after, and every
# reconciliation (CLI, periodic and back-online jobs) died before comparing anything.
def test_reconcile_against_the_reference_oms_runs_at_all(oms, local):
    local.pull_feed()

    async def run():
        async with make_client(local.settings) as client:
            return await reconcile(local.store, local.settings, client)

    report = asyncio.run(run())
    assert report.compared == 40 and report.findings == []
