"""Token rotation while the daemon runs: the reference OMS and `store-agent run` as processes.

The OMS accepts only ``TOKEN``; the daemon starts with a wrong one, so its
backlog waits behind a `credentials` alert. ``credentials_retry_s`` is an hour:
a drain within the test's bound proves the new token was taken because it
changed (or on SIGHUP), not because a periodic retry came round.
"""

from __future__ import annotations

import signal
from pathlib import Path

from tests.test_daemon import (
    ASSOCIATE,
    TOKEN,
    DaemonProcess,
    Oms,
    Station,
    agent_config,
    query,
    wait_for,
)

WRONG = "tok-rotated-away-0000000000"


def _backlog_config(tmp_path: Path, oms: Oms, *, token_file: Path | None) -> Path:
    config = agent_config(tmp_path, oms.url)
    text = config.read_text().replace("[sync]\n", "[sync]\ncredentials_retry_s = 3600\n")
    if token_file is not None:
        token_file.write_text(WRONG + "\n")
        token_file.chmod(0o600)
        text = text.replace(f'token = "{TOKEN}"', f'token_file = "{token_file}"')
    else:
        text = text.replace(f'token = "{TOKEN}"', f'token = "{WRONG}"')
    config.write_text(text)
    return config


def _refused_with_a_backlog(tmp_path: Path, oms: Oms, config: Path) -> tuple[DaemonProcess, Path]:
    db = tmp_path / "agent.db"
    station = Station(config)
    station.settings.oms.token = None  # this process pulls with the right token, not the config's
    station.settings.oms.token_file = None
    station.settings.__dict__["oms_token"] = lambda: TOKEN
    oms_orders = oms.released()[:3]
    from agent.orders.ingest import ingest_snapshots

    ingest_snapshots(station.store, [oms.orders()[o] for o in oms_orders],
                     status_map=station.settings.status_map, source="feed")
    for i, oid in enumerate(oms_orders):
        station.actions.stage(oid, bin=f"B-{i + 1}", associate_id=ASSOCIATE)
    station.store.close()
    daemon = DaemonProcess(config, tmp_path / "daemon.log")
    daemon.wait_started()
    wait_for(lambda: query(db, "SELECT COUNT(*) FROM alerts WHERE kind = 'credentials'"
                               " AND resolved_at IS NULL")[0][0] == 1,
             "the OMS to refuse the wrong token")
    assert query(db, "SELECT COUNT(*) FROM outbox WHERE status = 'pending'")[0][0] == 3
    return daemon, db


def _drained(db: Path) -> bool:
    return (query(db, "SELECT COUNT(*) FROM outbox WHERE status = 'acked'")[0][0] == 3
            and query(db, "SELECT COUNT(*) FROM alerts WHERE kind = 'credentials'"
                          " AND resolved_at IS NULL")[0][0] == 0)


def test_sighup_applies_a_new_inline_token_at_once_and_the_backlog_drains(tmp_path):
    oms = Oms(tmp_path, orders=5)
    daemon = None
    try:
        config = _backlog_config(tmp_path, oms, token_file=None)
        daemon, db = _refused_with_a_backlog(tmp_path, oms, config)
        # Edited in place, as store IT does, then `systemctl reload store-agent`.
        config.write_text(config.read_text().replace(WRONG, TOKEN))
        daemon.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: _drained(db), lambda: f"the backlog to drain:\n{daemon.log()[-2000:]}",
                 timeout=20)
        assert "SIGHUP: the OMS token or URL changed" in daemon.log()
        assert daemon.proc.poll() is None
        code, _ = daemon.terminate()
        assert code == 0
    finally:
        if daemon is not None:
            daemon.ensure_dead()
        oms.stop()


def test_a_rotated_token_file_is_used_at_the_next_request_without_a_signal(tmp_path):
    oms = Oms(tmp_path, orders=5)
    daemon = None
    try:
        token_file = tmp_path / "oms.token"
        config = _backlog_config(tmp_path, oms, token_file=token_file)
        daemon, db = _refused_with_a_backlog(tmp_path, oms, config)
        rotated = tmp_path / "oms.token.new"  # replaced the way rotation tools do: rename
        rotated.write_text(TOKEN + "\n")
        rotated.chmod(0o600)
        rotated.replace(token_file)
        wait_for(lambda: _drained(db), lambda: f"the backlog to drain:\n{daemon.log()[-2000:]}",
                 timeout=20)
        assert "a credentials file changed" in daemon.log()
        code, _ = daemon.terminate()
        assert code == 0
    finally:
        if daemon is not None:
            daemon.ensure_dead()
        oms.stop()
