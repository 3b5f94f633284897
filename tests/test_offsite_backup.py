"""Nightly backups also reach a second location: a mounted folder, or an rsync target."""

from __future__ import annotations

import logging
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from agent.clock import utc_now
from agent.ops import maintenance
from agent.store import sync_state
from agent.store.connection import Store


@pytest.fixture
def two_orders(seed, actions):
    seed(seed.snapshot("W1001"), seed.snapshot("W1002"))


def _with(settings, **storage):
    return settings.model_copy(update={"storage": settings.storage.model_copy(update=storage)})


def _state(settings, key):
    with Store(settings.storage.path) as store, store.read() as conn:
        return sync_state.get(conn, key)


def test_offsite_folder_gets_each_backup_and_keeps_its_own_number(settings, two_orders, tmp_path):
    share = tmp_path / "nas-share"
    share.mkdir()
    start = utc_now() - timedelta(days=30)
    for day in range(5):
        (share / maintenance.backup_name(start + timedelta(days=day))).write_bytes(b"old")
    s = _with(settings, offsite_dir=share, offsite_keep=3)
    result = maintenance.nightly(s)
    local = Path(result["backup"])
    copy = share / local.name
    assert copy.read_bytes() == local.read_bytes()
    assert copy.stat().st_mode & 0o077 == 0
    assert maintenance.verify_backup(copy)["orders"] == 2
    assert len(sorted(share.glob("agent-*.db"))) == 3 and len(result["offsite"]["removed"]) == 3
    assert not list(share.glob(".*partial"))
    assert _state(s, "last_offsite_backup_at") is not None


def test_unmounted_share_is_logged_and_the_local_backup_stands(settings, two_orders, tmp_path, caplog):
    s = _with(settings, offsite_dir=tmp_path / "not-mounted")
    with caplog.at_level(logging.ERROR, logger="store_agent.backup"):
        result = maintenance.nightly(s)
    assert Path(result["backup"]).exists()
    assert result["offsite"]["errors"] and "not a mounted folder" in caplog.text
    assert "not-mounted" in _state(s, "last_offsite_error")
    assert _state(s, "last_offsite_backup_at") is None


@pytest.mark.skipif(shutil.which("rsync") is None, reason="rsync is not installed")
def test_rsync_target_mirrors_the_backups_with_their_retention(settings, two_orders, tmp_path):
    target = tmp_path / "rsync-target"
    target.mkdir()
    (target / maintenance.backup_name(utc_now() - timedelta(days=400))).write_bytes(b"gone")
    s = _with(settings, offsite_rsync=f"{target}/", backup_keep=2)
    first = Path(maintenance.nightly(s)["backup"])
    second = Path(maintenance.nightly(s, now=utc_now() + timedelta(days=1))["backup"])
    mirrored = sorted(p.name for p in target.glob("agent-*.db"))
    assert mirrored == sorted([first.name, second.name])  # the stale one went with --delete
    assert (target / second.name).read_bytes() == second.read_bytes()
    assert _state(s, "last_offsite_error") is None


def test_failing_rsync_is_reported(settings, two_orders, tmp_path):
    if shutil.which("rsync") is None:
        pytest.skip("rsync is not installed")
    s = _with(settings, offsite_rsync=str(tmp_path / "no" / "such" / "parent" / "dir") + "/")
    result = maintenance.nightly(s)
    assert result["offsite"]["errors"] and "rsync" in result["offsite"]["errors"][0]
