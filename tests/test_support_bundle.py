"""support-bundle: one archive with what support needs, and no secret in it."""

from __future__ import annotations

import json
import sqlite3
import tarfile

from agent.associates.pins import hash_pin
from tests.factories import METRICS_LISTEN

TOKEN = "test-token-not-secret"
WEBHOOK = "https://hooks.example.test/services/T000/B000/very-secret-path"


def _members(path) -> dict[str, str]:
    with tarfile.open(path) as tar:
        return {m.name.split("/", 1)[1]: tar.extractfile(m).read().decode() for m in tar.getmembers()
                if m.isfile()}


def test_bundle_has_everything_and_no_secret(cli, config_path, tmp_path):
    password = tmp_path / "metrics-password"
    password.write_text("metrics-pass-123\n")
    password.chmod(0o600)
    legacy_hash = hash_pin("2468")
    text = config_path.read_text().replace('id = "A100"', f'id = "A100"\npin_hash = "{legacy_hash}"', 1)
    assert METRICS_LISTEN in text
    text = text.replace(METRICS_LISTEN, METRICS_LISTEN + 'basic_auth_user = "prom"\n'
                        f'basic_auth_password_file = "{password}"\n')
    config_path.write_text(text + f'\n[alerts]\nwebhook_url = "{WEBHOOK}"\n')
    config_path.chmod(0o600)
    assert cli("associate", "set-pin", "M1", stdin="135790\n").code == 0
    with sqlite3.connect(tmp_path / "agent.db") as conn:
        pin_hashes = [r[0] for r in conn.execute("SELECT pin_hash FROM associate_pins")]
    assert pin_hashes

    out = tmp_path / "bundles"
    out.mkdir()
    r = cli("support-bundle", str(out), "--json")
    assert r.code == 0, r.err
    report = json.loads(r.out)
    bundle = report["bundle"]
    assert bundle.startswith(str(out)) and bundle.endswith(".tar.gz")
    members = _members(bundle)
    for name in ("doctor.json", "status.json", "config.json", "versions.json", "database.json",
                 "logs/journal.txt"):
        assert name in members, name
    assert json.loads(members["database.json"])["integrity_check"] == "ok"
    assert json.loads(members["status.json"])["outbox"]["pending"] == 0
    assert json.loads(members["doctor.json"])["checks"]
    assert json.loads(members["versions.json"])["store_agent"]
    config = json.loads(members["config.json"])["effective"]
    assert config["store_id"] and config["oms"]["token"] == "[redacted]"
    assert config["alerts"]["webhook_url"] == "[redacted]"
    everything = "\n".join(members.values())
    for secret in (TOKEN, WEBHOOK, "very-secret-path", "metrics-pass-123", legacy_hash, *pin_hashes):
        assert secret not in everything, f"a secret leaked: {secret[:12]}..."
    # Every PIN hash is scrypt$...: not even their common prefix with a salt appears.
    assert "scrypt$" not in everything

    # Never overwrites; a broken config still gives a bundle saying so.
    assert cli("support-bundle", bundle).code == 2
    config_path.write_text("store_id = [\n")
    r = cli("support-bundle", str(tmp_path / "broken.tar.gz"))
    assert r.code == 0, r.err
    members = _members(tmp_path / "broken.tar.gz")
    assert "TOML syntax error" in members["config.txt"] and "doctor.json" in members
