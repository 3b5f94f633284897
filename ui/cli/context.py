"""What every command needs: the loaded configuration and an open store, made once."""

from __future__ import annotations

import argparse
import functools
import os

from agent.store import Store
from config import Settings, load_settings


class Context:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self._store: Store | None = None

    @functools.cached_property
    def settings(self) -> Settings:
        overrides = {}
        station = getattr(self.args, "station", None)
        if station:
            overrides["station"] = station
        return load_settings(self.args.config, overrides=overrides, environ=os.environ)

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.settings.storage.path)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
