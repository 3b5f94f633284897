"""What every command needs: the loaded configuration and an open store, made once."""

from __future__ import annotations

import argparse
import functools
import os

from agent.store.connection import Store
from config import Settings, load_settings
from config.errors import UsageError


class Context:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self._store: Store | None = None

    @functools.cached_property
    def settings(self) -> Settings:
        settings = load_settings(self.args.config, environ=os.environ)
        station = getattr(self.args, "station", None)
        if station:
            # Checked here, not by the loader, so the message names the flag rather than the file.
            known = [s.id for s in settings.stations]
            if station not in known:
                raise UsageError(f"--station {station}: no such station in [[stations]]"
                                 f" (known: {', '.join(known) or 'none'})")
            settings = settings.model_copy(update={"station": station})
        return settings

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.settings.storage.path)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
