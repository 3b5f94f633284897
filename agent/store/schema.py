"""Schema migrations (sqlite-utils Migrations). Append new migrations here; never edit old ones.

The released history is in ``schema_history_1`` (m001-m004) and ``schema_history_2``
(m005-m016), imported below in order so they register before anything defined here; a
migration appended to this module runs after them. New tables name their allowed values with
``config.vocabulary.check_in`` (a CHECK built from the enum, never retyped).
"""

from __future__ import annotations

from sqlite_utils import Database  # noqa: F401  (for the migrations appended below)

from agent.store import schema_history_1, schema_history_2  # noqa: F401  (registers m001-m016 in order)
from agent.store.migrating import MIGRATIONS, run_script

_run_script = run_script  # the name the released migrations use

__all__ = ["MIGRATIONS", "run_script"]
