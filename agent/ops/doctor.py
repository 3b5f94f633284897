"""`store-agent doctor`: what is wrong on this PC, one line each, with the fix.

This is the runner: it loads the configuration, decides whose access to judge
(``agent.ops.checks.accounts``) and runs the checks of ``agent.ops.checks`` in
the order a person fixes things (config, files, database, daemon, OMS,
devices). Each check says pass, warn or fail. None changes anything: the
database is opened without creating or migrating it, printers are only asked
for their status, scanners are opened and closed again. Where the daemon owns a
device (a printer it prints to), what the daemon last saw is reported instead
of competing with it for the device.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from agent.ops.checks import FAIL, PASS, WARN, Check
from agent.ops.checks.accounts import SERVICE_USER, Account, no_such_user, service_account
from agent.ops.checks.database import (
    check_daemon,
    check_database_dir,
    check_database_file,
    check_disk_free,
    check_wal_size,
)
from agent.ops.checks.devices import check_printer, check_scanner, printer_states
from agent.ops.checks.files import check_files_readable, check_secret_files
from agent.ops.checks.oms import check_oms
from agent.ops.checks.permissions import (
    check_config_mode,
    check_database_permissions,
    check_device_groups,
)
from config.errors import ConfigError
from config.loader import load_settings, resolve_config_path, template_placeholders
from config.settings import Settings

__all__ = ["FAIL", "PASS", "SERVICE_USER", "WARN", "Account", "Check", "check_device_groups",
           "run_checks", "service_account", "summary"]


def run_checks(config_path: str | os.PathLike[str] | None = None, *,
               environ: Mapping[str, str] | None = None,
               disk_usage: Callable[[Any], Any] = shutil.disk_usage,
               service_user: str | None = None) -> list[Check]:
    """``service_user``: whose ownership and groups to check (``agent.ops.checks.accounts``)."""
    environ = os.environ if environ is None else environ
    path = resolve_config_path(config_path, environ)
    try:
        settings = load_settings(path, environ=environ)
    except ConfigError as exc:
        failed = [Check("config", FAIL, "; ".join(exc.problems),
                        "fix the keys named above (`store-agent config check` lists each)")]
        if path.exists():
            failed.append(check_config_mode(path, None))
        return failed
    placeholders = template_placeholders(settings)
    try:
        account: Account | None = service_account(service_user)
    except KeyError:
        account = None

    def for_account(name: str, check: Callable[[Settings, Account], Check]) -> Check:
        return check(settings, account) if account else no_such_user(name, service_user)

    checks: list[Check | None] = [
        _check_config(path, settings, placeholders),
        check_config_mode(path, settings),
        check_secret_files(settings),
        for_account("files_readable", check_files_readable),
        check_database_dir(settings),
        check_database_file(settings),
        check_wal_size(settings),
        check_disk_free(settings, disk_usage),
        for_account("database_permissions", check_database_permissions),
        check_daemon(settings),
    ]
    if not placeholders:  # the template's example host is nobody's OMS
        checks += asyncio.run(check_oms(settings))
    seen = printer_states(settings)
    checks += [check_printer(printer, seen.get(printer.id)) for printer in settings.printers]
    checks += [check_scanner(station.id, station.scanner) for station in settings.stations]
    checks.append(for_account("device_groups", check_device_groups))
    return [check for check in checks if check is not None]


def _check_config(path: Path, settings: Settings, placeholders: list[str]) -> Check:
    if placeholders:
        return Check("config", FAIL, "; ".join(placeholders),
                     "set this store's values (`store-agent config check` lists each)")
    return Check("config", PASS, f"{path} is valid (store {settings.store_id}, OMS {settings.oms.url})")


def summary(checks: list[Check]) -> dict[str, Any]:
    return {"checks": [asdict(c) for c in checks], "ok": all(c.result != FAIL for c in checks)}
