"""Writing configuration files as root without being led astray by links.

`store-agent config init` runs as root on a store PC.
A file is first written to a new temporary name (O_CREAT|O_EXCL|O_NOFOLLOW:
never an existing file, never through a symbolic link), then put in place by
a rename, which replaces a link itself rather than what it points to. A file
that replaces another keeps the old one's owner, group and mode (never more than 0640), so the
service can still read its configuration after root replaced it.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from config.errors import UsageError

_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def write_file(path: Path, text: str, *, mode: int = 0o600, replace: bool) -> None:
    """Write ``text`` to ``path``: a new file unless ``replace``; a replaced file keeps its
    owner, group and mode. A symbolic link at ``path`` is refused when replacing."""
    old = _lstat(path)
    if old is not None and not replace:
        raise UsageError(f"{path} exists; it is never overwritten (use --force to replace it)")
    if old is not None and stat.S_ISLNK(old.st_mode):
        raise UsageError(f"{path} is a symbolic link: write to the file it points to instead")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, _NEW, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            if old is not None:
                _same_owner_and_mode(fh.fileno(), old)
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if anything (a file, a link) appeared at path meanwhile
    except FileExistsError:
        raise UsageError(f"{path} exists; it is never overwritten (use --force to replace it)") from None
    finally:
        tmp.unlink(missing_ok=True)


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _same_owner_and_mode(fd: int, old: os.stat_result) -> None:
    # At most owner read-write and group read: the file holds the OMS token.
    os.fchmod(fd, stat.S_IMODE(old.st_mode) & 0o640)
    if (old.st_uid, old.st_gid) != (os.geteuid(), os.getegid()):
        # Not root: the file becomes the writer's, as it always did.
        with contextlib.suppress(PermissionError):
            os.fchown(fd, old.st_uid, old.st_gid)
