"""Alert ids stay unique across reinstalls and restores; a flapping condition is one alert."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from agent.alerts import notify as alert_notify
from agent.alerts import raise_alert, resolve_alert
from agent.clock import iso, parse_iso
from agent.oms import make_client
from agent.store import sync_state
from agent.store.connection import Store
from agent.workers.feed import FeedPuller
from agent.workers.sender import OutboxSender
from config import load_settings
from sync.oms_sim import OmsSimServer, SimState
from tests.factories import write_config
from tests.local_http import ThreadedApp
from tests.test_alerts import Receiver

T0 = parse_iso("2026-11-23T10:00:00Z")
TOKEN = "test-token-not-secret"  # the token in tests.factories' config


def _raise(store, at, kind="credentials"):
    with store.write() as conn:
        return raise_alert(conn, kind=kind, key="oms", message="rejected", now=iso(at),
                           severity="critical")


def _resolve(store, at, kind="credentials"):
    with store.write() as conn:
        resolve_alert(conn, kind=kind, key="oms", now=iso(at))


def test_a_fresh_install_never_reuses_an_alert_id(tmp_path):
    uuids = []
    for n in (1, 2):  # two installs: both databases start their rowids at 1
        store = Store(tmp_path / f"install{n}.db")
        alert_id = _raise(store, T0)
        assert alert_id == 1
        uuids.append(store.conn.execute("SELECT uuid FROM alerts WHERE id = 1").fetchone()[0])
        store.close()
    assert len(set(uuids)) == 2 and all(len(u) == 36 for u in uuids)


def test_the_webhook_id_is_the_alerts_uuid(tmp_path, store):
    receiver = Receiver()
    with ThreadedApp(receiver.app) as server:
        hook = f'\n[alerts]\nwebhook_url = "{server.url}/hook"\n'
        settings = load_settings(write_config(tmp_path, extra=hook), environ={})
        _raise(store, T0)
        asyncio.run(alert_notify.deliver(store, settings, now=T0))
    uuid = store.conn.execute("SELECT uuid FROM alerts").fetchone()[0]
    assert receiver.received[0]["id"] == f"{uuid}-raised"
    assert receiver.received[0]["alert"]["uuid"] == uuid


def test_resolved_and_raised_again_within_moments_is_the_same_alert(store, settings):
    first = _raise(store, T0)
    _resolve(store, T0 + timedelta(milliseconds=3))
    again = _raise(store, T0 + timedelta(milliseconds=5))
    assert again == first
    rows = store.conn.execute("SELECT resolved_at FROM alerts").fetchall()
    assert [r[0] for r in rows] == [None]  # one alert, open
    report = asyncio.run(alert_notify.deliver(store, settings, now=T0 + timedelta(seconds=1)))
    assert report.expired == 0
    assert store.conn.execute("SELECT notified_at, resolved_notified_at FROM alerts").fetchone()[1] is None


def test_a_condition_back_after_its_resolution_was_announced_is_news(store, settings):
    first = _raise(store, T0)
    asyncio.run(alert_notify.deliver(store, settings, now=T0))
    _resolve(store, T0 + timedelta(seconds=1))
    asyncio.run(alert_notify.deliver(store, settings, now=T0 + timedelta(seconds=2)))
    assert _raise(store, T0 + timedelta(seconds=3)) != first


def test_the_feed_does_not_resolve_a_rejection_the_sender_saw(tmp_path):
    """A store whose token reads the feed but whose events are refused: the alert stays up."""
    state = SimState(token=TOKEN, seed=3)
    state.add_sample_orders("S042", 2)
    with OmsSimServer(state) as sim:
        settings = load_settings(write_config(tmp_path), environ={"STORE_AGENT_OMS__URL": sim.url})
        store = Store(settings.storage.path)
        _raise(store, T0)
        with store.write() as conn:  # what the sender records with the rejection
            sync_state.put(conn, credentials_rejected="1")

        async def pull_once() -> None:
            async with make_client(settings) as client:
                await FeedPuller(store, settings, client).pull(wait=0)

        asyncio.run(pull_once())
        assert store.conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 2  # it did read
        assert store.conn.execute("SELECT resolved_at FROM alerts").fetchone()[0] is None
        # The sender's own success clears both.
        with store.write() as conn:
            OutboxSender._mark_online(conn, iso(T0 + timedelta(seconds=60)))
        assert store.conn.execute("SELECT resolved_at FROM alerts").fetchone()[0] is not None
        assert sync_state.get(store.conn, "credentials_rejected") is None
        # Without a rejection outstanding, the feed's success resolves it (a rotated token).
        _raise(store, T0 + timedelta(hours=1))
        asyncio.run(pull_once())
        assert store.conn.execute("SELECT COUNT(*) FROM alerts WHERE resolved_at IS NULL").fetchone()[0] == 0
        store.close()
