"""Crash tests: real subprocesses looping associate actions, killed with SIGKILL at random.

The promise under test is "durable before confirmed": once an action's call
returned (for the CLI: once the command exited 0), its outbox event survives
the process dying at any instant. A child reports each confirmed action as one
line "<event_id> <seq>" on stdout, flushed right after the call returned; the
parent kills it at a random moment, then opens the database and checks that
every reported event is there with the reported seq, that seq is gap-free,
that each order's state agrees with its own events (state change and event
are one transaction) and that ``PRAGMA integrity_check`` is ok.

All runs of a test share ONE database file, so each run starts on a file
whose previous writer was killed mid-flight (hot WAL, recovery on open).
Set CRASH_SEED to replay a failing run's schedule.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from agent.orders.ingest import ingest_snapshots
from agent.store.connection import Store
from config import load_settings
from tests.factories import snapshot, write_config

REPO = Path(__file__).resolve().parent.parent
N_ORDERS = 300
ASSOCIATE = "A100"

pytestmark = pytest.mark.slow

# The child: set up, say READY, then loop actions forever; one flushed line per returned call.
ACTIONS_CHILD = textwrap.dedent(
    """
    import random, sys
    from agent.orders.actions import Actions
    from agent.errors import BusinessRuleError
    from agent.store.connection import Store
    from config import load_settings

    config_path, seed = sys.argv[1], int(sys.argv[2])
    rnd = random.Random(seed)
    settings = load_settings(config_path, environ={})
    store = Store(settings.storage.path)
    actions = Actions(store, settings)
    rows = store.conn.execute("SELECT order_id, state, bin FROM orders").fetchall()
    state = {r[0]: (r[1], r[2]) for r in rows}
    open_tasks = {r[0] for r in store.conn.execute(
        "SELECT order_id FROM return_tasks WHERE state = 'OPEN'")}
    out = sys.stdout
    out.write("READY\\n")
    out.flush()
    while True:
        live = [o for o, (s, _) in state.items() if s in ("TO_PICK", "READY")]
        roll = rnd.random()
        if open_tasks and roll < 0.05:
            oid = rnd.choice(sorted(open_tasks))
            result = actions.return_to_shelf(oid, associate_id="A100")
            open_tasks.discard(oid)
            state[oid] = ("CANCELLED", None)
        elif not live:
            break
        elif roll < 0.10:
            oid = rnd.choice(live)
            result = actions.cancel(oid, reason="no_show", associate_id="A100")
            if result.return_task_id is not None:
                open_tasks.add(oid)
            state[oid] = ("CANCELLED", state[oid][1])
        else:
            oid = rnd.choice(live)
            # Alternate bins so that staging again is a real move.
            new_bin = "B2" if state[oid][1] == "B1" else "B1"
            picked = {"L1": 1} if roll > 0.95 else None
            result = actions.stage(oid, bin=new_bin, associate_id="A100", picked=picked)
            state[oid] = ("READY", new_bin)
        # The call returned: this is the moment the screen says "done".
        out.write(f"{result.event.event_id} {result.event.seq}\\n")
        out.flush()
    """
)

# The chain: a driver (no shell) runs the real CLI once per action, reports each exit 0.
CLI_DRIVER = textwrap.dedent(
    """
    import json, subprocess, sys
    config_path, seed, n_orders = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    import random
    rnd = random.Random(seed)
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("STORE_AGENT_")}
    env["STORE_AGENT_CONFIG"] = config_path
    out = sys.stdout
    out.write("READY\\n")
    out.flush()
    while True:
        oid = f"W{rnd.randrange(n_orders):04d}"
        bin_ = rnd.choice(["C1", "C2", "C3"])
        proc = subprocess.run(
            [sys.executable, "-m", "ui.cli.main", "order", "stage", oid, "--bin", bin_,
             "--as", "A100", "--json"],
            capture_output=True, text=True, env=env)
        if proc.returncode == 0:
            doc = json.loads(proc.stdout)
            out.write(f"{doc['event_id']} {doc['seq']}\\n")
            out.flush()
        else:
            sys.stderr.write(f"exit {proc.returncode}: {proc.stderr}")
            sys.stderr.flush()
    """
)


def _seed_store(tmp_path: Path) -> tuple[Path, Path]:
    config_path = write_config(tmp_path)
    _add_orders(config_path, range(N_ORDERS))
    return config_path, Path(load_settings(config_path, environ={}).storage.path)


def _add_orders(config_path: Path, numbers: range) -> None:
    settings = load_settings(config_path, environ={})
    with Store(settings.storage.path) as store:
        counts = ingest_snapshots(
            store, [snapshot(f"W{i:04d}", lines=1 + i % 3) for i in numbers],
            status_map=settings.status_map, source="seed",
        )
    assert counts == {"applied": len(numbers)}


def _top_up(config_path: Path, db_path: Path) -> None:
    """Keep the child busy until the kill: a fast machine can cancel every order in 22 runs,
    and a child with nothing left to do exits by itself before the kill lands."""
    conn = sqlite3.connect(db_path)
    try:
        live, total = conn.execute(
            "SELECT SUM(state IN ('TO_PICK', 'READY')), COUNT(*) FROM orders").fetchone()
    finally:
        conn.close()
    if live < N_ORDERS // 2:
        _add_orders(config_path, range(total, total + N_ORDERS))


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORE_AGENT_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


class _Reader:
    """Collects the child's complete stdout lines in a thread, up to EOF (i.e. up to the kill)."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self.ready = threading.Event()
        self._stream = stream
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for raw in self._stream:
            if not raw.endswith("\n"):  # a torn last line was never a confirmation
                break
            line = raw.rstrip("\n")
            if line == "READY":
                self.ready.set()
            else:
                self.lines.append(line)
        self.ready.set()

    def join(self) -> list[tuple[str, int]]:
        self._thread.join(timeout=30)
        assert not self._thread.is_alive(), "child's stdout never reached EOF after the kill"
        out = []
        for line in self.lines:
            event_id, seq = line.split()
            out.append((event_id, int(seq)))
        return out


def _run_and_kill(argv: list[str], *, delay_s: float, group: bool,
                  after_reports: int = 0) -> tuple[list[tuple[str, int]], str]:
    """Kill the child ``delay_s`` after it has confirmed ``after_reports`` actions.

    Waiting for confirmations rather than for wall time keeps the kill inside the
    work however slow a loaded machine makes each call.
    """
    proc = subprocess.Popen(
        argv, cwd=REPO, env=_child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=group,
    )
    try:
        reader = _Reader(proc.stdout)
        assert reader.ready.wait(30), "child never became ready"
        deadline = time.monotonic() + 120
        while len(reader.lines) < after_reports and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(delay_s)
        alive = proc.poll() is None
        if group:
            os.killpg(proc.pid, signal.SIGKILL)  # the driver and the CLI it is running
        else:
            proc.kill()  # SIGKILL
        proc.wait(timeout=30)
        reported = reader.join()
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert alive, f"child exited by itself before the kill (code {proc.returncode}): {err[-2000:]}"
    assert proc.returncode == -signal.SIGKILL
    return reported, err


def _check_db(db_path: Path, confirmed: dict[str, int]) -> int:
    """The database after a crash: intact, every confirmed event kept, seq gap-free. Returns N."""
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        seqs = [r[0] for r in conn.execute("SELECT seq FROM outbox ORDER BY seq")]
        assert seqs == list(range(1, len(seqs) + 1)), "outbox seq is not 1..N gap-free"
        stored = dict(conn.execute("SELECT event_id, seq FROM outbox"))
        missing = {e: s for e, s in confirmed.items() if e not in stored}
        assert not missing, f"{len(missing)} confirmed event(s) lost, e.g. {next(iter(missing.items()))}"
        moved = {e: (s, stored[e]) for e, s in confirmed.items() if stored[e] != s}
        assert not moved, f"confirmed events changed seq: {list(moved.items())[:3]}"
        _check_states_follow_events(conn)
        return len(seqs)
    finally:
        conn.close()


def _check_states_follow_events(conn: sqlite3.Connection) -> None:
    """Replaying each order's events gives its stored state: no change without its event."""
    expected: dict[str, tuple[str, str | None]] = {
        r[0]: ("TO_PICK", None) for r in conn.execute("SELECT order_id FROM orders")
    }
    for order_id, type_, data in conn.execute("SELECT order_id, type, data FROM outbox ORDER BY seq"):
        data = json.loads(data)
        state, bin_ = expected[order_id]
        if type_ in ("order.staged", "order.cancelled"):
            assert state in ("TO_PICK", "READY"), f"{type_} on a {state} order {order_id}"
        if type_ == "order.staged":
            expected[order_id] = ("READY", data["bin"])
        elif type_ == "order.cancelled":
            expected[order_id] = ("CANCELLED", bin_)
        elif type_ == "order.returned_to_shelf":
            assert (state, bin_ is None) == ("CANCELLED", False), f"return of {order_id} twice"
            expected[order_id] = ("CANCELLED", None)
        else:
            raise AssertionError(f"unexpected event type {type_}")
    actual = {r[0]: (r[1], r[2]) for r in conn.execute("SELECT order_id, state, bin FROM orders")}
    wrong = {o: (actual[o], expected[o]) for o in actual if actual[o] != expected[o]}
    assert not wrong, f"orders whose state disagrees with their events (actual, replayed): {wrong}"
    # Cancelling a READY order opens a return task in the same transaction.
    orphan = conn.execute(
        "SELECT o.order_id FROM orders o WHERE o.state = 'CANCELLED' AND o.bin IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM return_tasks t WHERE t.order_id = o.order_id"
        " AND t.state = 'OPEN')"
    ).fetchall()
    assert orphan == [], f"cancelled staged orders without an open return task: {orphan}"


def _seed() -> int:
    return int(os.environ.get("CRASH_SEED") or random.SystemRandom().randrange(2**31))


def test_actions_survive_sigkill_at_random_moments(tmp_path: Path):
    seed = _seed()
    rnd = random.Random(seed)
    config_path, db_path = _seed_store(tmp_path)
    script = tmp_path / "child_actions.py"
    script.write_text(ACTIONS_CHILD)

    confirmed: dict[str, int] = {}
    runs, per_run = 22, []
    for run in range(runs):
        _top_up(config_path, db_path)
        delay = rnd.uniform(0.050, 0.400)
        reported, err = _run_and_kill(
            [sys.executable, str(script), str(config_path), str(rnd.randrange(2**31))],
            delay_s=delay, group=False,
        )
        for event_id, seq in reported:
            assert confirmed.setdefault(event_id, seq) == seq, "one event id reported twice"
        confirmed.update(reported)
        per_run.append(len(reported))
        try:
            n = _check_db(db_path, confirmed)
        except AssertionError as exc:
            raise AssertionError(f"CRASH_SEED={seed} run {run} (killed after {delay * 1000:.0f} ms,"
                                 f" {len(reported)} confirmed this run): {exc}\n{err[-2000:]}") from exc
        assert n >= len(confirmed)
        # At most the one in flight at the kill committed without being reported.
        assert n - len(confirmed) <= run + 1

    # Not vacuous: the kills landed while actions were running, run after run.
    assert sum(1 for k in per_run if k > 0) >= runs - 2, f"CRASH_SEED={seed}: {per_run}"
    assert len(confirmed) >= 200, f"CRASH_SEED={seed}: only {len(confirmed)} actions confirmed"


def test_cli_commands_that_exited_0_survive_sigkill(tmp_path: Path):
    seed = _seed()
    rnd = random.Random(seed)
    config_path, db_path = _seed_store(tmp_path)
    script = tmp_path / "cli_driver.py"
    script.write_text(CLI_DRIVER)

    confirmed: dict[str, int] = {}
    runs, per_run = 5, []
    for run in range(runs):
        # After the first confirmed call, the kill lands anywhere in the next one or two
        # (a CLI call takes ~0.7 s on an idle machine).
        delay = rnd.uniform(0.0, 1.5)
        reported, err = _run_and_kill(
            [sys.executable, str(script), str(config_path), str(rnd.randrange(2**31)), str(N_ORDERS)],
            delay_s=delay, group=True, after_reports=1,
        )
        assert err == "", f"a CLI call failed before the kill: {err[-2000:]}"
        confirmed.update(reported)
        per_run.append(len(reported))
        try:
            n = _check_db(db_path, confirmed)
        except AssertionError as exc:
            raise AssertionError(f"CRASH_SEED={seed} run {run} (killed after {delay * 1000:.0f} ms):"
                                 f" {exc}") from exc
        assert len(confirmed) <= n <= len(confirmed) + run + 1

    assert sum(per_run) >= runs, f"CRASH_SEED={seed}: too few CLI calls completed: {per_run}"
