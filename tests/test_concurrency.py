"""Several real processes writing to one database file at the same time.

No associate may ever see "database is locked": BEGIN IMMEDIATE plus
busy_timeout must turn contention into waiting. Each child is a separate
interpreter started with subprocess; all wait for a start file so that they
really write at once, run for a few seconds, and exit non-zero (with the
traceback on stderr) on the first exception of any kind.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agent.orders.ingest import ingest_snapshots
from agent.store.connection import Store
from agent.store.schema import MIGRATIONS
from config import load_settings
from tests.factories import snapshot, write_config
from tests.test_crash import _check_states_follow_events

REPO = Path(__file__).resolve().parent.parent
DURATION_S = 4.0
N_ORDERS = 300
ACTION_ORDERS = range(0, 200)  # staged/cancelled/returned by the Actions process
CLI_ORDERS = range(200, 250)  # staged by the CLI driver

pytestmark = pytest.mark.slow

# The least each writer does (actions, ingest batches, CLI stagings) before it stops, however
# slow the machine: the window is a minimum, not the whole run, so a starved child (five suites
# side by side) does its share late instead of failing the floors below by luck.
MIN_WORK = (20, 10, 1)

# Shared prologue: say READY, wait for the start file, return the deadline.
PROLOGUE = textwrap.dedent(
    f"""
    import json, os, random, sys, time
    MIN_WORK = {MIN_WORK!r}
    def wait_for_start(start_file, duration):
        sys.stdout.write("READY\\n"); sys.stdout.flush()
        while not os.path.exists(start_file):
            time.sleep(0.0005)
        return time.time(), time.monotonic() + duration
    """
)

ACTIONS_CHILD = PROLOGUE + textwrap.dedent(
    """
    from agent.orders.actions import Actions
    from agent.store.connection import Store
    from config import load_settings
    config_path, start_file, duration, lo, hi = sys.argv[1:6]
    rnd = random.Random(1)
    settings = load_settings(config_path, environ={})
    store = Store(settings.storage.path)
    actions = Actions(store, settings)
    state = {f"W{i:04d}": ("TO_PICK", None) for i in range(int(lo), int(hi))}
    open_tasks = set()
    started, deadline = wait_for_start(start_file, float(duration))
    done = 0
    while time.monotonic() < deadline or done < MIN_WORK[0]:
        live = [o for o, (s, _) in state.items() if s in ("TO_PICK", "READY")]
        roll = rnd.random()
        if open_tasks and roll < 0.05:
            oid = rnd.choice(sorted(open_tasks))
            result = actions.return_to_shelf(oid, associate_id="A100")
            open_tasks.discard(oid)
            state[oid] = ("CANCELLED", None)
        elif not live:
            break
        elif roll < 0.08:
            oid = rnd.choice(live)
            result = actions.cancel(oid, reason="customer_refused", associate_id="A100")
            if result.return_task_id is not None:
                open_tasks.add(oid)
            state[oid] = ("CANCELLED", state[oid][1])
        else:
            oid = rnd.choice(live)
            new_bin = "B2" if state[oid][1] == "B1" else "B1"
            result = actions.stage(oid, bin=new_bin, associate_id="A100")
            state[oid] = ("READY", new_bin)
        print(result.event.event_id, result.event.seq, flush=True)
        done += 1
    print("WINDOW", started, time.time(), flush=True)
    """
)

INGEST_CHILD = PROLOGUE + textwrap.dedent(
    """
    from collections import Counter
    from agent.orders.ingest import ingest_snapshots
    from agent.store.connection import Store
    from config import load_settings
    from tests.factories import snapshot
    config_path, start_file, duration, n_orders = sys.argv[1:5]
    rnd = random.Random(2)
    settings = load_settings(config_path, environ={})
    store = Store(settings.storage.path)
    versions = {f"W{i:04d}": 1 for i in range(int(n_orders))}
    outcomes, batches, new = Counter(), 0, 0
    started, deadline = wait_for_start(start_file, float(duration))
    while time.monotonic() < deadline or batches < MIN_WORK[1]:
        batch = []
        for oid in rnd.sample(sorted(versions), 5):
            versions[oid] += 1
            arrival = ({"arrived_at": "2026-11-23T15:05:00Z", "bay": str(versions[oid] % 9),
                        "vehicle": None} if rnd.random() < 0.3 else None)
            batch.append(snapshot(oid, version=versions[oid], lines=2, arrival=arrival))
        if rnd.random() < 0.2:
            oid = f"N{new:05d}"
            new += 1
            versions[oid] = 1
            batch.append(snapshot(oid))
        outcomes.update(ingest_snapshots(store, batch, status_map=settings.status_map,
                                         source="feed", sync_state={"cursor": str(batches)}))
        batches += 1
    print("INGEST", json.dumps({"outcomes": outcomes, "batches": batches, "versions": versions}),
          flush=True)
    print("WINDOW", started, time.time(), flush=True)
    """
)

CLI_DRIVER = PROLOGUE + textwrap.dedent(
    """
    import subprocess
    config_path, start_file, duration, lo, hi = sys.argv[1:6]
    rnd = random.Random(3)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORE_AGENT_")}
    env["STORE_AGENT_CONFIG"] = config_path
    failures = 0
    started, deadline = wait_for_start(start_file, float(duration))
    done = 0
    while time.monotonic() < deadline or done + failures < MIN_WORK[2]:
        oid = f"W{rnd.randrange(int(lo), int(hi)):04d}"
        proc = subprocess.run(
            [sys.executable, "-m", "ui.cli.main", "order", "stage", oid, "--bin", rnd.choice(["C1", "C2"]),
             "--as", "A100", "--json"], capture_output=True, text=True, env=env)
        if proc.returncode != 0 or proc.stderr:
            failures += 1
            sys.stderr.write(f"exit {proc.returncode}: {proc.stderr}")
            continue
        doc = json.loads(proc.stdout)
        print(doc["event_id"], doc["seq"], flush=True)
        done += 1
    print("WINDOW", started, time.time(), flush=True)
    sys.exit(1 if failures else 0)
    """
)

FRESH_CHILD = PROLOGUE + textwrap.dedent(
    """
    from agent.orders.ingest import ingest_snapshots
    from agent.store.connection import Store
    from config import load_settings
    from tests.factories import snapshot
    config_path, start_file, who = sys.argv[1:4]
    settings = load_settings(config_path, environ={})
    wait_for_start(start_file, 0)
    store = Store(settings.storage.path)
    # The schema must be usable at once, whoever migrated it.
    out = ingest_snapshots(store, [snapshot(f"F{who}")], status_map=settings.status_map, source="seed")
    assert out == {"applied": 1}, out
    print("OK", store.conn.execute("PRAGMA journal_mode").fetchone()[0], flush=True)
    store.close()
    """
)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORE_AGENT_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def _start_all(tmp_path: Path, commands: list[list[str]], start_file: Path) -> list[subprocess.Popen]:
    """Start the children, wait until each is READY, then release them together."""
    procs = [
        subprocess.Popen(cmd, cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
        for cmd in commands
    ]
    for proc in procs:
        first = proc.stdout.readline()
        if first != "READY\n":
            for p in procs:
                p.kill()
            raise AssertionError(f"child did not start: {first!r} {proc.stderr.read()[-3000:]}")
    start_file.touch()
    return procs


def _finish(procs: list[subprocess.Popen], timeout: float) -> list[tuple[int, str, str]]:
    results = []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            err += "\n(killed: timeout)"
        results.append((proc.returncode, out, err))
    return results


def _script(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_writers_in_three_processes_never_see_locked(tmp_path: Path):
    config_path = write_config(tmp_path)
    settings = load_settings(config_path, environ={})
    db_path = Path(settings.storage.path)
    with Store(db_path) as store:
        ingest_snapshots(store, [snapshot(f"W{i:04d}") for i in range(N_ORDERS)],
                         status_map=settings.status_map, source="seed")
    start = tmp_path / "start"
    py = sys.executable
    procs = _start_all(tmp_path, [
        [py, _script(tmp_path, "actions.py", ACTIONS_CHILD), str(config_path), str(start),
         str(DURATION_S), str(ACTION_ORDERS.start), str(ACTION_ORDERS.stop)],
        [py, _script(tmp_path, "ingest.py", INGEST_CHILD), str(config_path), str(start),
         str(DURATION_S), str(N_ORDERS)],
        [py, _script(tmp_path, "cli.py", CLI_DRIVER), str(config_path), str(start),
         str(DURATION_S), str(CLI_ORDERS.start), str(CLI_ORDERS.stop)],
    ], start)
    results = _finish(procs, timeout=DURATION_S + 60)

    for name, (code, _out, err) in zip(("actions", "ingest", "cli"), results, strict=True):
        assert code == 0 and err == "", f"{name} process failed (exit {code}):\n{err[-4000:]}"

    reported: dict[str, int] = {}
    windows = []
    ingest_report = None
    per_proc = []
    for _code, out, _err in results:
        count = 0
        for line in out.splitlines():
            if line.startswith("WINDOW "):
                windows.append(tuple(float(x) for x in line.split()[1:]))
            elif line.startswith("INGEST "):
                ingest_report = json.loads(line[len("INGEST "):])
            else:
                event_id, seq = line.split()
                assert event_id not in reported
                reported[event_id] = int(seq)
                count += 1
        per_proc.append(count)

    # They really ran at the same time, and each did real work.
    assert len(windows) == 3
    overlap = min(end for _s, end in windows) - max(start for start, _e in windows)
    assert overlap >= DURATION_S * 0.5, f"the writers barely overlapped: {windows}"
    actions_n, _, cli_n = per_proc
    # Floors low enough for a loaded 2-core machine (an idle one does ~1,500 actions): they only
    # prove the writers really ran at the same time.
    assert actions_n >= MIN_WORK[0], per_proc
    assert cli_n >= MIN_WORK[2], per_proc
    assert ingest_report is not None and ingest_report["batches"] >= MIN_WORK[1], ingest_report
    outcomes = ingest_report["outcomes"]
    assert set(outcomes) <= {"applied", "kept_store_state"}, outcomes

    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        seqs = [r[0] for r in conn.execute("SELECT seq FROM outbox ORDER BY seq")]
        assert seqs == list(range(1, len(seqs) + 1)), "outbox seq is not gap-free"
        stored = dict(conn.execute("SELECT event_id, seq FROM outbox"))
        # Nobody was killed: every event in the outbox was reported, and with its seq.
        assert stored == reported
        versions = dict(conn.execute("SELECT order_id, version FROM orders"))
        assert versions == ingest_report["versions"], "a snapshot was lost or applied twice"
        applied = conn.execute("SELECT COUNT(*) FROM received_changes WHERE source = 'feed'").fetchone()[0]
        assert applied == sum(outcomes.values())
        assert conn.execute("SELECT value FROM sync_state WHERE key = 'cursor'").fetchone()[0] == str(
            ingest_report["batches"] - 1)
        _check_states_follow_events(conn)
    finally:
        conn.close()


@pytest.mark.parametrize("trial", range(3))
def test_processes_migrating_a_fresh_database_at_once(tmp_path: Path, trial: int):
    config_path = write_config(tmp_path)
    db_path = Path(load_settings(config_path, environ={}).storage.path)
    assert not db_path.exists()
    start = tmp_path / "start"
    script = _script(tmp_path, "fresh.py", FRESH_CHILD)
    procs = _start_all(tmp_path, [[sys.executable, script, str(config_path), str(start), str(i)]
                                  for i in range(3)], start)
    results = _finish(procs, timeout=60)
    for code, out, err in results:
        assert (code, out, err) == (0, "OK wal\n", ""), f"exit {code}: {out} {err[-4000:]}"

    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        rows = conn.execute(
            "SELECT migration_set, name FROM _sqlite_migrations ORDER BY id").fetchall()
        assert rows == [("store-agent", m.name) for m in MIGRATIONS._migrations]
        assert sorted(r[0] for r in conn.execute("SELECT order_id FROM orders")) == ["F0", "F1", "F2"]
    finally:
        conn.close()


def test_a_database_caught_mid_checkpoint_is_not_called_damaged(tmp_path: Path):
    """Another process's checkpoint copies pages from the WAL into the file while a new Store
    looks at it: the file alone is then half old, half new, and only a read through the WAL
    (with its locks) sees the database as it is. Store once told an associate to restore a
    backup here (the three-writer test above caught it, one run in many)."""
    path = tmp_path / "agent.db"
    Store(path).close()
    writer = sqlite3.connect(path, isolation_level=None)  # the other process, mid-work
    try:
        writer.execute("PRAGMA wal_autocheckpoint=0")
        writer.execute("BEGIN")
        for i in range(120):  # a schema that spans many new pages, all of them in the WAL
            writer.execute(f"CREATE TABLE extra_{i} (id INTEGER PRIMARY KEY, note TEXT DEFAULT"
                           f" '{'x' * 200}')")
        writer.execute("COMMIT")
        # The checkpoint has copied its first page (the schema's root) and not yet the rest.
        wal = path.with_name(path.name + "-wal").read_bytes()
        page_size = int.from_bytes(wal[8:12], "big")  # a 32-byte WAL header, then frames:
        root = None                                        # a 24-byte header (page number first)
        for at in range(32, len(wal) - page_size, 24 + page_size):  # and the page
            if int.from_bytes(wal[at:at + 4], "big") == 1:
                root = wal[at + 24:at + 24 + page_size]
        assert root is not None, "page 1 is in the WAL"
        with open(path, "r+b") as db:
            db.write(root)
        alone = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
        with pytest.raises(sqlite3.DatabaseError, match="malformed"):  # the file alone
            alone.execute("SELECT count(*) FROM sqlite_master").fetchone()
        alone.close()

        with Store(path) as store:
            tables = store.conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE name LIKE 'extra_%'").fetchone()[0]
        assert tables == 120
    finally:
        writer.close()
