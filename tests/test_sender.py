"""The outbox sender against the real reference OMS over HTTP on 127.0.0.1.

The OMS runs in its own thread (``OmsSimServer``); the agent side runs in
``asyncio.run`` inside plain test functions, with the real client, the real
feed puller and the real store. Orders exist in both: the sim owns them and the
store learns them through ``FeedPuller.pull(wait=0)``.

``JudgedSim`` is the reference OMS plus one outermost middleware that records
every ``POST /events`` body exactly as the store sent it and, when a test sets
``judge``, answers a batch by its content (e.g. 400 for any batch holding one
poisoned event), which the time-ordered ``script`` of the sim cannot do. It
also records when each request arrived and when its answer left, and how many
were in the OMS at once, so tests can check what the sender had in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from aiohttp import web

from agent.errors import InvalidActionError, NotAManagerError
from agent.oms import make_client
from agent.orders import dead_letters
from agent.orders.actions import Actions
from agent.orders.ingest import ingest_snapshots
from agent.orders.outbox import append_event
from agent.store import sync_state
from agent.store.connection import Store
from agent.workers.feed import FeedPuller
from agent.workers.sender import DrainReport, OutboxSender
from config import load_settings
from config.settings import Settings
from sync.errors import SyncError
from sync.oms_sim import OmsSimServer, ScriptedAnswer, SimState, create_app
from sync.samples import sample_orders
from tests.factories import snapshot, write_config

STORE = "S042"
TOKEN = "test-token-not-secret"  # the token tests/factories.py writes into oms.token
NOW = datetime(2026, 11, 23, 14, 5, 9, tzinfo=UTC)
N_ORDERS = 8  # W1000001 .. W1000008 at the sim; W1000002 is ready_for_pickup, the rest released
ORDERS = [f"W{1000001 + i}" for i in range(N_ORDERS)]
MAX_DRAINS = 200
MAX_LOOP_S = 20.0


# --- the reference OMS, with a content-based judge ---------------------------------------


@dataclass
class Flight:
    """One POST /events as the OMS saw it: its events, arrival, and when its answer left."""

    events: list[dict[str, Any]]
    arrived: float
    answered: float = float("inf")  # inf: no answer (dropped connection, or never finished)
    left: float = float("inf")  # when the OMS was done with it, answered or not
    status: int | None = None


class JudgedSim(OmsSimServer):
    def __init__(self, state: SimState):
        super().__init__(state)
        self.batches: list[list[dict[str, Any]]] = []
        self.flights: list[Flight] = []
        self.active = self.max_active = 0
        self.judge: Callable[[list[dict[str, Any]]], int | None] | None = None

    def _judging(self):
        @web.middleware
        async def judging(request: web.Request, handler):
            if request.method != "POST" or not request.path.endswith("/events"):
                return await handler(request)
            try:
                events = json.loads(await request.read()).get("events") or []
            except (ValueError, AttributeError):
                events = []
            self.batches.append(events)
            flight = Flight(events, time.monotonic())
            self.flights.append(flight)
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            try:
                status = self.judge(events) if self.judge is not None else None
                if status is not None:
                    response = web.json_response({"error": "judged", "message": f"test answer {status}"},
                                                 status=status)
                else:
                    response = await handler(request)
                flight.status = response.status
                if request.transport is not None and not request.transport.is_closing():
                    flight.answered = time.monotonic()  # before the store can read the answer
                return response
            finally:
                self.active -= 1
                flight.left = time.monotonic()

        return judging

    async def _start(self) -> None:  # OmsSimServer._start, with our middleware outermost
        app = create_app(self.state)
        app.middlewares.insert(0, self._judging())
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.25)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = self._runner.addresses[0][1]


@dataclass
class Env:
    sim: JudgedSim
    settings: Settings
    store: Store
    actions: Actions

    @property
    def state(self) -> SimState:
        return self.sim.state


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    state = SimState(token=TOKEN, seed=7)
    for order in sample_orders(N_ORDERS, seed=7, now=NOW):
        state.add_order(STORE, order)
    with JudgedSim(state) as sim:
        path = write_config(tmp_path, policy="allow")
        text = path.read_text()
        assert 'url = "http://127.0.0.1:9"' in text and "timeout_s = 2" in text
        path.write_text(text.replace('url = "http://127.0.0.1:9"', f'url = "{sim.url}"')
                        .replace("timeout_s = 2", "timeout_s = 1"))
        settings = load_settings(path, environ={})
        assert settings.oms.url == sim.url and settings.oms_token() == TOKEN
        store = Store(settings.storage.path)
        try:
            yield Env(sim, settings, store, Actions(store, settings))
        finally:
            store.close()


# --- helpers ------------------------------------------------------------------------------


def play(env: Env, body: Callable[[OutboxSender], Awaitable[Any]], *, rng: Any = None,
         pull: bool = True) -> Any:
    """One event loop, one client, one sender: pull the feed once, then run ``body``."""

    async def main():
        async with make_client(env.settings) as client:
            sender = OutboxSender(env.store, env.settings, client, rng=rng or random.Random(5))
            if pull:
                report = await FeedPuller(env.store, env.settings, client).pull(wait=0)
                assert report.changes == N_ORDERS and not report.has_more
            return await body(sender)

    return asyncio.run(main())


def stage(env: Env, order_id: str, bin_: str = "B-01", **kwargs):
    return env.actions.stage(order_id, bin=bin_, associate_id="A100", **kwargs)


def pickup(env: Env, order_id: str):
    code = env.store.conn.execute("SELECT pickup_code FROM orders WHERE order_id = ?",
                                  (order_id,)).fetchone()[0]
    return env.actions.pickup(order_id, associate_id="A100", code=code, oms_confirmed=True)


def cancel(env: Env, order_id: str):
    return env.actions.cancel(order_id, reason="customer_refused", associate_id="A100")


def outbox(env: Env, order_id: str | None = None) -> list[dict[str, Any]]:
    if order_id is None:
        rows = env.store.conn.execute("SELECT * FROM outbox ORDER BY seq")
    else:
        rows = env.store.conn.execute("SELECT * FROM outbox WHERE order_id = ? ORDER BY seq", (order_id,))
    return [dict(r) for r in rows]


def row(env: Env, event_id: str) -> dict[str, Any]:
    return dict(env.store.conn.execute("SELECT * FROM outbox WHERE event_id = ?", (event_id,)).fetchone())


def order_row(env: Env, order_id: str) -> dict[str, Any]:
    return dict(env.store.conn.execute("SELECT * FROM orders WHERE order_id = ?", (order_id,)).fetchone())


def alerts(env: Env, kind: str, *, open_only: bool = True) -> list[dict[str, Any]]:
    sql = "SELECT * FROM alerts WHERE kind = ?" + (" AND resolved_at IS NULL" if open_only else "")
    return [dict(r) for r in env.store.conn.execute(sql + " ORDER BY id", (kind,))]


def received(env: Env) -> list[dict[str, Any]]:
    """Every event the OMS processed, in processing order, with its result."""
    with env.state.lock:
        return [dict(r) for r in env.state.store(STORE).received]


def accepted_counts(env: Env) -> Counter:
    return Counter(r["event_id"] for r in received(env) if r["result"] == "accepted")


def accepted_seqs_by_order(env: Env) -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(list)
    for r in received(env):
        if r["result"] == "accepted":
            out[r["order_id"]].append(r["seq"])
    return dict(out)


def script(env: Env, **kwargs: Any) -> None:
    kwargs.setdefault("path_contains", "/events")
    with env.state.lock:
        env.state.script.append(ScriptedAnswer(**kwargs))


def oms_version(env: Env, order_id: str) -> int:
    return env.state.get_order(STORE, order_id)["version"]


async def drain_until_done(sender: OutboxSender, env: Env, *, cap_s: float = 0.01) -> list[DrainReport]:
    """Drain repeatedly (sleeping at most ``cap_s``) until nothing is pending; bounded."""
    reports, started = [], time.monotonic()
    for _ in range(MAX_DRAINS):
        reports.append(await sender.drain(max_requests=100))
        if not env.store.conn.execute("SELECT 1 FROM outbox WHERE status = 'pending'").fetchone():
            return reports
        assert time.monotonic() - started < MAX_LOOP_S, "the outbox did not empty in time"
        await asyncio.sleep(min(reports[-1].wait_s, cap_s))
    raise AssertionError(f"still pending after {MAX_DRAINS} drains: {outbox(env)}")


def local_order(env: Env, order_id: str) -> None:
    """An order the store knows but the OMS does not (its events are rejected: unknown_order)."""
    ingest_snapshots(env.store, [snapshot(order_id)], status_map=env.settings.status_map, source="feed")


# --- per-event results --------------------------------------------------------------------


def test_accepted_results_are_acknowledged(env):
    async def body(sender):
        stage(env, ORDERS[0])
        stage(env, ORDERS[2], "B-02")
        return await sender.drain()

    report = play(env, body)
    assert (report.sent, report.acked, report.dead, report.requests) == (2, 2, 0, 1)
    assert report.wait_s == 0 and report.error is None
    for r in outbox(env):
        assert r["status"] == "acked" and r["acked_at"] and r["attempts"] == 1 and r["last_error"] is None
        assert json.loads(r["oms_result"])["status"] == "accepted"
    assert env.state.get_order(STORE, ORDERS[0])["status"] == "ready_for_pickup"
    assert sync_state.get(env.store.conn, "online") == "1"
    assert accepted_counts(env) == Counter({r["event_id"]: 1 for r in outbox(env)})


def test_duplicate_result_is_acknowledged(env):
    """The OMS applied the batch but the answer was lost; the resend is answered duplicate."""

    async def body(sender):
        stage(env, ORDERS[0])
        stage(env, ORDERS[3])
        script(env, status=200, apply=True, drop_connection=True)
        first = await sender.drain()
        assert first.acked == 0 and first.error
        assert [r["status"] for r in outbox(env)] == ["pending", "pending"]
        return await sender.drain()

    report = play(env, body)
    assert (report.acked, report.dead) == (2, 0)
    for r in outbox(env):
        assert r["status"] == "acked" and json.loads(r["oms_result"])["status"] == "duplicate"
    stats = env.state.stats(STORE)
    assert stats["accepted"] == 2 and stats["duplicate_results"] == 2 and stats["duplicate_ids"] == 2
    assert oms_version(env, ORDERS[0]) == 2  # applied once: 1 -> 2, not 3


def test_rejected_is_a_dead_letter_that_holds_its_order_while_others_flow(env):
    async def body(sender):
        local_order(env, "W9000001")
        poison = stage(env, "W9000001", "B-09").event
        later = pickup(env, "W9000001").event
        stage(env, ORDERS[0])
        stage(env, ORDERS[4], "B-04")
        report = await sender.drain()
        again = await sender.drain()
        return poison, later, report, again

    poison, later, report, again = play(env, body)
    assert (report.acked, report.dead, report.requests) == (2, 1, 1)
    dead = row(env, poison.event_id)
    assert dead["status"] == "dead" and dead["dead_kind"] == "rejected"
    assert dead["result_code"] == "unknown_order" and "W9000001" in dead["result_message"]
    assert json.loads(dead["oms_result"])["code"] == "unknown_order"
    assert row(env, later.event_id)["status"] == "held"
    assert [r["status"] for r in outbox(env) if r["order_id"] != "W9000001"] == ["acked", "acked"]
    (alert,) = alerts(env, "dead_letter")
    assert alert["key"] == "W9000001" and alert["order_id"] == "W9000001"
    assert "W9000001" in alert["message"] and "B-09" in alert["message"]
    # the held event is never sent by itself
    assert again.requests == 0 and row(env, later.event_id)["status"] == "held"
    assert later.event_id not in {r["event_id"] for r in received(env)}


def test_conflict_pickup_of_an_order_cancelled_online(env):
    async def body(sender):
        stage(env, ORDERS[0], "B-07")
        assert (await sender.drain()).acked == 1
        env.state.cancel_order(STORE, ORDERS[0])  # online, not yet on the store's feed
        event = pickup(env, ORDERS[0]).event
        return event, await sender.drain()

    event, report = play(env, body)
    assert (report.acked, report.dead) == (0, 1)
    dead = row(env, event.event_id)
    assert dead["status"] == "dead" and dead["dead_kind"] == "conflict"
    assert dead["result_code"] == "wrong_state" and "cancelled" in dead["result_message"]
    order = order_row(env, ORDERS[0])
    # the OMS snapshot was applied: its version and status, the store keeps its handoff and flags it
    assert order["version"] == oms_version(env, ORDERS[0]) and order["oms_status"] == "cancelled"
    assert order["state"] == "PICKED_UP" and order["conflict"]
    (conflict,) = alerts(env, "conflict")
    assert conflict["order_id"] == ORDERS[0] and conflict["severity"] == "critical"
    (dead_alert,) = alerts(env, "dead_letter")
    assert ORDERS[0] in dead_alert["message"] and "B-07" in dead_alert["message"]
    audit = env.store.conn.execute(
        "SELECT outcome, source FROM received_changes WHERE order_id = ? ORDER BY id DESC LIMIT 1",
        (ORDERS[0],)).fetchone()
    assert tuple(audit) == ("conflict", "result:conflict")


def test_conflict_stage_of_an_order_cancelled_online_applies_the_snapshot_without_a_manager(env):
    async def body(sender):
        env.state.cancel_order(STORE, ORDERS[5])
        event = stage(env, ORDERS[5], "B-11").event
        return event, await sender.drain()

    event, report = play(env, body)
    # The cancellation wins by itself: no dead letter for a manager (issue: cancel mid-pick).
    assert (report.dead, report.acked) == (0, 1)
    settled = row(env, event.event_id)
    assert settled["status"] == "acked" and settled["dead_kind"] is None
    assert settled["result_code"] == "superseded_by_cancel"
    assert alerts(env, "dead_letter") == []
    order = order_row(env, ORDERS[5])
    assert order["state"] == "CANCELLED" and order["version"] == oms_version(env, ORDERS[5])
    task = env.store.conn.execute("SELECT state, bin FROM return_tasks WHERE order_id = ?",
                                  (ORDERS[5],)).fetchone()
    assert tuple(task) == ("OPEN", "B-11")
    (alert,) = alerts(env, "cancelled_while_ready")
    assert ORDERS[5] in alert["message"] and "B-11" in alert["message"]


# --- whole-request answers ----------------------------------------------------------------


def test_400_bisects_to_the_bad_events_only(env):
    async def body(sender):
        events = {oid: stage(env, oid, f"B-{i:02d}").event for i, oid in enumerate(ORDERS)}
        later = stage(env, ORDERS[1], "B-20").event  # moves order 2: must wait behind its first event
        bad = {events[ORDERS[1]].event_id, events[ORDERS[5]].event_id}
        env.sim.judge = lambda batch: 400 if bad & {e["event_id"] for e in batch} else None
        return events, later, bad, await sender.drain()

    events, later, bad, report = play(env, body)
    assert (report.dead, report.acked) == (2, N_ORDERS - 2)
    for event_id in bad:
        dead = row(env, event_id)
        assert dead["status"] == "dead" and dead["dead_kind"] == "rejected"
        assert dead["result_code"] == "bad_request" and "400" in dead["result_message"]
    assert row(env, later.event_id)["status"] == "held"
    good = {e.event_id for e in events.values()} - bad
    assert {r["event_id"] for r in outbox(env) if r["status"] == "acked"} == good
    assert accepted_counts(env) == Counter({event_id: 1 for event_id in good})
    assert not bad & {r["event_id"] for r in received(env)}
    assert report.requests == len(env.sim.batches) <= 2 * N_ORDERS - 1
    assert len(env.sim.batches[0]) == N_ORDERS


def test_400_once_for_a_whole_batch_kills_nothing(env):
    async def body(sender):
        for oid in ORDERS[:4]:
            stage(env, oid)
        script(env, status=400, body='{"error": "invalid_batch"}')
        return await sender.drain()

    report = play(env, body)
    assert (report.acked, report.dead, report.requests) == (4, 0, 3)
    assert [len(b) for b in env.sim.batches] == [4, 2, 2]
    assert all(r["status"] == "acked" for r in outbox(env))


@pytest.mark.parametrize("how", ["401_rotated_token", "403_token_of_another_store", "401_scripted_by_admin"])
def test_credentials_stop_sending_until_the_token_is_fixed(env, how):
    def break_it():
        if how == "401_rotated_token":
            env.state.create_store(STORE, token="rotated-token-0123456789")
        elif how == "403_token_of_another_store":
            env.state.create_store(STORE, token="rotated-token-0123456789")
            env.state.create_store("S077", token=TOKEN)
        else:
            answer = {"status": 401, "body": '{"error": "unauthorized"}', "path_contains": "/events",
                      "times": 50}
            httpx.post(f"{env.sim.url}/admin/faults/script", json=answer, timeout=5).raise_for_status()

    def fix_it():
        if how == "401_scripted_by_admin":
            httpx.delete(f"{env.sim.url}/admin/faults", timeout=5).raise_for_status()
        else:
            env.state.create_store(STORE, token=TOKEN)

    async def body(sender):
        for oid in ORDERS[:3]:
            stage(env, oid)
        break_it()
        reports = [await sender.drain(), await sender.drain()]
        before = outbox(env)
        alert = alerts(env, "credentials")
        online = sync_state.get(env.store.conn, "online")
        received_meanwhile = env.state.stats(STORE)["events_received"]
        fix_it()
        return reports, before, alert, online, received_meanwhile, await sender.drain()

    reports, before, alert, online, received_meanwhile, fixed = play(env, body)
    for report in reports:
        assert report.wait_s == env.settings.sync.credentials_retry_s
        assert (report.acked, report.dead) == (0, 0) and report.error
        assert ("403" if how.startswith("403") else "401") in report.error
    assert [r["status"] for r in before] == ["pending"] * 3
    assert len(alert) == 1 and alert[0]["severity"] == "critical" and alert[0]["key"] == "oms"
    assert online == "0"
    assert received_meanwhile == 0
    assert (fixed.acked, fixed.dead, fixed.wait_s) == (3, 0, 0)
    assert [r["status"] for r in outbox(env)] == ["acked"] * 3
    assert alerts(env, "credentials") == [] and alerts(env, "credentials", open_only=False)[0]["resolved_at"]
    assert sync_state.get(env.store.conn, "online") == "1"


def test_413_halves_the_batch_and_delivers_everything(env):
    async def body(sender):
        for oid in ORDERS:
            stage(env, oid)
        script(env, status=413, body='{"error": "too_large"}', times=2)
        return sender, await sender.drain()

    sender, report = play(env, body)
    assert (report.acked, report.dead) == (N_ORDERS, 0)
    assert sender.batch_limit == 2
    # 8 refused; then two batches of 4 in flight, the first to arrive refused; the rest
    # (its 4 again, in 2s, and the other 4, accepted) add up to all 8, nothing twice.
    sizes = [len(b) for b in env.sim.batches]
    assert sizes[:2] == [8, 4] and all(size <= 4 for size in sizes[2:]) and sum(sizes[2:]) == N_ORDERS
    assert [r["status"] for r in outbox(env)] == ["acked"] * N_ORDERS
    assert env.state.stats(STORE)["accepted"] == N_ORDERS


def test_413_for_a_single_event_makes_it_a_dead_letter(env):
    async def body(sender):
        event = stage(env, ORDERS[0]).event
        script(env, status=413, body="{}")
        return event, await sender.drain()

    event, report = play(env, body)
    assert report.dead == 1 and row(env, event.event_id)["result_code"] == "too_large"


def _http_date_in(seconds: int) -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds), usegmt=True)


@pytest.mark.parametrize("how", ["429_fault", "429_scripted", "503_scripted", "503_http_date"])
def test_retry_after_is_a_floor(env, how):
    async def body(sender):
        for oid in ORDERS[:3]:
            stage(env, oid)
        if how == "429_fault":
            env.state.set_faults("rate_limit=1,retry_after=3")
        elif how == "503_http_date":
            script(env, status=503, headers={"Retry-After": _http_date_in(6)})
        else:
            script(env, status=int(how[:3]), headers={"Retry-After": "3"})
        report = await sender.drain()
        rows = outbox(env)
        env.state.set_faults("")
        return report, rows, await sender.drain()

    report, rows, later = play(env, body)
    floor = 4.0 if how == "503_http_date" else 3.0  # an HTTP date has whole seconds: >= 5 s remain
    assert floor <= report.wait_s <= floor + 3, report.wait_s
    assert (report.acked, report.dead) == (0, 0) and how[:3] in report.error
    for r in rows:
        assert r["status"] == "pending" and r["attempts"] == 1 and how[:3] in r["last_error"]
    assert later.acked == 3 and [r["attempts"] for r in outbox(env)] == [2, 2, 2]


TRANSIENT = {
    "500": {"status": 500, "body": '{"error": "boom"}'},
    "502": {"status": 502, "body": "<html>bad gateway</html>"},
    "504": {"status": 504, "body": ""},
    "503_without_retry_after": {"status": 503, "body": ""},
    "malformed_json": {"status": 200, "body": '{"results": [{"event_id": '},
    "wrong_result_count": {"status": 200, "body": '{"results": []}'},
    "not_a_result_list": {"status": 200, "body": '{"changes": []}'},
    "connection_dropped": {"status": 200, "drop_connection": True},
}


@pytest.mark.parametrize("how", [*TRANSIENT, "timeout"])
def test_transient_failures_keep_events_pending_and_back_off(env, how):
    async def body(sender):
        for oid in ORDERS[:3]:
            stage(env, oid)
        if how == "timeout":
            env.state.set_faults("latency_ms=1500")  # > oms.timeout_s = 1
        else:
            script(env, **TRANSIENT[how])
        report = await sender.drain()
        rows = outbox(env)
        env.state.set_faults("")
        if how == "timeout":  # the slow request is applied late at the OMS: let it land first
            deadline = time.monotonic() + 5
            while env.state.stats(STORE)["events_received"] < 3 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        return report, rows, await sender.drain()

    report, rows, later = play(env, body)
    assert (report.acked, report.dead, report.sent) == (0, 0, 0) and report.error
    assert 0.0 <= report.wait_s <= 1.0  # first failure: uniform(0, 1 s)
    for r in rows:
        assert r["status"] == "pending" and r["attempts"] == 1 and r["last_error"]
    assert later.acked == 3 and later.wait_s == 0
    for r in outbox(env):
        assert r["status"] == "acked" and r["attempts"] == 2 and r["last_error"] is None
    assert set(accepted_counts(env).values()) == {1} and len(accepted_counts(env)) == 3


class RecordingRng:
    """Answers every uniform(a, b) with b and remembers the bounds asked for."""

    def __init__(self):
        self.calls: list[tuple[float, float]] = []

    def uniform(self, a: float, b: float) -> float:
        self.calls.append((a, b))
        return b


def test_backoff_is_full_jitter_exponential_with_a_cap_and_resets_on_success(env):
    rng = RecordingRng()

    async def body(sender):
        stage(env, ORDERS[0])
        script(env, status=500, times=8)
        waits = [(await sender.drain()).wait_s for _ in range(8)]
        ok = await sender.drain()
        stage(env, ORDERS[2])
        script(env, status=502)
        return waits, ok, await sender.drain()

    waits, ok, after = play(env, body, rng=rng)
    assert waits == [1, 2, 4, 8, 16, 30, 30, 30]
    assert all(a == 0 for a, _ in rng.calls)  # full jitter: anywhere from 0 to the ceiling
    assert ok.acked == 1 and after.wait_s == 1  # a success resets the exponent
    assert outbox(env)[0]["attempts"] == 9


def test_backoff_with_a_real_rng_stays_within_full_jitter_bounds(env):
    async def body(sender):
        stage(env, ORDERS[0])
        script(env, status=500, times=6)
        return [(await sender.drain()).wait_s for _ in range(6)]

    waits = play(env, body, rng=random.Random(99))
    for attempt, wait in enumerate(waits):
        assert 0 <= wait <= min(30, 2**attempt)
    assert len(set(waits)) == len(waits)  # jittered, not a fixed schedule


# --- lost responses -------------------------------------------------------------------------


def test_lost_responses_take_effect_exactly_once(env):
    async def body(sender):
        for i, oid in enumerate(ORDERS[:5]):
            stage(env, oid, f"B-{i}")
            stage(env, oid, f"C-{i}")
        pickup(env, ORDERS[0])
        env.state.set_faults("lost_response=1")
        lost = [await sender.drain() for _ in range(4)]
        assert all(r.acked == 0 and r.error for r in lost)
        assert all(r["status"] == "pending" for r in outbox(env))
        env.state.set_faults("")
        await drain_until_done(sender, env)

    versions = {oid: oms_version(env, oid) for oid in ORDERS}
    play(env, body)
    rows = outbox(env)
    assert len(rows) == 11 and all(r["status"] == "acked" for r in rows)
    counts = accepted_counts(env)
    assert counts == Counter({r["event_id"]: 1 for r in rows})  # every event applied exactly once
    stats = env.state.stats(STORE)
    assert stats["accepted"] == 11 and stats["duplicate_ids"] == 5  # the first event of each order
    assert stats["ordering_violations"] == []
    first = {r["order_id"]: r for r in reversed(rows)}
    for r in first.values():
        assert json.loads(r["oms_result"])["status"] == "duplicate" and r["attempts"] == 5
    for oid in ORDERS[:5]:  # no double effect: one version per event
        assert oms_version(env, oid) == versions[oid] + len([r for r in rows if r["order_id"] == oid])
    assert env.state.get_order(STORE, ORDERS[0])["status"] == "picked_up"


# --- per-order ordering under faults ----------------------------------------------------------


def test_per_order_order_holds_under_random_faults(env):
    faults = "error_rate=0.15,lost_response=0.15,rate_limit=0.1,retry_after=0,malformed=0.05,seed=3"
    steps: list[Callable[[], Any]] = [
        lambda: stage(env, ORDERS[0], "B-01"),
        lambda: stage(env, ORDERS[1], "B-02"),
        lambda: stage(env, ORDERS[0], "B-03"),  # moved to another bin
        lambda: stage(env, ORDERS[2], "B-04"),
        lambda: pickup(env, ORDERS[0]),
        lambda: stage(env, ORDERS[3], "B-05"),
        lambda: cancel(env, ORDERS[3]),
        lambda: env.actions.return_to_shelf(ORDERS[3], associate_id="A100"),
        lambda: pickup(env, ORDERS[1]),
        lambda: stage(env, ORDERS[4], "B-06"),
        lambda: stage(env, ORDERS[4], "B-07"),
        lambda: stage(env, ORDERS[4], "B-08"),
        lambda: cancel(env, ORDERS[5]),
        lambda: stage(env, ORDERS[2], "B-09"),
        lambda: pickup(env, ORDERS[2]),
        lambda: pickup(env, ORDERS[4]),
    ]

    async def body(sender):
        env.state.set_faults(faults)
        original = sender.sendable

        def checked_sendable(limit, busy=frozenset()):
            rows = original(limit, busy)
            assert len({r["order_id"] for r in rows}) == len(rows)
            assert not busy & {r["order_id"] for r in rows}  # nothing of an order in flight
            return rows

        sender.sendable = checked_sendable
        feed = FeedPuller(env.store, env.settings, sender.client)
        for i, step in enumerate(steps):
            step()
            await sender.drain()
            if i % 3 == 2:  # the OMS echoes the store's own events back on the feed
                with contextlib.suppress(SyncError):
                    await feed.pull(wait=0)
        await drain_until_done(sender, env)

    play(env, body)
    rows = outbox(env)
    assert len(rows) == len(steps) and all(r["status"] == "acked" for r in rows), rows
    assert sum(r["attempts"] for r in rows) > len(rows)  # faults did bite
    counts = accepted_counts(env)
    assert counts == Counter({r["event_id"]: 1 for r in rows})  # none lost, none applied twice
    stats = env.state.stats(STORE)
    assert stats["ordering_violations"] == [] and stats["conflicts"] == 0 and stats["rejected"] == 0
    assert stats["duplicate_ids"] > 0  # lost responses happened and were resent
    store_seqs: dict[str, list[int]] = defaultdict(list)
    for r in rows:
        store_seqs[r["order_id"]].append(r["seq"])
    assert accepted_seqs_by_order(env) == dict(store_seqs)
    for batch in env.sim.batches:
        assert len({e["order_id"] for e in batch}) == len(batch)
        assert [e["seq"] for e in batch] == sorted(e["seq"] for e in batch)
    final = {oid: env.state.get_order(STORE, oid)["status"] for oid in ORDERS[:6]}
    assert final == {ORDERS[0]: "picked_up", ORDERS[1]: "picked_up", ORDERS[2]: "picked_up",
                     ORDERS[3]: "cancelled", ORDERS[4]: "picked_up", ORDERS[5]: "cancelled"}


# --- a poison event holds only its order --------------------------------------------------------


def test_poison_event_holds_only_its_order_until_a_manager_retries(env):
    poison_id = "W9000002"

    async def body(sender):
        local_order(env, poison_id)  # the OMS does not know it (yet)
        poison = stage(env, poison_id, "B-01").event
        stage(env, poison_id, "B-02")
        pickup(env, poison_id)
        for oid in ORDERS[:2]:
            stage(env, oid, "C-01")
            pickup(env, oid)
        first = await sender.drain()
        held = [r["status"] for r in outbox(env, poison_id)]
        others = [r["status"] for r in outbox(env) if r["order_id"] != poison_id]
        # the OMS learns the order (say it was created late); a manager sends the event again
        with pytest.raises(NotAManagerError):
            dead_letters.retry(env.store, env.settings, poison.event_id, manager_id="A100")
        env.state.add_order(STORE, snapshot(poison_id))
        dead_letters.retry(env.store, env.settings, poison.event_id, manager_id="M1")
        after_retry = [r["status"] for r in outbox(env, poison_id)]
        return first, held, others, after_retry, await sender.drain()

    first, held, others, after_retry, second = play(env, body)
    assert (first.acked, first.dead) == (4, 1)
    assert held == ["dead", "held", "held"]
    assert others == ["acked"] * 4
    assert after_retry == ["pending", "pending", "pending"]
    assert (second.acked, second.dead) == (3, 0)
    rows = outbox(env, poison_id)
    assert [r["status"] for r in rows] == ["acked"] * 3
    assert rows[0]["resolution"] == "retried" and rows[0]["resolved_by"] == "M1"
    assert accepted_seqs_by_order(env)[poison_id] == [r["seq"] for r in rows]
    assert env.state.get_order(STORE, poison_id)["status"] == "picked_up"
    assert alerts(env, "dead_letter") == []
    assert env.state.stats(STORE)["ordering_violations"] == []


def test_poison_event_holds_only_its_order_until_a_manager_discards_it(env):
    target = "W7000001"

    async def body(sender):
        env.state.add_order(STORE, snapshot(target))  # lines L1, L2, 2 each
        await FeedPuller(env.store, env.settings, sender.client).pull(wait=0)
        line = snapshot(target)["lines"]
        line[0]["quantity"] = 1
        env.state.update_order(STORE, target, lines=line)  # the OMS shortens L1; the store has not heard
        poison = stage(env, target, "B-01").event  # picks 2 of L1: the OMS rejects it (bad_line)
        restage = stage(env, target, "B-02", picked={"L1": 1}).event
        pick = pickup(env, target).event
        for oid in ORDERS[2:5]:
            stage(env, oid, "C-01")
        first = await sender.drain()
        statuses = [r["status"] for r in outbox(env, target)]
        with pytest.raises(InvalidActionError):
            dead_letters.discard(env.store, env.settings, poison.event_id, manager_id="M1", reason="  ")
        dead_letters.discard(env.store, env.settings, poison.event_id, manager_id="M1",
                             reason="picked too many; restaged in B-02")
        return poison, restage, pick, first, statuses, await sender.drain()

    poison, restage, pick, first, statuses, second = play(env, body)
    assert (first.acked, first.dead) == (3, 1)
    assert statuses == ["dead", "held", "held"]
    dead = row(env, poison.event_id)
    assert dead["result_code"] == "bad_line" and dead["status"] == "dead"
    assert dead["resolution"] == "discarded: picked too many; restaged in B-02"
    assert dead["resolved_by"] == "M1" and dead["resolved_at"]
    assert (second.acked, second.dead) == (2, 0)
    assert [row(env, e.event_id)["status"] for e in (restage, pick)] == ["acked", "acked"]
    assert accepted_seqs_by_order(env)[target] == [restage.seq, pick.seq]
    assert env.state.get_order(STORE, target)["status"] == "picked_up"
    assert alerts(env, "dead_letter") == []


# --- sendable() ---------------------------------------------------------------------------------


def test_sendable_never_returns_two_events_of_one_order(env):
    rng = random.Random(2024)
    order_ids = [f"W55{i:05d}" for i in range(6)]
    ingest_snapshots(env.store, [snapshot(oid) for oid in order_ids], status_map=env.settings.status_map,
                     source="feed")
    # sendable() never touches the wire: the client is nothing but its one capability.
    sender = OutboxSender(env.store, env.settings, client=SimpleNamespace(max_in_flight=1))
    done = ("acked",)

    def finished(r) -> bool:
        return r["status"] in done or (r["status"] == "dead" and r["resolved_at"] is not None)

    for step in range(400):
        if step < 20 or rng.random() < 0.4:
            with env.store.write() as conn:
                append_event(conn, order_id=rng.choice(order_ids), type="order.staged",
                             data={"bin": "B-01", "lines": []}, occurred_at="2026-11-23T14:05:09Z",
                             associate_id="A100", device_id="backroom-1", based_on_version=1)
        else:
            seq = rng.choice(outbox(env))["seq"]
            status, resolved = rng.choice([("pending", None), ("acked", None), ("held", None),
                                           ("dead", None), ("dead", "2026-11-23T15:00:00Z")])
            with env.store.write() as conn:
                conn.execute("UPDATE outbox SET status = ?, resolved_at = ? WHERE seq = ?",
                             (status, resolved, seq))
        rows = outbox(env)
        got = sender.sendable(1000)
        assert len({r["order_id"] for r in got}) == len(got)
        assert [r["seq"] for r in got] == sorted(r["seq"] for r in got)
        expected = []
        for oid in order_ids:
            first_open = next((r for r in rows if r["order_id"] == oid and not finished(r)), None)
            if first_open is not None and first_open["status"] == "pending":
                expected.append(first_open["seq"])
        assert [r["seq"] for r in got] == sorted(expected)
        assert [r["seq"] for r in sender.sendable(2)] == sorted(expected)[:2]
        # with some orders in flight: the same, less those orders, and still up to the limit
        busy = set(rng.sample(order_ids, rng.randint(1, 3)))
        free = [r["seq"] for r in rows if r["seq"] in expected and r["order_id"] not in busy]
        assert [r["seq"] for r in sender.sendable(1000, busy)] == free
        assert [r["seq"] for r in sender.sendable(2, busy)] == free[:2]


# Regression: a transient error (5xx, 429, dropped connection) that interrupts a 400 bisection
# used to write attempts + 1, last_error and next_attempt_at onto the events already
# acknowledged earlier in the same bisection. Only still-pending events may be touched.
def test_a_failure_during_bisection_leaves_already_acked_events_alone(env):
    async def body(sender):
        ids = [stage(env, oid).event.event_id for oid in ORDERS[:4]]

        def judge(batch):
            sent = [e["event_id"] for e in batch]
            if sent == [ids[2]]:
                return 500  # the bisection of [e3, e4] is interrupted by a server error
            return 400 if ids[3] in sent else None

        env.sim.judge = judge
        return ids, await sender.drain()

    ids, report = play(env, body)
    assert [len(b) for b in env.sim.batches] == [4, 2, 2, 1]
    assert report.acked == 2 and report.error and "500" in report.error
    for event_id in ids[:2]:
        acked = row(env, event_id)
        assert acked["status"] == "acked"
        assert (acked["attempts"], acked["last_error"], acked["next_attempt_at"]) == (1, None, None)
    for event_id in ids[2:]:
        pending = row(env, event_id)
        assert pending["status"] == "pending" and pending["attempts"] == 1 and "500" in pending["last_error"]


# --- several batches in flight ---------------------------------------------------------------


def add_orders(env: Env, n: int) -> list[str]:
    """``n`` more open orders at the OMS; the store learns them with ``pull_all``."""
    return [order["order_id"] for order in env.state.add_sample_orders(STORE, n)]


async def pull_all(env: Env, client) -> None:
    feed = FeedPuller(env.store, env.settings, client)
    for _ in range(20):
        if not (await feed.pull(wait=0)).has_more:
            return
    raise AssertionError("the feed did not end")


def assert_in_turn(env: Env) -> None:
    """Never two batches at the OMS at once holding one order, and every event sent only
    after a 200 answer to a batch holding the previous event of its order."""
    previous, last = {}, {}
    for r in outbox(env):
        if r["order_id"] in last:
            previous[r["event_id"]] = last[r["order_id"]]
        last[r["order_id"]] = r["event_id"]
    flights = env.sim.flights
    for i, a in enumerate(flights):
        for b in flights[i + 1:]:
            if b.arrived < a.left:  # both at the OMS at once
                assert not {e["order_id"] for e in a.events} & {e["order_id"] for e in b.events}
    for f in flights:
        for e in f.events:
            before = previous.get(e["event_id"])
            if before is not None:
                assert any(g.status == 200 and g.answered < f.arrived
                           and before in {x["event_id"] for x in g.events} for g in flights), e


def assert_delivered_once_in_order(env: Env) -> None:
    rows = outbox(env)
    assert all(r["status"] == "acked" for r in rows), [r for r in rows if r["status"] != "acked"]
    assert accepted_counts(env) == Counter({r["event_id"]: 1 for r in rows})
    assert env.state.stats(STORE)["ordering_violations"] == []
    store_seqs: dict[str, list[int]] = defaultdict(list)
    for r in rows:
        store_seqs[r["order_id"]].append(r["seq"])
    assert accepted_seqs_by_order(env) == dict(store_seqs)
    assert_in_turn(env)


def test_batches_in_flight_never_share_an_order_and_each_order_goes_in_turn(env):
    extra = add_orders(env, 30)

    async def body(sender):
        await pull_all(env, sender.client)
        for oid in extra:  # three events per order: each must wait for the previous one's answer
            stage(env, oid, "B-1")
            stage(env, oid, "B-2")
            pickup(env, oid)
        env.state.set_faults("latency_ms=20")  # long enough for the batches to overlap
        sender.batch_limit = 4
        return sender, await sender.drain()

    sender, report = play(env, body, pull=False)
    assert sender.max_in_flight == 3
    assert (report.acked, report.dead, report.error) == (90, 0, None)
    assert env.sim.max_active == 3  # pipelined, and never more than max_in_flight
    assert report.requests == len(env.sim.flights) >= 90 // 4
    assert all(len(f.events) <= 4 for f in env.sim.flights)
    assert_delivered_once_in_order(env)
    assert {env.state.get_order(STORE, oid)["status"] for oid in extra} == {"picked_up"}


def test_one_in_flight_when_the_client_takes_one(env):
    # e.g. Medusa, which applies a batch's events one after another
    assert OutboxSender(env.store, env.settings, client=SimpleNamespace(max_in_flight=1)).max_in_flight == 1
    extra = add_orders(env, 12)

    async def body(sender):
        await pull_all(env, sender.client)
        for oid in extra:
            stage(env, oid)
        env.state.set_faults("latency_ms=10")
        sender.batch_limit, sender.max_in_flight = 3, 1
        return await sender.drain()

    report = play(env, body, pull=False)
    assert report.acked == 12 and report.requests == 4
    assert env.sim.max_active == 1
    assert_delivered_once_in_order(env)


def test_a_failure_starts_no_new_batch_and_the_others_in_flight_are_recorded(env):
    extra = add_orders(env, 20)

    async def body(sender):
        await pull_all(env, sender.client)
        events = [stage(env, oid).event for oid in extra]
        first = {e.event_id for e in events[:4]}
        env.state.set_faults("latency_ms=50")  # the judged 500 comes back while the others wait
        env.sim.judge = lambda batch: 500 if first & {e["event_id"] for e in batch} else None
        sender.batch_limit = 4
        report = await sender.drain()
        rows, flights = outbox(env), len(env.sim.flights)
        env.sim.judge = None
        env.state.set_faults("")
        return events, report, rows, flights, await sender.drain()

    events, report, rows, flights, later = play(env, body, pull=False)
    assert report.requests == 3 and flights == 3  # nothing new after the failure
    assert report.acked == 8 and "500" in report.error and 0 <= report.wait_s <= 1
    by_id = {r["event_id"]: r for r in rows}
    for e in events[:4]:  # the failed batch: pending, noted
        assert by_id[e.event_id]["status"] == "pending" and by_id[e.event_id]["attempts"] == 1
        assert "500" in by_id[e.event_id]["last_error"]
    for e in events[4:12]:  # in flight alongside: answered and recorded
        assert by_id[e.event_id]["status"] == "acked" and by_id[e.event_id]["attempts"] == 1
    for e in events[12:]:  # never started
        assert by_id[e.event_id]["status"] == "pending" and by_id[e.event_id]["attempts"] == 0
    assert later.acked == 12 and later.error is None
    assert_delivered_once_in_order(env)


def test_retry_after_of_one_batch_holds_the_drain_while_the_others_finish(env):
    extra = add_orders(env, 12)

    async def body(sender):
        await pull_all(env, sender.client)
        for oid in extra:
            stage(env, oid)
        env.state.set_faults("latency_ms=30")
        script(env, status=429, headers={"Retry-After": "3"})  # the first batch to arrive
        sender.batch_limit = 4
        report = await sender.drain()
        rows = outbox(env)
        env.state.set_faults("")
        return report, rows, await sender.drain()

    report, rows, later = play(env, body, pull=False)
    assert 3.0 <= report.wait_s <= 4.0 and "429" in report.error
    assert report.acked == 8 and report.requests == 3
    limited = [r for r in rows if r["status"] == "pending"]
    assert len(limited) == 4 and all("rate limited" in r["last_error"] and r["attempts"] == 1
                                     for r in limited)
    assert later.acked == 4
    assert_delivered_once_in_order(env)


def test_several_in_flight_under_random_faults_deliver_everything_once_in_turn(env):
    extra = add_orders(env, 24)
    faults = ("error_rate=0.1,lost_response=0.2,rate_limit=0.1,retry_after=0,malformed=0.05,"
              "latency_ms=5,seed=11")

    async def body(sender):
        await pull_all(env, sender.client)
        for i, oid in enumerate(extra):
            stage(env, oid, "B-1")
            if i % 2:
                stage(env, oid, "B-2")
            if i % 3:
                pickup(env, oid)
        env.state.set_faults(faults)
        sender.batch_limit = 5
        await drain_until_done(sender, env)

    play(env, body, pull=False)
    stats = env.state.stats(STORE)
    assert stats["duplicate_ids"] > 0  # lost answers were sent again
    assert env.sim.max_active >= 2
    assert sum(r["attempts"] for r in outbox(env)) > len(outbox(env))  # the faults did bite
    assert_delivered_once_in_order(env)


def test_a_drain_cancelled_with_batches_in_flight_loses_nothing(env):
    extra = add_orders(env, 12)

    async def body(sender):
        await pull_all(env, sender.client)
        for oid in extra:
            stage(env, oid)
        env.state.set_faults("latency_ms=300")
        sender.batch_limit = 4
        task = asyncio.create_task(sender.drain())
        deadline = time.monotonic() + 5
        while len(env.sim.flights) < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        task.cancel()  # the daemon stopping, with three batches at the OMS
        with pytest.raises(asyncio.CancelledError):
            await task
        rows = outbox(env)
        while env.sim.active and time.monotonic() < deadline:  # the OMS applies them anyway
            await asyncio.sleep(0.02)
        env.state.set_faults("")
        return rows, await sender.drain()

    rows, later = play(env, body, pull=False)
    assert len(env.sim.flights) >= 3
    assert all(r["status"] == "pending" and r["attempts"] == 0 for r in rows)
    assert later.acked == 12
    assert env.state.stats(STORE)["duplicate_ids"] == 12  # applied once, acknowledged as duplicates
    assert_delivered_once_in_order(env)
