"""doctor's file checks: every file the service reads is readable by its account, and no
file holding a secret (the OMS token, the webhook URL, PIN hashes, private keys) is readable
by anyone else. The config's drop-ins count as config files."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path
from typing import Any

from agent.ops.checks import FAIL, PASS, Check
from agent.ops.checks.accounts import Account, account_allows
from config.settings import Settings


def _toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}


def _holds_secret(data: dict[str, Any]) -> str | None:
    """Which secret a config file holds, if any."""
    if "token" in data.get("oms", {}):
        return "the OMS token"
    if data.get("alerts", {}).get("webhook_url"):
        return "the webhook URL"
    if any(isinstance(a, dict) and a.get("pin_hash") for a in data.get("associates", [])):
        return "PIN hashes"
    return None


def config_files(settings: Settings) -> list[Path]:
    # Set by the loader beside the model's fields (where the values came from, not values).
    source: Path = settings.__dict__["source_path"]
    drop_ins: list[Path] = settings.__dict__.get("drop_ins", [])
    return [Path(source), *drop_ins]


def secret_files(settings: Settings) -> list[tuple[Path, str]]:
    found = [(path, what) for path in config_files(settings)
             if (what := _holds_secret(_toml(path))) is not None]
    for path, what in ((settings.oms.token_file, "the OMS token"),
                       (settings.alerts.webhook_url_file, "the webhook URL"),
                       (settings.oms.client_cert, "the client certificate's key"),
                       (settings.ui.tls_key, "serve-ui's TLS key"),
                       (settings.metrics.tls_key, "the metrics TLS key"),
                       (settings.metrics.basic_auth_password_file, "the metrics password")):
        if path is not None:
            found.append((Path(path), what))
    return found


def needed_files(settings: Settings) -> list[Path]:
    extra = (settings.oms.token_file, settings.alerts.webhook_url_file, settings.oms.ca_bundle,
             settings.oms.client_cert, settings.ui.tls_cert, settings.ui.tls_key,
             settings.metrics.tls_cert, settings.metrics.tls_key,
             settings.metrics.basic_auth_password_file)
    return [*config_files(settings), *(Path(p) for p in extra if p is not None)]


def check_secret_files(settings: Settings) -> Check:
    loose = []
    for path, what in secret_files(settings):
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            continue  # files_readable reports it
        if mode & 0o007:
            loose.append((path, what, mode))
    if loose:
        return Check("secret_files", FAIL,
                     "; ".join(f"{p} holds {w} and is readable by others (mode {m:04o})"
                               for p, w, m in loose),
                     "chmod 600 " + " ".join(str(p) for p, _w, _m in loose))
    held = secret_files(settings)
    return Check("secret_files", PASS, f"{len(held)} files hold secrets; none readable by others"
                 if held else "no secret is kept in a file")


def _reachable(account: Account, path: Path) -> str | None:
    """Why ``account`` cannot read ``path`` (a folder on the way, or the file), or None."""
    for folder in reversed(path.absolute().parents):
        try:
            if not account_allows(account, folder.stat(), os.X_OK):
                return f"{folder} is not searchable"
        except OSError as exc:
            return f"{folder}: {exc.strerror}"
    try:
        if not account_allows(account, path.stat(), os.R_OK):
            return f"{path} is not readable"
    except OSError as exc:
        return f"{path}: {exc.strerror}"
    return None


def check_files_readable(settings: Settings, account: Account) -> Check:
    problems = [(p, why) for p in needed_files(settings) if (why := _reachable(account, p))]
    if problems:
        return Check("files_readable", FAIL,
                     f"{account.name} cannot read what it needs: "
                     + "; ".join(why for _p, why in problems),
                     "chown " + account.chown_spec + " " + " ".join(str(p) for p, _w in problems)
                     + " (and chmod 600 the ones holding secrets)")
    return Check("files_readable", PASS,
                 f"{account.name} can read all {len(needed_files(settings))} files it needs")
