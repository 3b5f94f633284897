"""Where PIN hashes are kept: the associate_pins table of the store database.

config.toml names who may act (id, name, role); the database holds their PINs.
A PIN hash still found in the config (as `associate set-pin` wrote it in
earlier releases) is imported once, the first time the roster is read with a store; after
that the database wins and the config's value is only a fallback for an
associate the database has no PIN for.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from pydantic import SecretStr

from agent.clock import iso, utc_now
from agent.store.connection import Store
from config import Settings


def stored_pins(conn: sqlite3.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT associate_id, pin_hash FROM associate_pins").fetchall())


def set_pin_hash(store: Store, associate_id: str, pin_hash: str) -> None:
    with store.write() as conn:
        conn.execute(
            "INSERT INTO associate_pins (associate_id, pin_hash, set_at, source)"
            " VALUES (?, ?, ?, 'set-pin') ON CONFLICT (associate_id) DO UPDATE SET"
            " pin_hash = excluded.pin_hash, set_at = excluded.set_at, source = 'set-pin'",
            (associate_id, pin_hash, iso(utc_now())))


def import_config_pins(store: Store, settings: Settings) -> list[str]:
    """Copy PIN hashes from the config for associates the database has none for."""
    in_config = {a.id: a.pin_hash.get_secret_value() for a in settings.associates if a.pin_hash}
    if not in_config:
        return []
    with store.read() as conn:
        missing = sorted(set(in_config) - set(stored_pins(conn)))
    if not missing:
        return []
    now = iso(utc_now())
    with store.write() as conn:
        conn.executemany(
            "INSERT OR IGNORE INTO associate_pins (associate_id, pin_hash, set_at, source)"
            " VALUES (?, ?, ?, 'config')", [(i, in_config[i], now) for i in missing])
    return missing


def with_stored_pins(store: Store, settings: Settings) -> Settings:
    """``settings`` whose associates carry the database's PIN hashes (imported first if needed)."""
    import_config_pins(store, settings)
    with store.read() as conn:
        pins = stored_pins(conn)
    if not pins:
        return settings
    associates = [a.model_copy(update={"pin_hash": SecretStr(pins[a.id])}) if a.id in pins else a
                  for a in settings.associates]
    return settings.model_copy(update={"associates": associates})


def stored_hash(settings: Settings, associate_id: str) -> str | None:
    """The PIN hash to check a login against, read now (a PIN set a moment ago counts)."""
    who = settings.associate(associate_id)
    if who is None:
        return None
    path = Path(settings.storage.path)
    if path.exists():
        with Store(path, migrate=False) as store, store.read() as conn:
            try:
                row = conn.execute("SELECT pin_hash FROM associate_pins WHERE associate_id = ?",
                                   (associate_id,)).fetchone()
            except sqlite3.OperationalError:  # a database from before PINs moved here
                row = None
        if row:
            return str(row[0])
    return who.pin_hash.get_secret_value() if who.pin_hash else None


def database_owner(db_path: Path) -> tuple[int, int] | None:
    """uid and gid of the database (or of its folder when it does not exist yet)."""
    for candidate in (db_path, db_path.parent):
        try:
            st = os.lstat(candidate)  # a link's own owner: whoever planted it, never its target's
        except OSError:
            continue
        return st.st_uid, st.st_gid
    return None
