"""Files root writes (config init, set-pin) never go through a planted link, and keep their owner."""

from __future__ import annotations

import grp
import os
import stat

import pytest


def test_config_init_writes_through_no_link(cli, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    link = tmp_path / "linked.toml"
    link.symlink_to(victim)
    assert cli("config", "init", str(link)).code == 2  # something is there: never overwritten
    dangling = tmp_path / "dangling.toml"
    dangling.symlink_to(tmp_path / "created-by-root.txt")
    assert cli("config", "init", str(dangling)).code == 2
    assert not (tmp_path / "created-by-root.txt").exists()
    assert cli("config", "init", "--force", str(link)).code == 2  # replace a link? refused
    assert victim.read_text() == "keep"


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's group to another needs root")
def test_set_pin_as_root_keeps_the_services_read_access(cli, config_path):
    group = grp.getgrnam("nogroup").gr_gid
    os.chown(config_path, 0, group)
    config_path.chmod(0o640)
    r = cli("associate", "set-pin", "A100", stdin="471100\n")
    assert r.code == 0, r.err
    after = config_path.stat()
    assert (after.st_uid, after.st_gid, stat.S_IMODE(after.st_mode)) == (0, group, 0o640)
    assert not [p for p in config_path.parent.iterdir() if p.name.endswith(".tmp")]


def test_set_pin_never_writes_a_linked_config(cli, config_path, tmp_path):
    # PINs live in the database: the configuration, a link or not, is only read.
    real = tmp_path / "real.toml"
    config_path.rename(real)
    config_path.symlink_to(real)
    before = real.read_text()
    r = cli("associate", "set-pin", "A100", stdin="471100\n")
    assert r.code == 0, r.err
    assert real.read_text() == before and config_path.is_symlink()
