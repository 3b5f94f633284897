"""Migrations m005-m016, as released: item-level fulfillment, alert ids, PINs, alert sends,
shift summaries, attempt limits, KPI and queue indexes, serve tickets. Never edited."""

from __future__ import annotations

import uuid

from sqlite_utils import Database

from agent.store.migrating import MIGRATIONS
from agent.store.migrating import run_script as _run_script


@MIGRATIONS()
def m005_item_fulfillment(db: Database) -> None:
    _run_script(
        db,
        """
        -- Item-level fulfillment (Store Sync API 1.1; agent/orders/picking.py, staging.py,
        -- pickup.py). Quantities of a line, all in units of that line:
        --   quantity            ordered (OMS)
        --   quantity_cancelled  cancelled or moved away by the OMS (OMS; after a short pick)
        --   quantity_short      recorded short in this store (order.line_short)
        --   quantity_verified   scanned or confirmed by the picker, before staging
        --   quantity_picked     staged in the order's bins (NULL until staged; m001)
        --   quantity_picked_up  handed over (this store's record, or the OMS's if higher)
        --   quantity_returned   put back on the shelf after a cancellation
        ALTER TABLE order_lines ADD COLUMN location TEXT;
        ALTER TABLE order_lines ADD COLUMN pick_sequence INTEGER;
        ALTER TABLE order_lines ADD COLUMN age_restricted INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE order_lines ADD COLUMN quantity_cancelled INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE order_lines ADD COLUMN quantity_short INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE order_lines ADD COLUMN quantity_verified INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE order_lines ADD COLUMN quantity_picked_up INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE order_lines ADD COLUMN quantity_returned INTEGER NOT NULL DEFAULT 0;

        ALTER TABLE orders ADD COLUMN alternate_pickup_name TEXT;
        ALTER TABLE orders ADD COLUMN promised_ready_at TEXT;

        -- Every bin (tote) an order is staged in; orders.bin stays the first one.
        -- Staging again replaces the set. position is n of the label "n of m".
        CREATE TABLE order_bins (
            order_id   TEXT NOT NULL REFERENCES orders(order_id),
            bin        TEXT NOT NULL,
            position   INTEGER NOT NULL,
            staged_at  TEXT NOT NULL,
            staged_by  TEXT NOT NULL,
            PRIMARY KEY (order_id, bin)
        );
        CREATE INDEX order_bins_bin ON order_bins(bin);

        -- One row per line per short pick recorded (order.line_short), for the
        -- short-pick rate by reason and the audit. event_seq is its outbox event.
        CREATE TABLE line_shorts (
            id           INTEGER PRIMARY KEY,
            order_id     TEXT NOT NULL REFERENCES orders(order_id),
            line_id      TEXT NOT NULL,
            sku          TEXT NOT NULL,
            quantity     INTEGER NOT NULL CHECK (quantity > 0),
            reason       TEXT NOT NULL
                CHECK (reason IN ('not_found', 'damaged', 'expired', 'other')),
            event_seq    INTEGER NOT NULL,
            associate_id TEXT NOT NULL,
            recorded_at  TEXT NOT NULL
        );
        CREATE INDEX line_shorts_recorded ON line_shorts(recorded_at);
        CREATE INDEX line_shorts_order ON line_shorts(order_id);

        -- The evidence of every handoff (order.picked_up), full or partial: how the
        -- customer was verified, who collected, which bins were scanned and who
        -- waived the missing ones. lines: JSON [{line_id, quantity}] handed over.
        CREATE TABLE handoffs (
            id                INTEGER PRIMARY KEY,
            order_id          TEXT NOT NULL REFERENCES orders(order_id),
            event_seq         INTEGER NOT NULL,
            verification      TEXT NOT NULL,
            collected_by      TEXT NOT NULL CHECK (collected_by IN ('customer', 'alternate')),
            id_check_type     TEXT,
            bins_scanned      TEXT NOT NULL,   -- JSON list
            bins_missing      TEXT NOT NULL,   -- JSON list: not scanned, waived by bins_override_by
            bins_override_by  TEXT,
            acknowledgment_signed INTEGER,     -- NULL: not asked by this store's config
            lines             TEXT NOT NULL,
            complete          INTEGER NOT NULL, -- 1: nothing left to hand over
            associate_id      TEXT NOT NULL,
            handed_over_at    TEXT NOT NULL
        );
        CREATE INDEX handoffs_order ON handoffs(order_id);
        CREATE INDEX handoffs_at ON handoffs(handed_over_at);

        -- Staged orders that predate this migration keep their one bin.
        INSERT INTO order_bins (order_id, bin, position, staged_at, staged_by)
            SELECT order_id, bin, 1, state_changed_at, 'migration' FROM orders
            WHERE bin IS NOT NULL AND state IN ('READY', 'CANCELLED');
        """
    )


@MIGRATIONS()
def m006_alert_uuid(db: Database) -> None:
    # Webhook receivers deduplicate on an alert's id; a rowid repeats after a
    # restore or a reinstall, a UUID does not. Old alerts get one each too.
    db.conn.execute("ALTER TABLE alerts ADD COLUMN uuid TEXT")
    ids = [r[0] for r in db.conn.execute("SELECT id FROM alerts")]
    db.conn.executemany("UPDATE alerts SET uuid = ? WHERE id = ?",
                        [(str(uuid.uuid4()), i) for i in ids])
    db.conn.execute("CREATE UNIQUE INDEX alerts_uuid ON alerts(uuid)")


@MIGRATIONS()
def m007_associate_pins(db: Database) -> None:
    # PIN hashes live here, not in config.toml: a config-management push of the file must
    # never erase them, and `associate set-pin` must never rewrite (and re-own) the config.
    _run_script(
        db,
        """
        CREATE TABLE associate_pins (
            associate_id  TEXT PRIMARY KEY,
            pin_hash      TEXT NOT NULL,
            set_at        TEXT NOT NULL,
            source        TEXT NOT NULL CHECK (source IN ('set-pin', 'config'))
        );
        """
    )


@MIGRATIONS()
def m008_alert_sends(db: Database) -> None:
    _run_script(
        db,
        """
        -- Which alert channel already has which announcement (agent/alerts/notify.py):
        -- a retry after one channel failed goes only to the channels still
        -- missing it, so an e-mail is not sent twice because Slack was down.
        -- target: 'webhook', or 'apprise:' + a hash of the channel URL (never the URL).
        CREATE TABLE alert_sends (
            alert_id INTEGER NOT NULL REFERENCES alerts(id),
            event    TEXT NOT NULL CHECK (event IN ('raised', 'resolved')),
            target   TEXT NOT NULL,
            sent_at  TEXT NOT NULL,
            PRIMARY KEY (alert_id, event, target)
        );
        """
    )


@MIGRATIONS()
def m009_print_shift_summary(db: Database) -> None:
    # A new kind of print job, the shift summary (`report --print`). SQLite cannot
    # change a CHECK constraint in place: the table is rebuilt with the same
    # columns, rows and indexes, inside the migration's transaction.
    _run_script(
        db,
        """
        CREATE TABLE print_jobs_new (
            id              INTEGER PRIMARY KEY,
            printer_id      TEXT NOT NULL,
            kind            TEXT NOT NULL
                CHECK (kind IN ('receipt', 'bin_label', 'return_slip', 'test_page', 'shift_summary')),
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
        INSERT INTO print_jobs_new SELECT id, printer_id, kind, order_id, payload, copy, state, attempts,
            next_attempt_at, reason, printer_status, created_at, updated_at, printed_at, created_by
            FROM print_jobs;
        DROP TABLE print_jobs;
        ALTER TABLE print_jobs_new RENAME TO print_jobs;
        CREATE INDEX print_jobs_due ON print_jobs(next_attempt_at, id) WHERE state = 'queued';
        CREATE INDEX print_jobs_printer ON print_jobs(printer_id, state);
        CREATE INDEX print_jobs_order ON print_jobs(order_id) WHERE order_id IS NOT NULL;
        CREATE INDEX print_jobs_created ON print_jobs(created_at);
        """
    )


@MIGRATIONS()
def m010_attempt_limits(db: Database) -> None:
    # Wrong PINs and pickup codes, counted per associate id, order and station, so a
    # lockout holds across terminals, serve-ui sessions, the CLI and restarts.
    _run_script(
        db,
        """
        CREATE TABLE attempt_limits (
            scope           TEXT NOT NULL,
            subject         TEXT NOT NULL,
            failures        INTEGER NOT NULL DEFAULT 0,
            lockouts        INTEGER NOT NULL DEFAULT 0,
            locked_until    TEXT,
            last_failure_at TEXT,
            PRIMARY KEY (scope, subject)
        );
        """
    )


@MIGRATIONS()
def m011_kpi_indexes(db: Database) -> None:
    _run_script(
        db,
        """
        -- The KPIs ask "which orders have a short line?" for a whole period at once
        -- (agent/kpis/report.py): this index holds only those lines, a few percent.
        CREATE INDEX order_lines_short ON order_lines(order_id) WHERE quantity_short > 0
            OR (quantity_picked IS NOT NULL AND quantity_picked < quantity);
        -- A year's report reads every order made READY or handed over in it: with
        -- the columns it needs in the index, that is one sequential read of the
        -- index instead of a random read of the table per order (3x faster).
        DROP INDEX order_times_ready;
        CREATE INDEX order_times_ready ON order_times(ready_at, released_at, promised_ready_at,
            staged_by, order_id) WHERE ready_at IS NOT NULL;
        DROP INDEX order_times_picked_up;
        CREATE INDEX order_times_picked_up ON order_times(picked_up_at, picked_up_by, arrived_at)
            WHERE picked_up_at IS NOT NULL;
        """
    )


@MIGRATIONS()
def m012_queue_indexes(db: Database) -> None:
    _run_script(
        db,
        """
        -- Every queue refresh and status asks for the few orders in conflict, the
        -- unresolved dead letters and the open alerts. Without these, each was a
        -- scan of every order (snapshots included) or event a year leaves behind.
        CREATE INDEX orders_conflict ON orders(order_id) WHERE conflict IS NOT NULL;
        CREATE INDEX outbox_dead_open ON outbox(seq) WHERE status = 'dead' AND resolved_at IS NULL;
        CREATE INDEX alerts_unresolved ON alerts(id) WHERE resolved_at IS NULL;
        """
    )


@MIGRATIONS()
def m013_received_oms_updated_at(db: Database) -> None:
    # The OMS's own time of each snapshot received, beside the store's received_at:
    # `audit` shows both sides of the chain (when the OMS changed it, when the store heard).
    _run_script(db, "ALTER TABLE received_changes ADD COLUMN oms_updated_at TEXT;")


@MIGRATIONS()
def m014_order_bins_compact(db: Database) -> None:
    _run_script(
        db,
        """
        -- order_bins as one B-tree keyed by (order_id, position), no other index:
        -- staging writes one leaf page for its bins instead of a table page and two
        -- index pages (WAL pages per stage action, docs/benchmarks.md). A bin is
        -- named once per order by the staging action itself (agent/orders/staging.py);
        -- nothing looks an order up by a bin here (orders.bin, indexed, is the first).
        CREATE TABLE order_bins_new (
            order_id   TEXT NOT NULL REFERENCES orders(order_id),
            position   INTEGER NOT NULL,
            bin        TEXT NOT NULL,
            staged_at  TEXT NOT NULL,
            staged_by  TEXT NOT NULL,
            PRIMARY KEY (order_id, position)
        ) WITHOUT ROWID;
        INSERT INTO order_bins_new (order_id, position, bin, staged_at, staged_by)
            SELECT order_id, position, bin, staged_at, staged_by FROM order_bins;
        DROP TABLE order_bins;
        ALTER TABLE order_bins_new RENAME TO order_bins;
        """
    )


@MIGRATIONS()
def m015_serve_tickets(db: Database) -> None:
    # serve-ui hands each browser session's app process a one-time ticket naming the
    # associate (PIN checked) and the session's device id. Only its hash is kept, so
    # reading the database is not enough to start a logged-in session.
    _run_script(
        db,
        """
        CREATE TABLE serve_tickets (
            ticket_hash  TEXT PRIMARY KEY,
            associate_id TEXT NOT NULL,
            device_id    TEXT NOT NULL,
            expires_at   TEXT NOT NULL
        );
        """
    )


@MIGRATIONS()
def m016_order_times_what_the_store_saw(db: Database) -> None:
    _run_script(
        db,
        """
        -- An order the store first hears of already READY, picked up or cancelled
        -- (reconciliation after a restore, a feed restarted from scratch) did not
        -- become so in this store's sight: stamping it "now" put a pickup from
        -- last week into today's figures. A new order now records only its release
        -- (or nothing), and staging it records READY even when the OMS said READY first.
        DROP TRIGGER order_times_new;
        CREATE TRIGGER order_times_new AFTER INSERT ON orders BEGIN
            INSERT OR IGNORE INTO order_times (order_id, released_at, promised_ready_at, arrived_at)
            VALUES (NEW.order_id,
                    CASE WHEN NEW.state = 'TO_PICK' THEN NEW.received_at END,
                    json_extract(NEW.snapshot, '$.promised_ready_at'),
                    NEW.arrived_at);
        END;
        DROP TRIGGER order_times_event;
        CREATE TRIGGER order_times_event AFTER INSERT ON outbox
        WHEN NEW.type IN ('order.staged', 'order.picked_up', 'order.cancelled') BEGIN
            UPDATE order_times SET
                ready_at = CASE WHEN NEW.type = 'order.staged'
                                THEN COALESCE(ready_at, NEW.occurred_at) ELSE ready_at END,
                staged_by = CASE WHEN NEW.type = 'order.staged'
                                 THEN COALESCE(staged_by, NEW.associate_id) ELSE staged_by END,
                picked_up_by = CASE WHEN NEW.type = 'order.picked_up'
                                    THEN COALESCE(picked_up_by, NEW.associate_id) ELSE picked_up_by END,
                cancel_reason = CASE WHEN NEW.type = 'order.cancelled'
                                     THEN json_extract(NEW.data, '$.reason') ELSE cancel_reason END
            WHERE order_id = NEW.order_id;
        END;
        """
    )
