"""The command line through real subprocesses: JSON fields, exit codes, one-line refusals."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from tests.conftest import GUARDED, table_dump
from tests.factories import snapshot

REPO = Path(__file__).resolve().parent.parent
MANAGER_PIN = "135700"


@pytest.fixture
def seeded(cli, tmp_path):
    import json

    path = tmp_path / "snaps.json"
    path.write_text(json.dumps([snapshot("W1001"), snapshot("W1002", code="ZZ9ZZ9")]))
    r = cli("import-snapshots", str(path))
    assert r.code == 0, r.err
    assert cli("associate", "set-pin", "M1", stdin=f"{MANAGER_PIN}\n").code == 0
    return cli


def _no_traceback(r):
    assert "Traceback" not in r.err and len(r.err.strip().splitlines()) <= 1, r.err


def test_orders_json_fields(seeded):
    r = seeded("orders", "--json")
    assert r.code == 0
    rows = r.json()
    assert {row["order_id"] for row in rows} == {"W1001", "W1002"}
    for key in ("order_id", "state", "bin", "version", "fulfillment", "customer_name",
                "hold_until", "pending_events"):
        assert key in rows[0]


def test_stage_show_and_events(seeded):
    r = seeded("order", "stage", "W1001", "--bin", "B-07", "--as", "A100", "--line", "L1=1", "--json")
    assert r.code == 0, r.err
    staged = r.json()
    assert staged["state"] == "READY" and staged["seq"] == 1
    show = seeded("order", "show", "W1001", "--json").json()
    for key in ("order_id", "state", "bin", "version", "oms_status", "lines", "return_task", "events"):
        assert key in show
    assert show["return_task"] is None and show["bin"] == "B-07"
    [event] = show["events"]
    assert {"event_id", "seq", "type", "status", "occurred_at", "acked_at"} <= set(event)
    assert event["event_id"] == staged["event_id"] and event["status"] == "pending"
    assert "K7Q9MX" not in seeded("order", "show", "W1001", "--json").out


def test_cancel_from_ready_shows_open_return_task_then_return(seeded):
    seeded("order", "stage", "W1001", "--bin", "B-07", "--as", "A100")
    assert seeded("order", "cancel", "W1001", "--reason", "damaged", "--as", "A100").code == 0
    assert seeded("order", "show", "W1001", "--json").json()["return_task"]["state"] == "OPEN"
    assert seeded("order", "return", "W1001", "--as", "A100").code == 0
    assert seeded("order", "show", "W1001", "--json").json()["return_task"]["state"] == "DONE"


@pytest.mark.parametrize("args", [
    ("order", "stage", "W404", "--bin", "B-07", "--as", "A100"),
    ("order", "stage", "W1001", "--bin", "bad bin", "--as", "A100"),
    ("order", "stage", "W1001", "--bin", "B-07", "--as", "NOBODY"),
    ("order", "pickup", "W1001", "--code", "K7Q9MX", "--as", "A100", "--override-by", "M1",
     "--pin-stdin"),
    ("order", "cancel", "W1001", "--reason", "other", "--as", "A100"),
    ("order", "return", "W1001", "--as", "A100"),
    ("order", "stage", "W1001", "--bin", "B-07", "--as", "A100", "--line", "L9=1"),
])
def test_business_refusals_exit_3_and_change_nothing(seeded, config_path, args):
    seeded("order", "cancel", "W1001", "--reason", "other", "--as", "A100")
    db = config_path.parent / "agent.db"
    before = table_dump(db, *GUARDED)
    r = seeded(*args, stdin=f"{MANAGER_PIN}\n")
    assert r.code == 3, (r.code, r.err)
    _no_traceback(r)
    assert table_dump(db, *GUARDED) == before


def test_wrong_pickup_code_exits_3(seeded):
    seeded("order", "stage", "W1001", "--bin", "B-07", "--as", "A100")
    r = seeded("order", "pickup", "W1001", "--code", "WRONG1", "--as", "A100", "--yes")
    assert r.code == 3 and "wrong pickup code" in r.err


def test_offline_pickup_needs_a_person_exit_4(seeded):
    seeded("order", "stage", "W1001", "--bin", "B-07", "--as", "A100")
    r = seeded("order", "pickup", "W1001", "--code", "K7Q9MX", "--as", "A100", "--yes")
    # Never heard from the OMS: older than any staleness limit, so warn needs a manager.
    assert r.code == 4 and "--override-by" in r.err
    _no_traceback(r)
    r = seeded("order", "pickup", "W1001", "--code", "K7Q9MX", "--as", "A100", "--override-by", "M1",
               "--pin-stdin", stdin=f"{MANAGER_PIN}\n")
    assert r.code == 0, r.err


@pytest.mark.parametrize("args", [
    ("order", "stage", "W1001", "--as", "A100"),                       # missing --bin
    ("order", "stage", "W1001", "--bin", "B-07", "--as", "A100", "--line", "L1"),
    ("order", "cancel", "W1001", "--reason", "bored", "--as", "A100"),
    ("orders", "--state", "LOST"),
    ("no-such-command",),
])
def test_usage_errors_exit_2(seeded, args):
    r = seeded(*args)
    assert r.code == 2, (r.code, r.err)
    assert "Traceback" not in r.err


def test_pickup_without_code_or_override_is_usage_exit_2(seeded):
    seeded("order", "stage", "W1001", "--bin", "B-07", "--as", "A100")
    r = seeded("order", "pickup", "W1001", "--as", "A100", "--yes")
    assert r.code == 2 and "--code" in r.err and "--override-by" in r.err, (r.code, r.err)
    assert seeded("order", "show", "W1001", "--json").json()["state"] == "READY"


def test_unknown_station_names_the_flag_exit_2(seeded):
    r = seeded("orders", "--station", "nowhere")
    assert r.code == 2 and "--station nowhere" in r.err, (r.code, r.err)
    _no_traceback(r)


def test_oms_unreachable_is_unavailable_exit_5_not_a_bug(seeded):
    seeded("order", "stage", "W1001", "--bin", "B-07", "--as", "A100")
    for args in (("sync",), ("reconcile",)):
        r = seeded(*args)
        assert r.code == 5, (args, r.code, r.err)  # the factory config's OMS is down
        assert "a bug" not in r.err and "Traceback" not in r.err
    assert seeded("status", "--json").json()["outbox"]["pending"] == 1  # nothing lost


def test_broken_config_exits_2_naming_key(cli, config_path):
    config_path.write_text(config_path.read_text() + '\n[sync]\nbatch_size = "lots"\n')
    r = cli("status")
    assert r.code == 2 and "sync.batch_size" in r.err and "STORE_AGENT_SYNC__BATCH_SIZE" in r.err
    assert cli("config", "check").code == 2


def test_env_overrides_file(cli, tmp_path):
    r = cli("status", "--json", env={"STORE_AGENT_STORAGE__PATH": str(tmp_path / "other.db")})
    assert r.code == 0 and (tmp_path / "other.db").exists()


def test_status_json_fields(seeded):
    seeded("order", "stage", "W1001", "--bin", "B-07", "--as", "A100")
    s = seeded("status", "--json").json()
    assert {"online", "last_feed_success_at", "outbox", "quarantined", "alerts"} <= set(s)
    assert set(s["outbox"]) >= {"pending", "oldest_pending_age_s", "dead_letters", "blocked_orders"}
    assert s["outbox"]["pending"] == 1 and s["online"] is False


def test_dlq_retry_and_discard(seeded, config_path):
    import sqlite3

    seeded("order", "stage", "W1001", "--bin", "B-07", "--as", "A100")
    seeded("order", "stage", "W1001", "--bin", "B-08", "--as", "A100")
    conn = sqlite3.connect(config_path.parent / "agent.db")
    conn.execute("UPDATE outbox SET status='dead', dead_kind='rejected', result_code='bad_bin',"
                 " result_message='no such bin', dead_at='2026-11-23T10:00:00.000Z' WHERE seq=1")
    conn.execute("UPDATE outbox SET status='held' WHERE seq=2")
    conn.commit()
    conn.close()
    [dead] = seeded("dlq", "list", "--json").json()
    assert {"event_id", "order_id", "type", "kind", "code", "message", "dead_at"} <= set(dead)
    assert seeded("status", "--json").json()["outbox"]["blocked_orders"] == 1
    r = seeded("dlq", "discard", dead["event_id"], "--reason", "bin fixed by hand", "--as", "A100",
               "--pin-stdin", stdin=f"{MANAGER_PIN}\n")
    assert r.code == 3 and "wrong id or PIN" in r.err  # never "not a manager"
    r = seeded("dlq", "discard", dead["event_id"], "--reason", "bin fixed by hand", "--as", "M1",
               "--pin-stdin", stdin=f"{MANAGER_PIN}\n")
    assert r.code == 0, r.err
    assert seeded("dlq", "list", "--json").json() == []
    events = seeded("order", "show", "W1001", "--json").json()["events"]
    assert [e["status"] for e in events] == ["dead", "pending"]
    assert events[0]["resolution"] == "discarded: bin fixed by hand" and events[0]["resolved_by"] == "M1"


def test_a_manager_action_needs_the_managers_pin(seeded, config_path):
    seeded("order", "stage", "W1001", "--bin", "B-07", "--as", "A100")
    db = config_path.parent / "agent.db"
    before = table_dump(db, *GUARDED)
    override = ("order", "pickup", "W1001", "--as", "A100", "--override-by", "M1", "--yes")
    r = seeded(*override)  # a name alone: no terminal, no --pin-stdin
    assert r.code == 2 and "--pin-stdin" in r.err and "PIN" in r.err, (r.code, r.err)
    r = seeded(*override, "--pin-stdin", stdin="000000\n")
    assert r.code == 3 and "wrong id or PIN" in r.err, (r.code, r.err)
    r = seeded("order", "resolve-conflict", "W1001", "--note", "called", "--as", "M1")
    assert r.code == 2
    assert table_dump(db, *GUARDED) == before
    r = seeded(*override, "--pin-stdin", stdin=f"{MANAGER_PIN}\n")
    assert r.code == 0, r.err
    audit = seeded("order", "show", "W1001", "--json").json()
    assert audit["state"] == "PICKED_UP"


def test_quarantine_list(cli, tmp_path):
    import json

    path = tmp_path / "s.json"
    path.write_text(json.dumps([snapshot("W1", status="teleported")]))
    cli("import-snapshots", str(path))
    [row] = cli("quarantine", "list", "--json").json()
    assert {"id", "order_id", "reason", "received_at"} <= set(row) and row["order_id"] == "W1"


def test_audit_chain(seeded):
    seeded("order", "stage", "W1001", "--bin", "B-07", "--as", "A100")
    chain = seeded("audit", "W1001", "--json").json()
    assert [c["direction"] for c in chain] == ["received", "store_event"]
    assert seeded("audit", "W404").code == 3


def test_config_init_never_overwrites(cli, tmp_path):
    target = tmp_path / "new.toml"
    assert cli("config", "init", str(target)).code == 0
    assert target.stat().st_mode & 0o777 == 0o600
    assert cli("config", "init", str(target)).code == 2
    # The unedited template is not a configuration: its placeholders are named.
    r = cli("--config", str(target), "config", "check")
    assert r.code == 2 and "oms.token" in r.err and "oms.url" in r.err, r.err
    target.write_text(target.read_text().replace('"change-me"', '"s3cr3t"')
                      .replace("https://oms.example.com", "https://oms.chain.test"))
    assert cli("--config", str(target), "config", "check").code == 0


def _commands(parser: argparse.ArgumentParser, prefix=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                has_sub = any(isinstance(a, argparse._SubParsersAction) for a in sub._actions)
                if has_sub:
                    yield from _commands(sub, (*prefix, name))
                else:
                    yield " ".join((*prefix, name))


def test_every_command_is_documented():
    from ui.cli.main import build_parser

    doc = (REPO / "docs" / "cli.md").read_text()
    headings = re.findall(r"^### `([^`]+)`", doc, re.M)
    documented = {h.split(" [")[0].split(" --")[0] for h in headings}
    documented = {re.sub(r" [A-Z_]+$", "", re.sub(r" (ID|PATH|EVENT_ID|PRINTER|JOB)\b.*", "", d))
                  for d in documented}
    missing = [c for c in _commands(build_parser()) if c not in documented]
    assert not missing, f"commands missing from docs/cli.md: {missing}"


def test_orders_no_shows(cli, tmp_path):
    import json

    path = tmp_path / "s.json"
    path.write_text(json.dumps([snapshot("W1", hold_until="2020-01-01T00:00:00Z"),
                                snapshot("W2", hold_until="2099-01-01T00:00:00Z"),
                                snapshot("W3", hold_until="2020-01-01T00:00:00Z", status="cancelled")]))
    assert cli("import-snapshots", str(path)).code == 0
    assert [r["order_id"] for r in cli("orders", "--no-shows", "--json").json()] == ["W1"]
