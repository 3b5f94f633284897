"""A cancel made online while the order is picked: the reference OMS and the CLI as processes.

Offline (or before the feed delivers it) the stage reaches the OMS and comes
back `conflict` with a CANCELLED snapshot: the agent applies it by itself, no
dead letter, and the return to the shelf reaches the OMS. Online, the stage
asks the OMS first and never sends a doomed event.
"""

from __future__ import annotations

from tests.test_daemon import ASSOCIATE, config_path, local, oms  # noqa: F401 (fixtures)


def scalar(station, sql: str, *args):
    return station.store.conn.execute(sql, args).fetchone()[0]


def test_a_stage_answered_conflict_by_a_cancel_settles_itself_and_the_return_reaches_the_oms(
        oms, cli, local):  # noqa: F811
    local.pull_feed()
    oid = oms.released()[0]
    oms.cancel(oid)  # the customer cancels online; the store has not heard yet
    local.actions.stage(oid, bin="B-12", associate_id=ASSOCIATE)  # a handheld, offline
    r = cli("sync", "--json")
    assert r.code == 0, r.err
    assert r.json()["dead"] == 0, r.out

    assert local.state(oid) == "CANCELLED"
    assert scalar(local, "SELECT state || ' ' || bin FROM return_tasks WHERE order_id = ?",
                  oid) == "OPEN B-12"
    assert scalar(local, "SELECT COUNT(*) FROM outbox WHERE status = 'dead'") == 0
    assert scalar(local, "SELECT COUNT(*) FROM alerts WHERE kind = 'dead_letter'") == 0
    staged = local.store.conn.execute(
        "SELECT status, result_code, json_extract(oms_result, '$.status') FROM outbox"
        " WHERE order_id = ? AND type = 'order.staged'", (oid,)).fetchone()
    assert tuple(staged) == ("acked", "superseded_by_cancel", "conflict")
    # The STOP an associate sees: the order is cancelled and its items go back.
    assert scalar(local, "SELECT severity FROM alerts WHERE kind = 'cancelled_while_ready'"
                         " AND key = ? AND resolved_at IS NULL", oid) == "critical"

    local.actions.return_to_shelf(oid, associate_id=ASSOCIATE)
    assert scalar(local, "SELECT status FROM outbox WHERE order_id = ?"
                         " AND type = 'order.returned_to_shelf'", oid) == "pending"  # not held
    r = cli("sync", "--json")
    assert r.code == 0 and r.json()["acked"] == 1, (r.out, r.err)
    sent = [e["type"] for e in oms.received() if e["order_id"] == oid]
    assert sent == ["order.staged", "order.returned_to_shelf"], sent
    assert scalar(local, "SELECT COUNT(*) FROM alerts WHERE key = ? AND resolved_at IS NULL",
                  oid) == 0


def test_staging_online_asks_the_oms_first_and_stops_on_a_cancel(oms, cli, local):  # noqa: F811
    local.pull_feed()  # online: the store's last contact worked
    oid = oms.released()[0]
    oms.cancel(oid)
    r = cli("order", "stage", oid, "--bin", "B-3", "--as", ASSOCIATE)
    assert r.code == 3, (r.code, r.out, r.err)
    assert "cancel" in r.err.lower()
    assert local.state(oid) == "CANCELLED"
    assert scalar(local, "SELECT COUNT(*) FROM outbox WHERE order_id = ?", oid) == 0
    assert scalar(local, "SELECT source FROM received_changes WHERE order_id = ?"
                         " ORDER BY id DESC LIMIT 1", oid) == "live_check"
