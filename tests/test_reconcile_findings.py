"""Reconciliation that does not repeat itself: the reference OMS as a process, the CLI as store IT.

Each test drives the OMS into a state the store must not keep re-reporting,
then reconciles several times and counts what was written.
"""

from __future__ import annotations

import json

from tests.test_daemon import ASSOCIATE, config_path, local, oms  # noqa: F401 (fixtures)


def findings(cli, order_id: str) -> list[str]:
    r = cli("reconcile", "--json")
    assert r.code == 0, r.err
    return [f["kind"] for f in r.json()["findings"] if f["order_id"] == order_id]


def rows(station, sql: str, *args) -> list[tuple]:
    return [tuple(r) for r in station.store.conn.execute(sql, args)]


def test_an_unmapped_oms_status_is_one_quarantine_row_across_many_runs(oms, cli, local):  # noqa: F811
    local.pull_feed()
    oid = oms.released()[0]
    oms.update(oid, status="on_hold")  # a status the store's map does not know
    assert findings(cli, oid) == ["missed_change"]
    for _ in range(3):
        assert findings(cli, oid) == []
    assert rows(local, "SELECT COUNT(*) FROM quarantine WHERE order_id = ?", oid) == [(1,)]
    assert rows(local, "SELECT COUNT(*) FROM received_changes WHERE order_id = ?"
                       " AND outcome LIKE 'finding:%'", oid) == [(1,)]


def test_an_effect_the_oms_answers_duplicate_for_becomes_a_conflict_not_a_resend_loop(
        oms, cli, local):  # noqa: F811
    local.pull_feed()
    oid = oms.released()[0]
    local.actions.stage(oid, bin="B-12", associate_id=ASSOCIATE)
    assert cli("sync", "--json").json()["acked"] == 1
    oms.update(oid, status="released")  # the OMS lost the staging, but remembers the event id
    # Applied as a change the store missed, and the staging resent once, with the same id...
    assert sorted(findings(cli, oid)) == ["effect_missing", "missed_change"]
    assert cli("sync", "--json").json()["acked"] == 1
    (answer,) = rows(local, "SELECT json_extract(oms_result, '$.status') FROM outbox"
                            " WHERE order_id = ?", oid)
    assert answer == ("duplicate",)  # ...which the OMS says it applied already
    assert findings(cli, oid) == ["effect_refused"]
    assert rows(local, "SELECT status FROM outbox WHERE order_id = ?", oid) == [("acked",)]
    (conflict,) = rows(local, "SELECT conflict FROM orders WHERE order_id = ?", oid)
    assert "duplicate" in conflict[0]
    assert rows(local, "SELECT kind, severity FROM alerts WHERE key = ? AND resolved_at IS NULL",
                oid) == [("conflict", "critical")]
    for _ in range(2):  # nothing more: a person decides now
        assert findings(cli, oid) == []
        assert rows(local, "SELECT status FROM outbox WHERE order_id = ?", oid) == [("acked",)]


def test_a_return_does_not_hide_the_cancellation_before_it(oms, cli, local):  # noqa: F811
    local.pull_feed()
    oid = oms.released()[0]
    local.actions.stage(oid, bin="B-12", associate_id=ASSOCIATE)
    local.actions.cancel(oid, reason="customer_refused", associate_id=ASSOCIATE)
    local.actions.return_to_shelf(oid, associate_id=ASSOCIATE)
    assert cli("sync", "--json").json()["acked"] == 3
    oms.update(oid, status="ready_for_pickup")  # the OMS lost the cancellation
    kinds = findings(cli, oid)
    assert sorted(kinds) == ["effect_missing", "return_not_applied"], kinds
    (pending,) = rows(local, "SELECT type FROM outbox WHERE order_id = ? AND status = 'pending'", oid)
    assert pending == ("order.cancelled",)
    detail = json.loads(cli("order", "show", oid, "--json").out)
    assert "not cancelled" in (detail.get("conflict") or "")
