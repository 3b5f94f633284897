"""Which files the OMS credentials come from, and whether any changed since last looked at.

Store IT rotates a token by editing ``oms.token`` in the config (or a drop-in
of ``config.d/``) or by replacing the file ``oms.token_file`` names. The
daemon must use the new token at its next request after the change, and at
once on SIGHUP (``systemctl reload store-agent``). Re-reading and validating
the whole config before every request would cost more than the request, so
the daemon compares a fingerprint of those files (inode, size, mtime: a
replaced file has a new inode, an edited one a new mtime) and reloads only
when it moved. The token is compared with the one the client was built with,
never with a second read of the same file.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from config.errors import StoreAgentError
from config.loader import drop_in_dir, drop_in_files, load_settings
from config.settings import Settings

log = logging.getLogger("store_agent.daemon")

Fingerprint = tuple[tuple[str, int, int, int] | tuple[str], ...]


def sources(settings: Settings) -> list[Path]:
    config = getattr(settings, "source_path", None)
    found: list[Path] = []
    if config is not None:
        found += [Path(config), drop_in_dir(Path(config)), *drop_in_files(Path(config))]
    if settings.oms.token_file is not None:
        found.append(Path(settings.oms.token_file))
    return found


def fingerprint(settings: Settings) -> Fingerprint:
    out: list[tuple[str, int, int, int] | tuple[str]] = []
    for path in sources(settings):
        try:
            st = os.stat(path)
        except OSError:
            out.append((str(path),))
            continue
        out.append((str(path), st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(out)


def current_token(settings: Settings) -> str | None:
    try:
        return settings.oms_token()
    except OSError:
        return None


class CredentialsWatch:
    """What the daemon's OMS client was built with, and whether the config now says otherwise."""

    def __init__(self, settings: Settings):
        self.token_in_use = current_token(settings)
        self.files = fingerprint(settings)
        self.generation = 0  # counts reloads that changed the token or URL

    def files_changed(self, settings: Settings) -> bool:
        now = fingerprint(settings)
        if now == self.files:
            return False
        self.files = now
        return True

    def reload(self, settings: Settings, why: str) -> Settings | None:
        """The config as it is now when its token or URL differ from the client's; else None."""
        path = getattr(settings, "source_path", None)
        if path is None:
            return None
        try:
            fresh = load_settings(path)
            token = fresh.oms_token()
        except (StoreAgentError, OSError) as exc:
            log.warning("%s, but the config cannot be re-read: %s", why, exc)
            return None
        # Compared with the token the client holds: reading token_file again would always agree.
        if token == self.token_in_use and fresh.oms.url == settings.oms.url:
            return None
        log.info("%s: the OMS token or URL changed in the config; using it from now on", why)
        self.token_in_use = token
        self.files = fingerprint(fresh)
        self.generation += 1
        return fresh
