"""`store-agent support-bundle PATH`: what support needs from a store PC, in one archive.

doctor, status, recent logs, the effective configuration with every secret
redacted, versions, and the database's integrity. The archive is safe to mail:
secrets are left out where they are known (SecretStr fields, the webhook URL,
credentials in URLs), and then every text in it is scrubbed of each secret
value this PC holds (the token, the webhook URL, every PIN hash, the metrics
password), so a secret that slipped into a log line does not leave either.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from importlib.metadata import distributions
from pathlib import Path
from typing import Any

from agent.errors import UsageError
from agent.oms import agent_version
from agent.ops import doctor
from agent.store.connection import Store
from agent.views import queries
from config import ConfigError, Settings, load_settings, resolve_config_path
from config.settings import split_channel_entry

REDACTED = "[redacted]"
JOURNAL_LINES = 2000
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


def _secrets(settings: Settings, db: Path) -> list[str]:
    """Every secret value this PC holds, longest first (a token may contain a shorter one)."""
    found: list[str | None] = [settings.alert_webhook_url(), settings.alerts.webhook_url]
    with contextlib.suppress(OSError):
        found.append(settings.oms_token())
    found += [a.pin_hash.get_secret_value() for a in settings.associates if a.pin_hash]
    for channel in settings.alerts.channels:  # apprise URLs: whole, and without their severities
        found += [channel.get_secret_value(), split_channel_entry(channel.get_secret_value())[1]]
    password = settings.metrics.basic_auth_password_file
    if password is not None:
        with contextlib.suppress(OSError):
            found.append(password.read_text(encoding="utf-8").strip())
    if db.exists():
        try:
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            try:
                found += [r[0] for r in conn.execute("SELECT pin_hash FROM associate_pins")]
            finally:
                conn.close()
        except sqlite3.Error:
            pass
    return sorted({s for s in found if s and len(s) >= 4}, key=len, reverse=True)


def scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return _URL_CREDENTIALS.sub(REDACTED + "@", text)


def redacted_config(settings: Settings) -> dict[str, Any]:
    """The effective configuration (file, drop-ins, environment) without a secret in it."""
    data = settings.model_dump(mode="json")  # SecretStr fields come out as "**********"
    data["oms"]["token"] = REDACTED if settings.oms.token is not None else None
    data["alerts"]["webhook_url"] = REDACTED if settings.alerts.webhook_url else None
    for associate in data.get("associates", []):
        associate["pin_hash"] = REDACTED if associate.get("pin_hash") else None
    return data


def _versions() -> dict[str, Any]:
    return {
        "store_agent": agent_version(),
        "python": sys.version,
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "packages": sorted(f"{d.metadata['Name']}=={d.version}" for d in distributions()
                           if d.metadata["Name"]),
    }


def _database(db: Path) -> dict[str, Any]:
    if not db.exists():
        return {"path": str(db), "exists": False}
    out: dict[str, Any] = {"path": str(db), "exists": True, "bytes": db.stat().st_size}
    wal = db.with_name(db.name + "-wal")
    out["wal_bytes"] = wal.stat().st_size if wal.exists() else 0
    try:
        with Store(db, migrate=False) as store:
            out["integrity_check"] = store.integrity_check()
            with store.read() as conn:
                out["migrations"] = [r[0] for r in conn.execute(
                    "SELECT name FROM _sqlite_migrations ORDER BY applied_at, name")]
    except Exception as exc:  # the bundle is for broken PCs too: say what failed, go on
        out["error"] = f"{type(exc).__name__}: {exc}"
    return out


def _journal(run: Callable[..., subprocess.CompletedProcess[str]]) -> str:
    if shutil.which("journalctl") is None:
        return "journalctl is not available on this PC: no logs collected\n"
    proc = run(["journalctl", "--no-pager", "-o", "short-iso-precise", "-n", str(JOURNAL_LINES),
                "-u", "store-agent.service", "-u", "store-agent-ui.service"],
               capture_output=True, text=True, timeout=60)
    return proc.stdout + (f"\n(journalctl: {proc.stderr.strip()})\n" if proc.stderr.strip() else "")


def collect(config_path: str | os.PathLike[str] | None, environ: Mapping[str, str], *,
            run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run,
            ) -> dict[str, str]:
    """The bundle's files (name -> text), already scrubbed."""
    files: dict[str, str] = {}
    checks = doctor.run_checks(config_path, environ=environ)
    files["doctor.json"] = json.dumps({**doctor.summary(checks), "version": agent_version()},
                                      indent=2, default=str)
    files["versions.json"] = json.dumps(_versions(), indent=2)
    files["logs/journal.txt"] = _journal(run)
    secrets: list[str] = []
    try:
        settings = load_settings(config_path, environ=environ)
    except ConfigError as exc:
        files["config.txt"] = "the configuration does not load:\n" + "\n".join(exc.problems) + "\n"
        path = resolve_config_path(config_path, environ)
        files["notes.txt"] = f"config {path}: not loaded, so no status and no database facts\n"
    else:
        db = Path(settings.storage.path)
        secrets = _secrets(settings, db)
        files["config.json"] = json.dumps({
            "path": str(settings.__dict__.get("source_path")),
            "drop_ins": [str(p) for p in settings.__dict__.get("drop_ins", [])],
            "effective": redacted_config(settings)}, indent=2)
        files["database.json"] = json.dumps(_database(db), indent=2)
        if db.exists():
            try:
                with Store(db, migrate=False) as store:
                    status = queries.status(store)
                files["status.json"] = json.dumps({**status, "version": agent_version()},
                                                  indent=2, default=str)
            except Exception as exc:
                files["status.json"] = json.dumps({"error": f"{type(exc).__name__}: {exc}"})
    return {name: scrub(text, secrets) for name, text in files.items()}


def write(target: Path, files: dict[str, str], *, store_id: str = "store") -> Path:
    """One .tar.gz (mode 0600); a directory target gets a file named after the store and time."""
    if target.is_dir():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        target = target / f"store-agent-support-{store_id}-{stamp}.tar.gz"
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        raise UsageError(f"{target} exists; a bundle never overwrites a file") from None
    except OSError as exc:
        raise UsageError(f"{target}: cannot write the bundle ({exc.strerror})") from None
    top = target.name.removesuffix(".tar.gz")
    with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name, text in sorted(files.items()):
            data = text.encode("utf-8")
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size, info.mtime, info.mode = len(data), int(time.time()), 0o600
            tar.addfile(info, io.BytesIO(data))
    return target


def summary(files: dict[str, str]) -> dict[str, Any]:
    checks = json.loads(files["doctor.json"])["checks"]
    return {"files": sorted(files), "doctor_failures": [c["name"] for c in checks
                                                        if c["result"] == doctor.FAIL]}
