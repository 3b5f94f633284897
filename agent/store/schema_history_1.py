"""Migrations m001-m004, as released: the core tables, print jobs, alert delivery, order times.
Never edited: a store that ran them must find the same names and effects."""

from __future__ import annotations

from sqlite_utils import Database

from agent.store.migrating import MIGRATIONS
from agent.store.migrating import run_script as _run_script


@MIGRATIONS()
def m001_core(db: Database) -> None:
    _run_script(
        db,
        """
        CREATE TABLE orders (
            order_id        TEXT PRIMARY KEY,
            version         INTEGER NOT NULL,
            oms_status      TEXT NOT NULL,
            state           TEXT NOT NULL
                CHECK (state IN ('TO_PICK', 'READY', 'PICKED_UP', 'CANCELLED')),
            fulfillment     TEXT NOT NULL,
            customer_name   TEXT NOT NULL,
            phone_last4     TEXT,
            pickup_code     TEXT NOT NULL,
            window_start    TEXT,
            window_end      TEXT,
            hold_until      TEXT,
            arrived_at      TEXT,
            arrival_bay     TEXT,
            arrival_vehicle TEXT,
            bin             TEXT,
            conflict        TEXT,            -- why the store and the OMS disagree, or NULL
            snapshot        TEXT NOT NULL,   -- the last OMS snapshot applied, as JSON
            updated_at      TEXT NOT NULL,   -- OMS updated_at of that snapshot
            received_at     TEXT NOT NULL,   -- when the store last heard of this order
            state_changed_at TEXT NOT NULL
        );
        CREATE INDEX orders_state ON orders(state);
        CREATE INDEX orders_bin ON orders(bin) WHERE bin IS NOT NULL;

        CREATE TABLE order_lines (
            order_id        TEXT NOT NULL REFERENCES orders(order_id),
            line_id         TEXT NOT NULL,
            position        INTEGER NOT NULL,
            sku             TEXT NOT NULL,
            gtin            TEXT,
            description     TEXT NOT NULL,
            quantity        INTEGER NOT NULL,
            quantity_picked INTEGER,        -- NULL until staged
            PRIMARY KEY (order_id, line_id)
        );

        CREATE TABLE return_tasks (
            id          INTEGER PRIMARY KEY,
            order_id    TEXT NOT NULL REFERENCES orders(order_id),
            state       TEXT NOT NULL CHECK (state IN ('OPEN', 'DONE')),
            bin         TEXT,
            lines       TEXT NOT NULL,      -- JSON [{line_id, quantity}]
            reason      TEXT NOT NULL,
            created_at  TEXT NOT NULL,
            done_at     TEXT,
            done_by     TEXT
        );
        -- At most one open task per order.
        CREATE UNIQUE INDEX return_tasks_open ON return_tasks(order_id) WHERE state = 'OPEN';

        -- The outbox. seq is the rowid: max(seq) + 1 on insert, so strictly
        -- increasing and gap-free (a rolled-back insert takes nothing). It is
        -- never reused because outbox rows are never deleted, except by
        -- retention, which always keeps the newest row. (AUTOINCREMENT would
        -- add a sqlite_sequence page write to every action.)
        CREATE TABLE outbox (
            seq              INTEGER PRIMARY KEY,
            event_id         TEXT NOT NULL UNIQUE,
            order_id         TEXT NOT NULL REFERENCES orders(order_id),
            type             TEXT NOT NULL,
            data             TEXT NOT NULL,
            occurred_at      TEXT NOT NULL,
            associate_id     TEXT NOT NULL,
            device_id        TEXT NOT NULL,
            based_on_version INTEGER NOT NULL,
            override_by      TEXT,
            status           TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'acked', 'dead', 'held')),
            attempts         INTEGER NOT NULL DEFAULT 0,
            next_attempt_at  TEXT,
            last_error       TEXT,
            acked_at         TEXT,
            dead_at          TEXT,
            dead_kind        TEXT CHECK (dead_kind IN ('rejected', 'conflict')),
            result_code      TEXT,
            result_message   TEXT,
            oms_result       TEXT,
            resolved_by      TEXT,
            resolution       TEXT,          -- 'retried' or 'discarded: <reason>'
            resolved_at      TEXT
        );
        CREATE INDEX outbox_unsent ON outbox(status, seq) WHERE status != 'acked';
        CREATE INDEX outbox_order ON outbox(order_id, seq);

        -- Every snapshot the store received, applied or not: the audit trail.
        CREATE TABLE received_changes (
            id          INTEGER PRIMARY KEY,
            change_id   TEXT,
            source      TEXT NOT NULL,      -- feed, live_check, reconcile, conflict, seed
            order_id    TEXT,
            version     INTEGER,
            oms_status  TEXT,
            outcome     TEXT NOT NULL,      -- applied, kept_store_state, older, quarantined, ...
            detail      TEXT,
            received_at TEXT NOT NULL
        );
        CREATE INDEX received_changes_order ON received_changes(order_id, id);

        CREATE TABLE quarantine (
            id          INTEGER PRIMARY KEY,
            order_id    TEXT,
            reason      TEXT NOT NULL,
            payload     TEXT NOT NULL,
            source      TEXT NOT NULL,
            received_at TEXT NOT NULL,
            resolved_at TEXT
        );

        CREATE TABLE alerts (
            id              INTEGER PRIMARY KEY,
            kind            TEXT NOT NULL,
            key             TEXT NOT NULL,  -- dedupe: one open alert per (kind, key)
            order_id        TEXT,
            severity        TEXT NOT NULL DEFAULT 'warning',
            message         TEXT NOT NULL,
            raised_at       TEXT NOT NULL,
            acknowledged_at TEXT,
            acknowledged_by TEXT,
            resolved_at     TEXT
        );
        CREATE UNIQUE INDEX alerts_open ON alerts(kind, key) WHERE resolved_at IS NULL;

        CREATE TABLE sync_state (
            key   TEXT PRIMARY KEY,
            value TEXT
        );
        """
    )


@MIGRATIONS()
def m002_print_jobs(db: Database) -> None:
    _run_script(
        db,
        """
        -- The durable print queue (agent/printing/queue.py). order_id has no foreign
        -- key: test pages have none, and a receipt must stay printable even if
        -- its order is ever pruned from the store.
        CREATE TABLE print_jobs (
            id              INTEGER PRIMARY KEY,
            printer_id      TEXT NOT NULL,
            kind            TEXT NOT NULL
                CHECK (kind IN ('receipt', 'bin_label', 'return_slip', 'test_page')),
            order_id        TEXT,
            payload         TEXT NOT NULL,   -- the template input, as JSON
            copy            INTEGER NOT NULL DEFAULT 0 CHECK (copy IN (0, 1)),
            state           TEXT NOT NULL DEFAULT 'queued'
                CHECK (state IN ('queued', 'printing', 'printed', 'failed')),
            attempts        INTEGER NOT NULL DEFAULT 0,  -- sends that may have reached the printer
            next_attempt_at TEXT NOT NULL,
            reason          TEXT,            -- why it waits or failed; a warning once printed
            printer_status  TEXT,            -- what the printer said at the last try
            created_at      TEXT NOT NULL,
            updated_at      TEXT NOT NULL,
            printed_at      TEXT,
            created_by      TEXT
        );
        CREATE INDEX print_jobs_due ON print_jobs(next_attempt_at, id) WHERE state = 'queued';
        CREATE INDEX print_jobs_printer ON print_jobs(printer_id, state);
        CREATE INDEX print_jobs_order ON print_jobs(order_id) WHERE order_id IS NOT NULL;
        CREATE INDEX print_jobs_created ON print_jobs(created_at);
        """
    )


@MIGRATIONS()
def m003_alert_delivery(db: Database) -> None:
    _run_script(
        db,
        """
        -- Webhook delivery of alerts (agent/alerts/notify.py): each alert is
        -- announced once when raised and once when resolved, and a failed POST
        -- is retried from here: a restart loses none (at worst it repeats the one in flight).
        ALTER TABLE alerts ADD COLUMN notified_at TEXT;
        ALTER TABLE alerts ADD COLUMN resolved_notified_at TEXT;
        ALTER TABLE alerts ADD COLUMN notify_attempts INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE alerts ADD COLUMN notify_next_at TEXT;
        ALTER TABLE alerts ADD COLUMN notify_error TEXT;
        -- Alerts closed before this existed are history, not news.
        UPDATE alerts SET notified_at = raised_at, resolved_notified_at = resolved_at
            WHERE resolved_at IS NOT NULL;
        """
    )


@MIGRATIONS()
def m004_order_times(db: Database) -> None:
    _run_script(
        db,
        """
        -- When each step of an order happened, kept for as long as the order is
        -- (retention purges old outbox events and received changes, never
        -- orders): the KPIs and the queue timers read this table only.
        -- Triggers fill it, so every path that changes an order (associate
        -- actions, OMS snapshots, reconciliation, a manager's resolution)
        -- records its times in the same transaction without having to remember.
        CREATE TABLE order_times (
            order_id          TEXT PRIMARY KEY REFERENCES orders(order_id),
            released_at       TEXT,   -- first snapshot, when the store first heard of it as TO_PICK
            promised_ready_at TEXT,   -- the OMS's promise to the customer (API 1.1), latest
            ready_at          TEXT,   -- first time READY (staged, or the OMS said so)
            staged_by         TEXT,   -- associate of the first order.staged
            arrived_at        TEXT,   -- first curbside check-in
            picked_up_at      TEXT,
            picked_up_by      TEXT,
            cancelled_at      TEXT,
            cancelled_from    TEXT,   -- the state it was cancelled in: TO_PICK or READY
            cancel_reason     TEXT    -- the associate's reason; NULL when the OMS cancelled
        );
        CREATE INDEX order_times_released ON order_times(released_at) WHERE released_at IS NOT NULL;
        CREATE INDEX order_times_ready ON order_times(ready_at) WHERE ready_at IS NOT NULL;
        CREATE INDEX order_times_picked_up ON order_times(picked_up_at) WHERE picked_up_at IS NOT NULL;
        CREATE INDEX order_times_cancelled ON order_times(cancelled_at) WHERE cancelled_at IS NOT NULL;
        CREATE INDEX return_tasks_done ON return_tasks(done_at) WHERE done_at IS NOT NULL;

        CREATE TRIGGER order_times_new AFTER INSERT ON orders BEGIN
            INSERT OR IGNORE INTO order_times (order_id, released_at, promised_ready_at, arrived_at,
                                               ready_at, picked_up_at, cancelled_at, cancelled_from)
            VALUES (NEW.order_id,
                    CASE WHEN NEW.state = 'TO_PICK' THEN NEW.received_at END,
                    json_extract(NEW.snapshot, '$.promised_ready_at'),
                    NEW.arrived_at,
                    CASE WHEN NEW.state = 'READY' THEN NEW.state_changed_at END,
                    CASE WHEN NEW.state = 'PICKED_UP' THEN NEW.state_changed_at END,
                    CASE WHEN NEW.state = 'CANCELLED' THEN NEW.state_changed_at END,
                    CASE WHEN NEW.state = 'CANCELLED' THEN 'TO_PICK' END);
        END;

        CREATE TRIGGER order_times_state AFTER UPDATE OF state ON orders
        WHEN NEW.state != OLD.state BEGIN
            UPDATE order_times SET
                ready_at = CASE WHEN NEW.state = 'READY'
                                THEN COALESCE(ready_at, NEW.state_changed_at) ELSE ready_at END,
                picked_up_at = CASE WHEN NEW.state = 'PICKED_UP'
                                    THEN COALESCE(picked_up_at, NEW.state_changed_at) ELSE picked_up_at END,
                cancelled_at = CASE WHEN NEW.state = 'CANCELLED'
                                    THEN COALESCE(cancelled_at, NEW.state_changed_at) ELSE cancelled_at END,
                cancelled_from = CASE WHEN NEW.state = 'CANCELLED'
                                      THEN COALESCE(cancelled_from, OLD.state) ELSE cancelled_from END
            WHERE order_id = NEW.order_id;
        END;

        CREATE TRIGGER order_times_snapshot AFTER UPDATE OF snapshot ON orders BEGIN
            UPDATE order_times SET
                promised_ready_at = json_extract(NEW.snapshot, '$.promised_ready_at'),
                arrived_at = COALESCE(arrived_at, NEW.arrived_at)
            WHERE order_id = NEW.order_id;
        END;

        CREATE TRIGGER order_times_event AFTER INSERT ON outbox
        WHEN NEW.type IN ('order.staged', 'order.picked_up', 'order.cancelled') BEGIN
            UPDATE order_times SET
                staged_by = CASE WHEN NEW.type = 'order.staged'
                                 THEN COALESCE(staged_by, NEW.associate_id) ELSE staged_by END,
                picked_up_by = CASE WHEN NEW.type = 'order.picked_up'
                                    THEN COALESCE(picked_up_by, NEW.associate_id) ELSE picked_up_by END,
                cancel_reason = CASE WHEN NEW.type = 'order.cancelled'
                                     THEN json_extract(NEW.data, '$.reason') ELSE cancel_reason END
            WHERE order_id = NEW.order_id;
        END;

        -- Orders from before this migration: what the audit trail still holds.
        INSERT INTO order_times (order_id, released_at, promised_ready_at, arrived_at, ready_at,
                                 staged_by, picked_up_at, picked_up_by, cancelled_at,
                                 cancelled_from, cancel_reason)
        SELECT o.order_id,
               (SELECT MIN(rc.received_at) FROM received_changes rc
                 WHERE rc.order_id = o.order_id AND rc.outcome = 'applied'),
               json_extract(o.snapshot, '$.promised_ready_at'),
               o.arrived_at,
               COALESCE((SELECT MIN(e.occurred_at) FROM outbox e
                          WHERE e.order_id = o.order_id AND e.type = 'order.staged'),
                        CASE WHEN o.state = 'READY' THEN o.state_changed_at END),
               (SELECT e.associate_id FROM outbox e
                 WHERE e.order_id = o.order_id AND e.type = 'order.staged' ORDER BY e.seq LIMIT 1),
               CASE WHEN o.state = 'PICKED_UP' THEN o.state_changed_at END,
               (SELECT e.associate_id FROM outbox e
                 WHERE e.order_id = o.order_id AND e.type = 'order.picked_up' ORDER BY e.seq LIMIT 1),
               CASE WHEN o.state = 'CANCELLED' THEN o.state_changed_at END,
               CASE WHEN o.state != 'CANCELLED' THEN NULL
                    WHEN EXISTS (SELECT 1 FROM return_tasks t WHERE t.order_id = o.order_id)
                    THEN 'READY' ELSE 'TO_PICK' END,
               (SELECT json_extract(e.data, '$.reason') FROM outbox e
                 WHERE e.order_id = o.order_id AND e.type = 'order.cancelled' ORDER BY e.seq LIMIT 1)
        FROM orders o;
        """
    )
