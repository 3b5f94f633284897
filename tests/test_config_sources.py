"""Config that management tools can own: PINs in the database, config.d drop-ins, the webhook
URL from a file or a systemd credential, and the unedited template refused."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import tempfile
from pathlib import Path

import pytest

from agent.associates import roster
from agent.associates.pins import hash_pin, verify_pin
from agent.store.connection import Store
from config import ConfigError, load_settings


def _db(config_path):
    return config_path.parent / "agent.db"


def test_set_pin_writes_the_database_never_the_config(cli, config_path):
    config_path.write_text("# keep me\n" + config_path.read_text())
    before = config_path.read_bytes()
    short = cli("associate", "set-pin", "A100", stdin="4711\n")  # security.pin_min_length = 6
    assert short.code == 3 and "at least 6 digits" in short.err
    r = cli("associate", "set-pin", "A100", stdin="471100\n")
    assert r.code == 0, r.err
    assert config_path.read_bytes() == before
    with sqlite3.connect(_db(config_path)) as conn:
        (stored,) = conn.execute("SELECT pin_hash FROM associate_pins WHERE associate_id = 'A100'"
                                 ).fetchone()
    assert verify_pin("471100", stored) and not verify_pin("471200", stored)
    settings = load_settings(config_path, environ={})
    assert roster.stored_hash(settings, "A100") == stored
    with Store(_db(config_path)) as store:
        assert verify_pin("471100", roster.with_stored_pins(store, settings)
                          .associate("A100").pin_hash.get_secret_value())
    assert cli("associate", "set-pin", "A100", stdin="12\n").code == 3
    assert cli("associate", "set-pin", "GHOST", stdin="471100\n").code == 3
    r = cli("associate", "set-pin", "A100", "--json", stdin="864200\n")
    assert r.code == 0 and json.loads(r.out) == {"associate_id": "A100", "pin_set": True}


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to show root keeps the owner")
def test_set_pin_as_root_keeps_the_database_owned_by_the_service(cli):
    nobody = 65534
    # Outside pytest's private tmp (0700, root's): the service account must reach its folder.
    folder = Path(tempfile.mkdtemp(prefix="store-agent-pins-"))
    try:
        db = folder / "agent.db"  # not there yet: set-pin creates it, as its folder's owner
        os.chown(folder, nobody, nobody)
        folder.chmod(0o750)
        r = cli("associate", "set-pin", "A100", stdin="471100\n",
                env={"STORE_AGENT_STORAGE__PATH": str(db)})
        assert r.code == 0, r.err
        owners = {f.name: f.stat().st_uid for f in folder.glob("agent.db*")}
        assert "agent.db" in owners and set(owners.values()) == {nobody}, owners
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT COUNT(*) FROM associate_pins").fetchone() == (1,)
    finally:
        shutil.rmtree(folder)


@pytest.mark.skipif(os.geteuid() != 0, reason="the link is only dangerous to root")
def test_set_pin_as_root_refuses_a_planted_database_link(cli, tmp_path):
    victim = tmp_path / "roots.db"
    victim.write_bytes(b"root's own file")
    link = tmp_path / "agent.db"
    link.symlink_to(victim)
    r = cli("associate", "set-pin", "A100", stdin="471100\n", env={"STORE_AGENT_STORAGE__PATH": str(link)})
    assert r.code == 2 and "symbolic link" in r.err, r.err
    assert victim.read_bytes() == b"root's own file"


def test_config_pins_are_imported_once_and_the_database_wins(config_path):
    old_hash = hash_pin("1111")
    text = config_path.read_text().replace('id = "A100"', f'id = "A100"\npin_hash = "{old_hash}"', 1)
    config_path.write_text(text)
    settings = load_settings(config_path, environ={})
    assert settings.associate("A100").pin_hash is not None
    with Store(_db(config_path)) as store:
        assert roster.import_config_pins(store, settings) == ["A100"]
        assert roster.import_config_pins(store, settings) == []  # once
        roster.set_pin_hash(store, "A100", hash_pin("2222"))
        merged = roster.with_stored_pins(store, settings)
    assert verify_pin("2222", merged.associate("A100").pin_hash.get_secret_value())
    assert verify_pin("2222", roster.stored_hash(settings, "A100"))


def test_drop_ins_merge_in_name_order(config_path):
    drop = config_path.parent / "config.d"
    drop.mkdir()
    (drop / "20-site.toml").write_text('[sync]\nheartbeat_s = 30\n[pickup]\noffline_handoff = "manager"\n')
    (drop / "10-fleet.toml").write_text("[sync]\nheartbeat_s = 90\nbatch_size = 100\n")
    (drop / "notes.txt").write_text("not toml, not read")
    s = load_settings(config_path, environ={})
    assert s.sync.heartbeat_s == 30 and s.sync.batch_size == 100  # later file wins per key
    assert s.pickup.offline_handoff == "manager"
    assert s.store_id == "S1" or s.store_id  # the main file's keys stay
    assert [p.name for p in s.drop_ins] == ["10-fleet.toml", "20-site.toml"]
    # The environment still beats every file.
    assert load_settings(config_path, environ={"STORE_AGENT_SYNC__HEARTBEAT_S": "45"}).sync.heartbeat_s == 45


def test_a_bad_key_in_a_drop_in_names_that_file(config_path):
    drop = config_path.parent / "config.d"
    drop.mkdir()
    (drop / "50-bad.toml").write_text("[sync]\nheartbeat_s = 1\n")
    with pytest.raises(ConfigError) as err:
        load_settings(config_path, environ={})
    assert str(drop / "50-bad.toml") in err.value.problems[0]
    assert "sync.heartbeat_s" in err.value.problems[0]


def test_webhook_url_from_a_file_and_from_a_systemd_credential(config_path, tmp_path):
    secret = tmp_path / "webhook"
    secret.write_text("https://hooks.example.test/T0/B0/xyz\n")
    secret.chmod(0o600)
    config_path.write_text(config_path.read_text() + f'\n[alerts]\nwebhook_url_file = "{secret}"\n')
    s = load_settings(config_path, environ={})
    assert s.alert_webhook_url() == "https://hooks.example.test/T0/B0/xyz"
    secret.write_text("https://hooks.example.test/rotated\n")  # read at each use
    assert s.alert_webhook_url() == "https://hooks.example.test/rotated"
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "webhook_url").write_text("https://hooks.example.test/from-credential\n")
    s = load_settings(config_path, environ={"CREDENTIALS_DIRECTORY": str(creds)})
    assert s.alert_webhook_url() == "https://hooks.example.test/from-credential"


def test_unreadable_or_bad_webhook_file_is_a_config_error(config_path, tmp_path):
    config_path.write_text(config_path.read_text()
                           + f'\n[alerts]\nwebhook_url_file = "{tmp_path / "missing"}"\n')
    with pytest.raises(ConfigError, match="webhook_url_file"):
        load_settings(config_path, environ={})
    (tmp_path / "missing").write_text("not a url")
    with pytest.raises(ConfigError, match="does not hold an http"):
        load_settings(config_path, environ={})


def test_doctor_fails_on_the_unedited_template(cli, tmp_path):
    target = tmp_path / "fresh.toml"
    assert cli("config", "init", str(target)).code == 0
    text = target.read_text().replace("/var/lib/store-agent/agent.db", str(tmp_path / "agent.db"))
    target.write_text(text)
    r = cli("--config", str(target), "doctor", "--json")
    report = json.loads(r.out)
    config = next(c for c in report["checks"] if c["name"] == "config")
    assert r.code == 2 and config["result"] == "fail", r.out
    assert "change-me" in config["detail"] and "oms.example.com" in config["detail"]


def test_the_daemon_refuses_to_start_on_the_unedited_template(cli, tmp_path):
    """Started on the template it would report "offline" forever; it exits 2 (a config error,
    which the unit does not restart: RestartPreventExitStatus=2) and touches no database."""
    target = tmp_path / "fresh.toml"
    assert cli("config", "init", str(target)).code == 0
    db = tmp_path / "agent.db"
    target.write_text(target.read_text().replace("/var/lib/store-agent/agent.db", str(db)))
    r = cli("--config", str(target), "run")
    assert r.code == 2, (r.code, r.err)
    assert "oms.token: still the template's 'change-me'" in r.err and "oms.example.com" in r.err
    assert "does not start on the unedited template" in r.err
    assert not db.exists()
    # The same file with this store's values starts (and stops on SIGTERM, tested elsewhere):
    # here `config check` agreeing is enough to show the refusal is about the template only.
    target.write_text(target.read_text().replace('"change-me"', '"s3cr3t"')
                      .replace("https://oms.example.com", "https://oms.chain.test"))
    assert cli("--config", str(target), "config", "check").code == 0


def test_doctor_flags_secret_files_readable_by_others_and_unreadable_ones(cli, config_path, tmp_path):
    token = tmp_path / "token"
    token.write_text("tok-123\n")
    token.chmod(0o644)
    text = config_path.read_text().replace('token = "test-token-not-secret"', f'token_file = "{token}"')
    config_path.write_text(text)
    drop = config_path.parent / "config.d"
    drop.mkdir()
    (drop / "10-alerts.toml").write_text('[alerts]\nwebhook_url = "https://hooks.example.test/x"\n')
    (drop / "10-alerts.toml").chmod(0o644)
    report = json.loads(cli("doctor", "--json").out)
    files = next(c for c in report["checks"] if c["name"] == "secret_files")
    assert files["result"] == "fail"
    assert str(token) in files["detail"] and "10-alerts.toml" in files["detail"]
    token.chmod(0o600)
    (drop / "10-alerts.toml").chmod(0o600)
    report = json.loads(cli("doctor", "--json").out)
    files = next(c for c in report["checks"] if c["name"] == "secret_files")
    assert files["result"] == "pass", files
    readable = next(c for c in report["checks"] if c["name"] == "files_readable")
    assert readable["result"] == "pass", readable
    assert stat.S_IMODE(token.stat().st_mode) == 0o600


def test_unknown_printer_profile_fails_config_check(cli, config_path):
    assert cli("config", "check").code == 0
    text = config_path.read_text()
    assert "[[printers]]" in text
    config_path.write_text(text.replace("[[printers]]", '[[printers]]\nprofile = "NO-SUCH-PRINTER"', 1))
    r = cli("config", "check")
    assert r.code == 2 and "printers[0].profile" in r.err and "TM-T88V" in r.err, r.err
