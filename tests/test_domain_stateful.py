"""Stateful property test of the domain (issue 2, section 5): associate actions interleaved with OMS
snapshots on a real SQLite file, checked against a model the test keeps itself.

Hypothesis drives one store through random sequences of:

* associate actions -- stage (valid and invalid bins, short picks, unknown lines, quantities out
  of range), pickup (right / sloppy / wrong / no code, under the allow, warn and manager offline
  policies, fresh or stale feed, with and without ``confirmed`` and ``override_id``), cancel (valid
  and invalid reasons, over-long notes), return to shelf; each by a roster associate, a manager, or
  someone not in the roster;
* OMS snapshots through the feed's entry point (``ingest_snapshots``) -- new orders, newer / equal /
  older versions, the four mapped statuses, statuses the map does not know, invalid payloads;
* the OMS acknowledging events and the feed being heard from (fresh or stale), which change what
  the snapshot rules and the offline policy may do.

A small pool of order ids makes actions and snapshots collide on the same orders. A business refusal
(``BusinessRuleError`` / ``NeedsPersonError``) is an expected outcome, but only when the model
predicted a refusal; any other exception fails the test.

Bugs found while writing this test (and since fixed) are pinned by the plain regression tests at the
end of the file; the stateful machine does not generate those inputs.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from agent.clock import iso, utc_now
from agent.errors import BusinessRuleError, NeedsPersonError
from agent.orders.actions import Actions
from agent.orders.ingest import ingest_snapshots
from agent.store.connection import Store
from config import load_settings
from tests.factories import snapshot as make_snapshot
from tests.factories import write_config

# --- the rules, written down independently of the code under test -------------------------------

ORDER_IDS = ("W1", "W2", "W3")
STATUS_MAP = {
    "released": "TO_PICK",
    "ready_for_pickup": "READY",
    "picked_up": "PICKED_UP",
    "cancelled": "CANCELLED",
}
UNKNOWN_STATUSES = ("on_hold", "Released", "shipped", "READY")
TERMINAL = ("PICKED_UP", "CANCELLED")
RANK = {"TO_PICK": 0, "READY": 1, "PICKED_UP": 2, "CANCELLED": 2}
REASONS = ("customer_refused", "no_show", "item_unavailable", "damaged", "other")
BIN_RE = re.compile(r"[A-Z0-9][A-Z0-9-]{0,15}")
ROSTER = {"A100": "associate", "M1": "manager"}
MAX_STALE_MIN = 15  # tests.factories.write_config
GUARDED = ("orders", "order_lines", "outbox", "return_tasks", "alerts", "quarantine")
# Outbox columns that describe what happened: they never change once written. status, attempts,
# acked_at ... belong to delivery and may change.
EVENT_FACTS = ("seq", "event_id", "order_id", "type", "data", "occurred_at", "associate_id",
               "device_id", "based_on_version", "override_by")

# --- strategies -------------------------------------------------------------------------------------

order_ids = st.sampled_from(ORDER_IDS)
associates = st.sampled_from(("A100", "A100", "A100", "M1", "M1", "X9"))
bins = st.one_of(
    st.sampled_from(("B1", "A-01", "Z9-TOP", " C3 ", "7", "A" * 16)),
    st.sampled_from(("B1", "B2", "C3")),
    st.sampled_from(("c3", "-A1", "", "A" * 17, "BIN 1", "Ä1", "B1\n", "B_1")),
    st.text(alphabet="AB1-_ z", max_size=5),
)
picks = st.one_of(
    st.none(),
    st.dictionaries(st.sampled_from(("L1", "L2", "L3")), st.integers(0, 1), max_size=3),
    st.dictionaries(st.sampled_from(("L1", "L2", "L3", "L9")), st.integers(-1, 4), max_size=3),
)
snapshot_lines = st.lists(
    st.tuples(st.sampled_from(("L1", "L2", "L3")), st.integers(1, 3)),
    min_size=1, max_size=3, unique_by=lambda t: t[0],
)
statuses = st.sampled_from((*STATUS_MAP, *STATUS_MAP, *UNKNOWN_STATUSES))
version_deltas = st.sampled_from((-2, -1, 0, 1, 1, 1, 2, 7))


def _corrupt(raw: dict, kind: str):
    """A snapshot the contract rejects; the store must quarantine it and change no order."""
    raw = json.loads(json.dumps(raw))
    if kind == "not_object":
        return [raw]
    if kind == "null":
        return None
    if kind == "text":
        return "W1"
    if kind == "missing_lines":
        del raw["lines"]
    elif kind == "empty_lines":
        raw["lines"] = []
    elif kind == "version_zero":
        raw["version"] = 0
    elif kind == "version_text":
        raw["version"] = "two"
    elif kind == "bad_fulfillment":
        raw["fulfillment"] = "ship"
    elif kind == "short_code":
        raw["pickup_code"] = "K7"
    elif kind == "naive_time":
        raw["updated_at"] = "2026-11-23T10:00:00"
    elif kind == "duplicate_lines":
        raw["lines"] = [raw["lines"][0], dict(raw["lines"][0])]
    elif kind == "zero_quantity":
        raw["lines"][0]["quantity"] = 0
    elif kind == "bad_phone":
        raw["customer"]["phone_last4"] = "12a4"
    elif kind == "no_order_id":
        del raw["order_id"]
    elif kind == "empty_status":
        raw["status"] = ""
    return raw


CORRUPTIONS = ("not_object", "null", "text", "missing_lines", "empty_lines", "version_zero",
               "version_text", "bad_fulfillment", "short_code", "naive_time", "duplicate_lines",
               "zero_quantity", "bad_phone", "no_order_id", "empty_status")


# --- the model -------------------------------------------------------------------------------------


@dataclass
class ModelOrder:
    state: str
    version: int
    code: str
    lines: dict[str, list]  # line_id -> [quantity, quantity_picked or None]
    bin: str | None = None
    open_task_bin: str | None = None
    has_open_task: bool = False
    conflict: bool = False
    arrival_bay: str | None = None
    short: dict[str, int] = field(default_factory=dict)  # line_id -> units recorded short
    verified: dict[str, int] = field(default_factory=dict)  # line_id -> units scanned (picked)
    picked_up: dict[str, int] = field(default_factory=dict)  # line_id -> units handed over
    skus: dict[str, str] = field(default_factory=dict)  # line_id -> its SKU (what a scan reads)

    def to_pick(self, line_id: str) -> int:
        return max(0, self.wanted(line_id) - self.verified.get(line_id, 0))

    def tracked(self) -> bool:
        """The pick is tracked item by item: staging takes what was scanned (policy "scan")."""
        return self.state == "TO_PICK" and any(self.verified.values())

    def in_hand(self) -> bool:
        """Scanned units not staged yet: a cancellation now leaves them to return."""
        return any(n and self.lines[i][1] is None for i, n in self.verified.items())

    def remaining(self, line_id: str) -> int:
        """Units in the bins not handed over yet."""
        quantity, picked = self.lines[line_id]
        return max(0, (picked if picked is not None else quantity) - self.picked_up.get(line_id, 0))

    def wanted(self, line_id: str) -> int:
        """What a line still wants from the shelf: ordered less what was recorded short."""
        return max(0, self.lines[line_id][0] - self.short.get(line_id, 0))


@dataclass
class ModelEvent:
    order_id: str
    type: str
    acked: bool = False


@dataclass
class Model:
    orders: dict[str, ModelOrder] = field(default_factory=dict)
    events: list[ModelEvent] = field(default_factory=list)
    tasks_created: int = 0
    quarantined: int = 0
    last_heard: datetime | None = None


class DomainMachine(RuleBasedStateMachine):
    """Invariants checked after every step, and why they matter:

    * one outbox row per successful action, none per refusal: the outbox is what the OMS learns of
      the store; a missing event loses an associate's work, an extra one replays it ("durable
      before confirmed" means state change and event commit together or not at all).
    * a refusal leaves orders, order_lines, outbox, return_tasks, alerts and quarantine exactly as
      they were: the CLI tells the associate "nothing changed", which must be true.
    * seq is 1..N with no gap and event_id is unique: the OMS applies events in seq order and
      deduplicates by event_id; a gap looks like a lost event, a reused id like a duplicate.
    * a READY order that becomes CANCELLED (by an associate or by the OMS) has a return task:
      otherwise staged goods sit in a bin forever and the shelf shows them as sold.
    * PICKED_UP and CANCELLED stay terminal: a snapshot or an action must never resurrect an order
      that was handed over or cancelled (it would be handed over twice / restocked twice).
    * no outbox row disappears and what it says never changes: a row is a promise to tell the OMS
      something; retries resend the stored row, so it must be the same row every time.
    * a snapshot whose version is <= the stored one changes no order: the feed replays and
      reorders, and an old snapshot applied over a new one silently rolls the store back.
    * a snapshot with an unmapped status changes no order and is quarantined: the store must not
      guess what an unknown status means, and someone must see that it arrived.
    * the database matches the model kept by this test (state, version, bin, lines, tasks).
    * at teardown PRAGMA integrity_check is ok and no foreign key dangles.
    """

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="store-agent-stateful-"))
        self.store: Store | None = None
        self.model = Model()
        self.successes = 0
        self.seen_events: dict[str, tuple] = {}
        self.terminal_seen: dict[str, str] = {}
        self.prev_states: dict[str, str] = {}

    # --- set-up and tear-down -------------------------------------------------------------------
    @initialize(
        policy=st.sampled_from(("allow", "warn", "manager")),
        seeds=st.lists(st.sampled_from(("released", "ready_for_pickup", "released", None)),
                       min_size=len(ORDER_IDS), max_size=len(ORDER_IDS)),
        heard_min=st.sampled_from((None, 0, 60)),
    )
    def open_store(self, policy: str, seeds: list[str | None], heard_min: int | None) -> None:
        self.policy = policy
        self.settings = load_settings(write_config(self.tmp, policy=policy), environ={})
        assert dict(self.settings.status_map) == STATUS_MAP
        assert self.settings.pickup.max_offline_staleness_min == MAX_STALE_MIN
        self.store = Store(self.settings.storage.path)
        self.actions = Actions(self.store, self.settings)
        for order_id, status in zip(ORDER_IDS, seeds, strict=True):
            if status is not None:
                self._ingest(make_snapshot(order_id, status=status), status=status, valid=True)
        if heard_min is not None:
            self.feed_heard(heard_min)
        self.prev_states = self._states()

    def teardown(self) -> None:
        try:
            if self.store is not None:
                assert self.store.integrity_check() == "ok"
                assert self.store.conn.execute("PRAGMA foreign_key_check").fetchall() == []
                self.store.close()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # --- helpers ----------------------------------------------------------------------------------
    @property
    def conn(self) -> sqlite3.Connection:
        assert self.store is not None
        return self.store.conn

    def _dump(self, *tables: str) -> dict[str, list[tuple]]:
        return {t: [tuple(r) for r in self.conn.execute(f"SELECT * FROM {t} ORDER BY rowid")]
                for t in tables or GUARDED}

    def _states(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT order_id, state FROM orders").fetchall())

    def _max_seq(self) -> int:
        return self.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM outbox").fetchone()[0]

    def _act(self, call, *, order_id: str, refusal: type[Exception] | None, event_type: str):
        """Run one action; check it succeeded or was refused exactly as the model predicted."""
        before = self._dump()
        seq_before = self._max_seq()
        try:
            result = call()
        except (BusinessRuleError, NeedsPersonError) as exc:
            assert refusal is not None, f"refused, but the model expected success: {exc!r}"
            assert isinstance(exc, refusal), f"expected a {refusal.__name__}, got {exc!r}"
            assert self._dump() == before, f"refusal {exc!r} changed a guarded table"
            event(f"{event_type}: refused ({type(exc).__name__})")
            return None
        assert refusal is None, f"succeeded, but the model expected a {refusal.__name__}"
        self.successes += 1
        event(f"{event_type}: done")
        rows = self.conn.execute("SELECT * FROM outbox WHERE seq > ? ORDER BY seq",
                                 (seq_before,)).fetchall()
        assert len(rows) == 1, f"{event_type}: {len(rows)} outbox rows for one action"
        row = rows[0]
        assert (row["order_id"], row["type"]) == (order_id, event_type)
        assert (row["event_id"], row["seq"]) == (result.event.event_id, result.event.seq)
        assert row["based_on_version"] == self.model.orders[order_id].version
        self.model.events.append(ModelEvent(order_id, event_type))
        return result, row

    @staticmethod
    def _refuse_unless(ok: bool, cls: type[Exception] = BusinessRuleError):
        return None if ok else cls

    # --- associate actions -------------------------------------------------------------------
    @rule(order_id=order_ids, bin=bins, picked=picks, associate=associates)
    def stage(self, order_id: str, bin: str, picked: dict[str, int] | None, associate: str) -> None:
        o = self.model.orders.get(order_id)
        wanted = dict(picked or {})
        ok = (
            BIN_RE.fullmatch(bin.strip()) is not None
            and associate in ROSTER
            and o is not None
            and o.state in ("TO_PICK", "READY")
            and set(wanted) <= set(o.lines)
            # Units already handed over (a partial pickup) cannot be un-picked by a re-stage.
            and all(o.picked_up.get(i, 0) <= q <= o.wanted(i) for i, q in wanted.items())
        )
        if ok and o.tracked():
            # Only what was scanned can be staged, and nothing may be left unaccounted.
            ok = all(o.verified.get(i, 0) >= o.wanted(i) for i in o.lines) and all(
                q <= min(o.wanted(i), o.verified.get(i, 0)) for i, q in wanted.items())
        done = self._act(
            lambda: self.actions.stage(order_id, bin=bin, associate_id=associate, picked=picked),
            order_id=order_id, refusal=self._refuse_unless(ok), event_type="order.staged",
        )
        if done is None:
            return
        _, row = done
        tracked = o.tracked()
        o.state, o.bin = "READY", bin.strip()
        for line_id, line in o.lines.items():
            default = min(o.wanted(line_id), o.verified.get(line_id, 0)) if tracked else o.wanted(
                line_id)
            line[1] = wanted.get(line_id, default)
        data = json.loads(row["data"])
        assert data["bin"] == o.bin
        assert {x["line_id"]: x["quantity_picked"] for x in data["lines"]} == {
            i: line[1] for i, line in o.lines.items()}

    @rule(
        order_id=order_ids,
        associate=associates,
        short=st.one_of(
            st.dictionaries(st.sampled_from(("L1", "L2")), st.integers(1, 2), min_size=1,
                            max_size=2),
            st.dictionaries(st.sampled_from(("L1", "L2", "L3", "L9")), st.integers(0, 3),
                            max_size=2)),
        reason=st.sampled_from(("not_found", "damaged", "expired", "other", "not_found", "lost")),
    )
    def short_pick(self, order_id: str, associate: str, short: dict[str, int], reason: str) -> None:
        """API 1.1: units of TO_PICK lines that cannot be picked, with a reason."""
        o = self.model.orders.get(order_id)
        ok = (
            reason in ("not_found", "damaged", "expired", "other")
            and bool(short)
            and associate in ROSTER
            and o is not None
            and o.state == "TO_PICK"
            and set(short) <= set(o.lines)
            and all(1 <= q <= o.to_pick(i) for i, q in short.items())
        )
        done = self._act(
            lambda: self.actions.short(order_id, lines=short, reason=reason, associate_id=associate),
            order_id=order_id, refusal=self._refuse_unless(ok), event_type="order.line_short",
        )
        if done is None:
            return
        _, row = done
        for line_id, qty in short.items():
            o.short[line_id] = o.short.get(line_id, 0) + qty
        assert json.loads(row["data"]) == {"lines": [
            {"line_id": i, "quantity": q, "reason": reason} for i, q in short.items()]}
        recorded = dict(self.conn.execute(
            "SELECT line_id, SUM(quantity) FROM line_shorts WHERE order_id = ? GROUP BY line_id",
            (order_id,)).fetchall())
        stored = dict(self.conn.execute("SELECT line_id, quantity_short FROM order_lines"
                                        " WHERE order_id = ?", (order_id,)).fetchall())
        for line_id in short:
            assert stored[line_id] == o.short[line_id] <= recorded[line_id]

    @rule(order_id=order_ids, associate=associates,
          line=st.sampled_from(("L1", "L2", "L3", "L9")))
    def scan_item(self, order_id: str, associate: str, line: str) -> None:
        """API 1.1 scan-to-verify: one unit of the line whose SKU is scanned; no event."""
        o = self.model.orders.get(order_id)
        code = o.skus.get(line, "SKU-NOT-ON-ORDER") if o else "SKU-1"
        ok = (associate in ROSTER and o is not None and o.state == "TO_PICK"
              and line in o.lines and o.to_pick(line) > 0)
        before, seq_before = self._dump(), self._max_seq()
        try:
            self.actions.verify_item(order_id, code=code, associate_id=associate)
        except BusinessRuleError as exc:
            assert not ok, f"scan refused, but the model expected success: {exc!r}"
            assert self._dump() == before, f"refused scan {exc!r} changed a guarded table"
            event("scan: refused")
            return
        assert ok, "scan succeeded, but the model expected a refusal"
        assert self._max_seq() == seq_before, "a scan wrote to the outbox"
        o.verified[line] = o.verified.get(line, 0) + 1
        event("scan: done")

    @rule(order_id=order_ids, associate=associates,
          line=st.sampled_from(("L1", "L2", "L3", "L9")), units=st.integers(0, 3))
    def partial_pickup(self, order_id: str, associate: str, line: str, units: int) -> None:
        """API 1.1: hand over some units of one line; the order stays READY until all are."""
        o = self.model.orders.get(order_id)
        ok = (associate in ROSTER and o is not None and o.state == "READY" and line in o.lines
              and 1 <= units <= o.remaining(line))
        done = self._act(
            lambda: self.actions.pickup(order_id, associate_id=associate, code=o.code if o else "X",
                                        oms_confirmed=True, lines={line: units}),
            order_id=order_id, refusal=self._refuse_unless(ok), event_type="order.picked_up",
        )
        if done is None:
            return
        result, row = done
        o.picked_up[line] = o.picked_up.get(line, 0) + units
        if not any(o.remaining(i) for i in o.lines):
            o.state = "PICKED_UP"
        assert result.state == o.state
        assert json.loads(row["data"])["lines"] == [{"line_id": line, "quantity": units}]

    @rule(
        order_id=order_ids,
        associate=associates,
        code_kind=st.sampled_from(("right", "sloppy", "wrong", "none")),
        confirmed=st.booleans(),
        override=st.sampled_from((None, None, "M1", "A100", "X9")),
        oms_confirmed=st.sampled_from((False, False, True)),
    )
    def pickup(self, order_id: str, associate: str, code_kind: str, confirmed: bool,
               override: str | None, oms_confirmed: bool) -> None:
        o = self.model.orders.get(order_id)
        real = o.code if o else "K7Q9MX"
        code = {"right": real, "sloppy": f"  {real.lower()} ", "wrong": "ZZZZ99", "none": None}[
            code_kind]
        refusal = self._pickup_refusal(o, associate, code, confirmed, override, oms_confirmed)
        done = self._act(
            lambda: self.actions.pickup(order_id, associate_id=associate, code=code,
                                        oms_confirmed=oms_confirmed, confirmed=confirmed,
                                        override_id=override),
            order_id=order_id, refusal=refusal, event_type="order.picked_up",
        )
        if done is None:
            return
        _, row = done
        o.state = "PICKED_UP"
        assert row["override_by"] == override
        data = json.loads(row["data"])
        expected = {"verification": "pickup_code" if code is not None else "manager_override",
                    "bin": o.bin, "collected_by": "customer"}
        if any(o.picked_up.values()):  # after a partial pickup, each handoff names its units
            expected["lines"] = [{"line_id": i, "quantity": o.remaining(i)}
                                 for i in o.lines if o.remaining(i)]
        assert data == expected
        for line_id in o.lines:
            o.picked_up[line_id] = o.picked_up.get(line_id, 0) + o.remaining(line_id)

    def _pickup_refusal(self, o, associate, code, confirmed, override, oms_confirmed):
        if associate not in ROSTER or o is None or o.state != "READY":
            return BusinessRuleError
        if code is not None:
            if code.strip().casefold() != o.code.casefold():
                return BusinessRuleError
        elif override is None:
            return BusinessRuleError
        if override is not None and ROSTER.get(override) != "manager":
            return BusinessRuleError
        if oms_confirmed:
            return None
        heard = self.model.last_heard
        stale = heard is None or utc_now() - heard > timedelta(minutes=MAX_STALE_MIN)
        effective = "manager" if self.policy == "warn" and stale else self.policy
        if effective == "warn" and not (confirmed or override):
            return NeedsPersonError
        if effective == "manager" and override is None:
            return NeedsPersonError
        return None

    @rule(
        order_id=order_ids,
        associate=associates,
        reason=st.one_of(st.sampled_from(REASONS), st.sampled_from(("", "lost", "NO_SHOW"))),
        note=st.sampled_from((None, "customer called", "x" * 500, "x" * 501)),
    )
    def cancel(self, order_id: str, associate: str, reason: str, note: str | None) -> None:
        o = self.model.orders.get(order_id)
        ok = (
            reason in REASONS
            and (note is None or len(note) <= 500)
            and associate in ROSTER
            and o is not None
            and o.state in ("TO_PICK", "READY")
        )
        done = self._act(
            lambda: self.actions.cancel(order_id, reason=reason, associate_id=associate, note=note),
            order_id=order_id, refusal=self._refuse_unless(ok), event_type="order.cancelled",
        )
        if done is None:
            return
        result, row = done
        if o.state == "READY" or o.in_hand():
            self._open_task(o)
            assert result.return_task_id is not None
        else:
            assert result.return_task_id is None
        o.state = "CANCELLED"
        assert json.loads(row["data"]) == {"reason": reason, "note": note}

    @rule(order_id=order_ids, associate=associates)
    def return_to_shelf(self, order_id: str, associate: str) -> None:
        o = self.model.orders.get(order_id)
        ok = associate in ROSTER and o is not None and o.state == "CANCELLED" and o.has_open_task
        done = self._act(
            lambda: self.actions.return_to_shelf(order_id, associate_id=associate),
            order_id=order_id, refusal=self._refuse_unless(ok),
            event_type="order.returned_to_shelf",
        )
        if done is None:
            return
        _, row = done
        assert json.loads(row["data"])["bin"] == o.open_task_bin
        o.has_open_task, o.open_task_bin, o.bin = False, None, None

    def _open_task(self, o: ModelOrder) -> None:
        assert not o.has_open_task
        o.has_open_task, o.open_task_bin = True, o.bin
        self.model.tasks_created += 1

    # --- the OMS side ----------------------------------------------------------------------------
    @rule(
        order_id=order_ids,
        delta=version_deltas,
        status=statuses,
        lines=snapshot_lines,
        code=st.sampled_from(("K7Q9MX", "ab12cd")),
        bay=st.sampled_from((None, "B2")),
        wrapped=st.booleans(),
    )
    def oms_snapshot(self, order_id, delta, status, lines, code, bay, wrapped) -> None:
        known = self.model.orders.get(order_id)
        version = max(1, (known.version if known else 1) + delta)
        raw = make_snapshot(order_id, version=version, status=status, code=code,
                            arrival={"arrived_at": "2026-11-23T15:05:00Z", "bay": bay} if bay else None)
        raw["lines"] = [dict(raw["lines"][0], line_id=i, sku=f"SKU-{i}", quantity=q) for i, q in lines]
        if wrapped:
            raw = {"change_id": f"c-{version}", "order": raw}
        self._ingest(raw, status=status, valid=True)

    @rule(order_id=order_ids, status=st.sampled_from(("released", "ready_for_pickup")))
    def oms_echoes_earlier_step(self, order_id: str, status: str) -> None:
        """A newer snapshot that has not seen the store's latest action yet (same lines)."""
        known = self.model.orders.get(order_id)
        raw = make_snapshot(order_id, version=(known.version if known else 0) + 1, status=status,
                            code=known.code if known else "K7Q9MX")
        if known:
            raw["lines"] = [dict(raw["lines"][0], line_id=i, sku=f"SKU-{i}", quantity=line[0])
                            for i, line in known.lines.items()]
        self._ingest(raw, status=status, valid=True)

    @rule(order_id=order_ids, delta=version_deltas, kind=st.sampled_from(CORRUPTIONS))
    def oms_invalid_snapshot(self, order_id, delta, kind) -> None:
        known = self.model.orders.get(order_id)
        version = max(1, (known.version if known else 1) + delta)
        self._ingest(_corrupt(make_snapshot(order_id, version=version), kind), status=None,
                     valid=False)

    @rule(order_id=order_ids)
    def oms_acknowledges(self, order_id: str) -> None:
        """What the sync loop does when the OMS accepts the order's events."""
        with self.store.write() as conn:
            conn.execute("UPDATE outbox SET status = 'acked', acked_at = ? WHERE order_id = ?"
                         " AND status = 'pending'", (iso(utc_now()), order_id))
        for happened in self.model.events:
            if happened.order_id == order_id:
                happened.acked = True

    @rule(age_min=st.sampled_from((0, 5, 60, 600)))
    def feed_heard(self, age_min: int) -> None:
        """The feed records when it last heard from the OMS: the offline policy's staleness."""
        heard = utc_now() - timedelta(minutes=age_min)
        assert ingest_snapshots(self.store, [], status_map=self.settings.status_map, source="feed",
                                sync_state={"last_feed_success_at": iso(heard)}) == Counter()
        self.model.last_heard = heard

    def _ingest(self, raw, *, status: str | None, valid: bool) -> None:
        snap = raw["order"] if isinstance(raw, dict) and "order" in raw else raw
        before = self._dump()
        outcomes = ingest_snapshots(self.store, [raw], status_map=self.settings.status_map,
                                    source="feed")
        after = self._dump()
        assert sum(outcomes.values()) == 1, outcomes
        event(f"snapshot: {next(iter(outcomes))}")
        assert after["outbox"] == before["outbox"], "a snapshot wrote to the outbox"
        untouched = ("orders", "order_lines", "return_tasks")
        if not valid or status not in STATUS_MAP:
            # Invalid payload or unmapped status: quarantined, no order changed.
            assert outcomes == Counter(quarantined=1), outcomes
            assert all(after[t] == before[t] for t in untouched), "quarantined snapshot changed orders"
            assert len(after["quarantine"]) == len(before["quarantine"]) + 1
            self.model.quarantined += 1
            return
        assert len(after["quarantine"]) == len(before["quarantine"])
        order_id, version = snap["order_id"], snap["version"]
        o = self.model.orders.get(order_id)
        if o is not None and version <= o.version:
            assert outcomes == Counter(older=1), outcomes
            assert all(after[t] == before[t] for t in untouched), (
                f"snapshot v{version} <= stored v{o.version} changed the store")
            return
        assert not outcomes["older"] and not outcomes["quarantined"], outcomes
        self._model_apply(snap, STATUS_MAP[status])

    def _model_apply(self, snap: dict, new_state: str) -> None:
        order_id = snap["order_id"]
        o = self.model.orders.get(order_id)
        lines = {x["line_id"]: x["quantity"] for x in snap["lines"]}
        bay = (snap.get("arrival") or {}).get("bay")
        if o is None:
            self.model.orders[order_id] = ModelOrder(
                state=new_state, version=snap["version"], code=snap["pickup_code"],
                lines={i: [q, None] for i, q in lines.items()}, arrival_bay=bay,
                skus={x["line_id"]: x["sku"] for x in snap["lines"]})
            return
        unacked = [e.type for e in self.model.events if e.order_id == order_id and not e.acked]
        if o.state in TERMINAL:
            if o.state == "PICKED_UP" and new_state == "CANCELLED" and "order.picked_up" in unacked:
                event("snapshot: cancelled an unacknowledged pickup (conflict)")
                o.conflict = True
            new_state = o.state
        elif new_state == "CANCELLED":
            if o.state == "TO_PICK" and o.in_hand():
                event("snapshot: cancelled mid-pick")
                self._open_task(o)
            if o.state == "READY":
                event("snapshot: cancelled a READY order")
                self._open_task(o)
        elif RANK[new_state] < RANK[o.state] and unacked:
            event("snapshot: echo of an earlier step ignored")
            new_state = o.state  # the OMS echoes a step before the store's unacknowledged action
        o.state, o.version, o.code, o.arrival_bay = new_state, snap["version"], snap["pickup_code"], bay
        o.lines = {i: [q, o.lines.get(i, [None, None])[1]] for i, q in lines.items()}
        # The store keeps what it recorded for the lines the snapshot still has.
        o.short = {i: n for i, n in o.short.items() if i in lines}
        o.verified = {i: n for i, n in o.verified.items() if i in lines}
        o.picked_up = {i: n for i, n in o.picked_up.items() if i in lines}
        o.skus = {x["line_id"]: x["sku"] for x in snap["lines"]}

    # --- invariants --------------------------------------------------------------------------------
    @invariant()
    def one_event_per_successful_action(self) -> None:
        rows = self.conn.execute("SELECT order_id, type FROM outbox").fetchall()
        assert len(rows) == self.successes == len(self.model.events)
        assert Counter(tuple(r) for r in rows) == Counter((e.order_id, e.type)
                                                          for e in self.model.events)

    @invariant()
    def seq_gap_free_and_event_ids_unique(self) -> None:
        seqs = [r[0] for r in self.conn.execute("SELECT seq FROM outbox ORDER BY seq")]
        assert seqs == list(range(1, len(seqs) + 1)), seqs
        ids = [r[0] for r in self.conn.execute("SELECT event_id FROM outbox")]
        assert len(ids) == len(set(ids))

    @invariant()
    def outbox_is_append_only(self) -> None:
        cols = ", ".join(EVENT_FACTS)
        now = {r["event_id"]: tuple(r) for r in self.conn.execute(f"SELECT {cols} FROM outbox")}
        missing = set(self.seen_events) - set(now)
        assert not missing, f"outbox rows disappeared: {missing}"
        for event_id, facts in self.seen_events.items():
            assert now[event_id] == facts, f"outbox row {event_id} changed"
        self.seen_events = now

    @invariant()
    def transitions_keep_their_promises(self) -> None:
        states = self._states()
        assert set(self.prev_states) <= set(states), "an order disappeared"
        for order_id, state in states.items():
            if order_id in self.terminal_seen:
                assert state == self.terminal_seen[order_id], (
                    f"{order_id} left terminal {self.terminal_seen[order_id]} for {state}")
            elif state in TERMINAL:
                self.terminal_seen[order_id] = state
            if self.prev_states.get(order_id) == "READY" and state == "CANCELLED":
                tasks = self.conn.execute(
                    "SELECT COUNT(*) FROM return_tasks WHERE order_id = ? AND state = 'OPEN'",
                    (order_id,)).fetchone()[0]
                assert tasks == 1, f"{order_id} went READY -> CANCELLED without a return task"
        self.prev_states = states

    @invariant()
    def database_matches_model(self) -> None:
        rows = {r["order_id"]: r for r in self.conn.execute("SELECT * FROM orders")}
        assert set(rows) == set(self.model.orders)
        for order_id, o in self.model.orders.items():
            r = rows[order_id]
            assert (r["state"], r["version"], r["bin"], r["pickup_code"], r["arrival_bay"]) == (
                o.state, o.version, o.bin, o.code, o.arrival_bay), order_id
            assert bool(r["conflict"]) == o.conflict, order_id
            lines = {x[0]: [x[1], x[2]] for x in self.conn.execute(
                "SELECT line_id, quantity, quantity_picked FROM order_lines WHERE order_id = ?",
                (order_id,))}
            assert lines == o.lines, order_id
            counts = {x[0]: tuple(x[1:]) for x in self.conn.execute(
                "SELECT line_id, quantity_short, quantity_verified, quantity_picked_up"
                " FROM order_lines WHERE order_id = ?", (order_id,))}
            assert counts == {i: (o.short.get(i, 0), o.verified.get(i, 0), o.picked_up.get(i, 0))
                              for i in o.lines}, order_id
            task = self.conn.execute(
                "SELECT bin FROM return_tasks WHERE order_id = ? AND state = 'OPEN'",
                (order_id,)).fetchall()
            assert len(task) == int(o.has_open_task), order_id
            if task:
                assert task[0][0] == o.open_task_bin
                assert o.state == "CANCELLED"
        tasks = self.conn.execute("SELECT COUNT(*) FROM return_tasks").fetchone()[0]
        assert tasks == self.model.tasks_created
        quarantined = self.conn.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0]
        assert quarantined == self.model.quarantined


TestDomainStateful = DomainMachine.TestCase
TestDomainStateful.settings = settings(
    max_examples=150,
    stateful_step_count=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


# --- regression tests for bugs found while writing the machine above ----------------------------------
# Each of these FAILS against the current product code. They pin the bug; fix the product, not the test.


def _fresh_store(tmp_path: Path):
    cfg = load_settings(write_config(tmp_path), environ={})
    return cfg, Store(cfg.storage.path)


def test_snapshot_version_beyond_sqlite_integer_is_quarantined_not_raised(tmp_path: Path) -> None:
    """Regression: a version >= 2**63 used to validate and then raise OverflowError while being
    written, rolling back the whole page: one bad snapshot blocked the feed forever."""
    cfg, store = _fresh_store(tmp_path)
    with store:
        outcomes = ingest_snapshots(
            store, [make_snapshot("W1", version=2**63), make_snapshot("W2")],
            status_map=cfg.status_map, source="feed")
        assert outcomes == Counter(quarantined=1, applied=1)


def test_snapshot_timestamp_out_of_utc_range_is_quarantined_not_raised(tmp_path: Path) -> None:
    """Regression: a valid RFC 3339 time outside UTC's range (0001-01-01T00:00:00+01:00) used to
    pass validation and raise OverflowError while being applied, rolling back the page."""
    cfg, store = _fresh_store(tmp_path)
    with store:
        bad = dict(make_snapshot("W1"), updated_at="0001-01-01T00:00:00+01:00")
        outcomes = ingest_snapshots(store, [bad, make_snapshot("W2")], status_map=cfg.status_map,
                                    source="feed")
        assert outcomes == Counter(quarantined=1, applied=1)


def test_iso_pads_years_before_1000() -> None:
    """Regression: strftime('%Y') does not zero-pad on glibc, so year 999 was stored as '999-...'."""
    assert iso(datetime(999, 1, 1, tzinfo=UTC)) == "0999-01-01T00:00:00.000Z"
