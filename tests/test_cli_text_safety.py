"""The CLI's tables and messages never pass a control character from OMS data to the terminal."""

from __future__ import annotations

import json
import sqlite3

from tests.hostile_text import CLEAR, OSC52, SHOWN, has_control_characters, hostile_snapshot


def test_hostile_order_prints_literally_without_control_characters(cli, tmp_path):
    path = tmp_path / "snaps.json"
    path.write_text(json.dumps([hostile_snapshot()]))
    assert cli("import-snapshots", str(path)).code == 0
    listed = cli("orders")
    shown = cli("order", "show", SHOWN["order_id"])
    assert listed.code == 0 and shown.code == 0, listed.err + shown.err
    for out in (listed.out, shown.out, listed.err, shown.err):
        assert not has_control_characters(out), repr(out)
    assert SHOWN["order_id"] in listed.out and SHOWN["name"] in listed.out
    assert SHOWN["vehicle"] in shown.out
    for description in SHOWN["descriptions"]:
        assert description in shown.out


def test_control_characters_already_in_the_database_are_not_printed(cli, config_path, tmp_path):
    # Rows stored before the boundary stripped them (or by another tool) are still data.
    path = tmp_path / "snaps.json"
    path.write_text(json.dumps([hostile_snapshot()]))
    assert cli("import-snapshots", str(path)).code == 0
    db = tmp_path / "agent.db"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE orders SET customer_name = ?", (f"Eve{CLEAR}{OSC52}",))
    listed = cli("orders")
    assert listed.code == 0 and "Eve[2J]52;c;aGk=" in listed.out
    assert not has_control_characters(listed.out), repr(listed.out)
    missing = cli("order", "show", f"W0{CLEAR}")
    assert missing.code != 0 and not has_control_characters(missing.err), repr(missing.err)
