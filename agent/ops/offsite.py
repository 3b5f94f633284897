"""The nightly backup's second location, so a dead disk does not take the backups with it.

A mounted path (``storage.offsite_dir``: a NAS share, a USB disk) gets a copy
written under a temporary name, fsynced, then renamed, and keeps the newest
``storage.offsite_keep``. An rsync target (``storage.offsite_rsync``) mirrors
the backup folder with rsync, a well-kept tool made for exactly this
(resumable, checksummed, ssh transport, ``--delete`` carries the retention).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

from config.settings import Settings

log = logging.getLogger("store_agent.backup")
RSYNC_TIMEOUT_S = 1800


def copy_to_dir(backup: Path, target_dir: Path, keep: int) -> list[Path]:
    """Copy ``backup`` into ``target_dir`` atomically; returns the old copies deleted there."""
    from agent.ops.maintenance import _fsync_dir, rotate

    if not target_dir.is_dir():
        raise OSError(f"{target_dir} is not a mounted folder (is the share mounted?)")
    final = target_dir / backup.name
    partial = target_dir / f".{backup.name}.partial"
    with open(backup, "rb") as src, open(partial, "wb") as dst:
        shutil.copyfileobj(src, dst, 1024 * 1024)
        dst.flush()
        os.fsync(dst.fileno())
    os.chmod(partial, 0o600)
    os.replace(partial, final)
    _fsync_dir(target_dir)
    return rotate(target_dir, keep)


def rsync_mirror(source_dir: Path, target: str) -> None:
    if shutil.which("rsync") is None:
        raise OSError("storage.offsite_rsync is set but rsync is not installed (apt-get install rsync)")
    from agent.ops.maintenance import BACKUP_PREFIX, BACKUP_SUFFIX

    cmd = ["rsync", "--archive", "--delete", "--partial-dir=.rsync-partial", "--timeout=300",
           f"--include={BACKUP_PREFIX}*{BACKUP_SUFFIX}", "--exclude=*",
           f"{source_dir}/", target]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=RSYNC_TIMEOUT_S)
    if proc.returncode != 0:
        raise OSError(f"rsync to {target} failed (exit {proc.returncode}):"
                      f" {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ''}")


def copy_everywhere(settings: Settings, backup: Path, backup_dir: Path) -> dict[str, list[str]]:
    storage = settings.storage
    targets: list[str] = []
    errors: list[str] = []
    removed: list[str] = []
    if storage.offsite_dir is not None:
        targets.append(str(storage.offsite_dir))
        try:
            removed += [str(p) for p in copy_to_dir(backup, Path(storage.offsite_dir),
                                                     storage.offsite_keep)]
        except OSError as exc:
            errors.append(f"{storage.offsite_dir}: {exc.strerror or exc}")
    if storage.offsite_rsync:
        targets.append(storage.offsite_rsync)
        try:
            rsync_mirror(backup_dir, storage.offsite_rsync)
        except (OSError, subprocess.TimeoutExpired) as exc:
            errors.append(str(exc))
    for error in errors:
        log.error("offsite backup copy failed: %s", error)
    if targets and not errors:
        log.info("backup %s copied to %s", backup.name, ", ".join(targets))
    return {"targets": targets, "errors": errors, "removed": removed}
