"""`audit` and `order show` answer "where did it stop?" alone: payloads and both clocks."""

from __future__ import annotations

from agent.clock import parse_iso
from tests.test_daemon import ASSOCIATE, config_path, local, oms  # noqa: F401 (fixtures)


def test_audit_shows_payloads_the_oms_clock_and_reconciliation_findings(oms, cli, local):  # noqa: F811
    local.pull_feed()
    oid = oms.released()[0]
    local.actions.stage(oid, bin="B-12", associate_id=ASSOCIATE)
    assert cli("sync", "--json").json()["acked"] == 1
    cancelled = oms.cancel(oid)  # the store misses it on the feed; reconciliation finds it
    assert cli("reconcile", "--json").code == 0

    entries = cli("audit", oid, "--json").json()
    received = [e for e in entries if e["direction"] == "received"]
    assert received and all(e["oms_updated_at"] for e in received), received
    last = received[-1]
    assert (last["version"], last["oms_status"]) == (cancelled["version"], "cancelled")
    assert parse_iso(last["oms_updated_at"]) == parse_iso(cancelled["updated_at"]), (last, cancelled)
    (staged,) = [e for e in entries if e["direction"] == "store_event"]
    assert staged["data"]["bin"] == "B-12" and staged["data"]["lines"], staged
    assert staged["acked_at"] and staged["oms_result"]["status"] == "accepted"
    (finding,) = [e for e in entries if e["direction"] == "reconciliation"]
    assert finding["what"] == "missed_change" and finding["source"] == "reconcile"
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)

    text = cli("audit", oid).out
    assert "B-12" in text and "missed_change" in text and last["oms_updated_at"] in text

    shown = cli("order", "show", oid, "--json").json()
    assert shown["events"][0]["data"]["bin"] == "B-12"
    assert '"bin":"B-12"' in cli("order", "show", oid).out
