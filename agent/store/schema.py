"""Schema migrations (sqlite-utils Migrations). Append new migrations here; never edit old ones.

The released history is in ``schema_history_1`` (m001-m004) and ``schema_history_2``
(m005-m016), imported below in order so they register before anything defined here; the
migrations below (m017 on) run after them. New tables name their allowed values with
``config.vocabulary.check_in`` (a CHECK built from the enum, never retyped).
"""

from __future__ import annotations

from sqlite_utils import Database

from agent.store import schema_history_1, schema_history_2  # noqa: F401  (registers m001-m016 in order)
from agent.store.migrating import MIGRATIONS, run_script

_run_script = run_script  # the name the released migrations use

__all__ = ["MIGRATIONS", "run_script"]


@MIGRATIONS()
def m017_alert_escalations(db: Database) -> None:
    run_script(
        db,
        """
        -- An alert raised as a warning and escalated in place to critical (an OMS silent
        -- for 30 min, not 5) is news for the channels that take only critical alerts: a
        -- manager's mail, a pager. It is announced once more, as 'escalated'
        -- (agent/alerts/notify.py). SQLite cannot widen a CHECK in place: alert_sends is
        -- rebuilt with its rows.
        ALTER TABLE alerts ADD COLUMN escalated_at TEXT;
        ALTER TABLE alerts ADD COLUMN escalated_notified_at TEXT;
        CREATE TABLE alert_sends_new (
            alert_id INTEGER NOT NULL REFERENCES alerts(id),
            event    TEXT NOT NULL CHECK (event IN ('raised', 'escalated', 'resolved')),
            target   TEXT NOT NULL,
            sent_at  TEXT NOT NULL,
            PRIMARY KEY (alert_id, event, target)
        );
        INSERT INTO alert_sends_new (alert_id, event, target, sent_at)
            SELECT alert_id, event, target, sent_at FROM alert_sends;
        DROP TABLE alert_sends;
        ALTER TABLE alert_sends_new RENAME TO alert_sends;
        """
    )
