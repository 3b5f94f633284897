"""StoreSyncClient against the reference OMS over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from sync.client import StoreSyncClient
from sync.errors import (
    BadRequestError,
    BadResponseError,
    CredentialsError,
    CursorExpiredError,
    NotFoundError,
    RateLimitedError,
    TooLargeError,
    TransientError,
    UnexpectedStatusError,
)
from sync.oms_sim import ScriptedAnswer
from tests.sync.conftest import STORE, client_for, make_event


def first_order(sim) -> dict:
    return sim.state.get_order(STORE, "W1000001")


def script(sim, **kwargs) -> None:
    sim.state.script.append(ScriptedAnswer(**kwargs))


async def post(sim, events, **kwargs):
    async with client_for(sim, **kwargs) as client:
        return await client.post_events(events)


# --- whole-request answers -------------------------------------------------------


def test_400_is_bad_request(sim):
    # The client's own model refuses what the OMS would refuse, so the OMS's 400 is
    # scripted here; the next test shows the OMS answering 400 by itself.
    script(sim, status=400, body='{"error": "invalid_batch"}', path_contains="/events")
    with pytest.raises(BadRequestError) as caught:
        asyncio.run(post(sim, [make_event(first_order(sim))]))
    assert caught.value.status == 400 and not caught.value.retryable
    assert "invalid_batch" in str(caught.value)


def test_the_oms_answers_400_itself_for_an_invalid_body(sim):
    import httpx

    response = httpx.post(
        f"{sim.url}/v1/stores/{STORE}/events",
        json={"events": [{"event_id": "not-a-uuid"}]},
        headers={"Authorization": f"Bearer {sim.state.default_token}"},
    )
    assert response.status_code == 400
    assert sim.state.stats(STORE)["events_received"] == 0


def test_401_for_an_unknown_token(sim):
    with pytest.raises(CredentialsError) as caught:
        asyncio.run(post(sim, [make_event(first_order(sim))], token="wrong-token"))
    assert caught.value.status == 401
    assert sim.state.stats(STORE)["events_received"] == 0


def test_403_for_another_stores_token(sim):
    sim.state.create_store("S999", token="token-of-another-store")
    with pytest.raises(CredentialsError) as caught:
        asyncio.run(post(sim, [make_event(first_order(sim))], token="token-of-another-store"))
    assert caught.value.status == 403


def test_413_is_too_large(sim):
    script(sim, status=413, path_contains="/events")
    with pytest.raises(TooLargeError):
        asyncio.run(post(sim, [make_event(first_order(sim))]))


def test_429_with_retry_after_in_seconds(sim):
    sim.state.set_faults("rate_limit=1,retry_after=7")
    with pytest.raises(RateLimitedError) as caught:
        asyncio.run(post(sim, [make_event(first_order(sim))]))
    assert caught.value.retry_after_s == 7.0 and caught.value.status == 429
    assert sim.state.stats(STORE)["events_received"] == 0


def test_429_with_retry_after_as_an_http_date(sim):
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    script(sim, status=429, headers={"Retry-After": when})
    with pytest.raises(RateLimitedError) as caught:
        asyncio.run(post(sim, [make_event(first_order(sim))]))
    assert 100 <= caught.value.retry_after_s <= 121


def test_503_with_retry_after(sim):
    script(sim, status=503, headers={"Retry-After": "3"})
    with pytest.raises(RateLimitedError) as caught:
        asyncio.run(post(sim, [make_event(first_order(sim))]))
    assert caught.value.retry_after_s == 3.0 and caught.value.status == 503


def test_5xx_without_retry_after_is_transient(sim):
    sim.state.set_faults("error_rate=1,seed=3")
    statuses = set()
    for _ in range(12):
        with pytest.raises(TransientError) as caught:
            asyncio.run(post(sim, [make_event(first_order(sim))]))
        assert not isinstance(caught.value, RateLimitedError)
        statuses.add(caught.value.status)
    assert statuses <= {500, 502, 503} and 500 in statuses
    assert sim.state.stats(STORE)["events_received"] == 0


def test_malformed_body_is_bad_response_and_retryable(sim):
    sim.state.set_faults("malformed=1")
    with pytest.raises(BadResponseError) as caught:
        asyncio.run(post(sim, [make_event(first_order(sim))]))
    assert caught.value.retryable


def test_wrong_number_of_results_is_bad_response(sim):
    script(sim, status=200, body='{"results": []}', path_contains="/events")
    with pytest.raises(BadResponseError, match="0 results for 1 events"):
        asyncio.run(post(sim, [make_event(first_order(sim))]))


def test_results_in_another_order_are_bad_response(sim):
    a, b = make_event(first_order(sim), seq=1), make_event(first_order(sim), seq=2)
    body = (
        f'{{"results": [{{"event_id": "{b["event_id"]}", "status": "accepted"}},'
        f' {{"event_id": "{a["event_id"]}", "status": "accepted"}}]}}'
    )
    script(sim, status=200, body=body, path_contains="/events")
    with pytest.raises(BadResponseError, match="another event_id"):
        asyncio.run(post(sim, [a, b]))


def test_404_on_events_means_a_wrong_url_not_a_dead_letter(sim):
    script(sim, status=404, path_contains="/events")
    with pytest.raises(UnexpectedStatusError) as caught:
        asyncio.run(post(sim, [make_event(first_order(sim))]))
    assert caught.value.retryable


def test_lost_response_after_apply_then_resend_is_duplicate(sim):
    event = make_event(first_order(sim))
    sim.state.set_faults("lost_response=1")
    with pytest.raises(TransientError):
        asyncio.run(post(sim, [event]))
    assert sim.state.stats(STORE)["accepted"] == 1
    assert sim.state.get_order(STORE, "W1000001")["version"] == 2
    sim.state.set_faults("")
    results = asyncio.run(post(sim, [event]))
    assert [r.status for r in results] == ["duplicate"]
    stats = sim.state.stats(STORE)
    assert stats["events_received"] == 2 and stats["duplicate_ids"] == 1
    assert sim.state.get_order(STORE, "W1000001")["version"] == 2  # no double effect


def test_server_down_is_transient(sim):
    sim.state.set_faults("down=1")
    with pytest.raises(TransientError):
        asyncio.run(post(sim, [make_event(first_order(sim))]))


def test_connection_refused_is_transient():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def go():
        async with StoreSyncClient(f"http://127.0.0.1:{port}", STORE, "t", timeout_s=2) as c:
            await c.get_changes()

    with pytest.raises(TransientError, match="ConnectError"):
        asyncio.run(go())


def test_slow_server_hits_the_per_call_timeout(sim):
    sim.state.set_faults("latency_ms=3000")

    async def go():
        async with client_for(sim) as client:
            return await client.get_order("W1000001", timeout_s=0.3)

    started = time.monotonic()
    with pytest.raises(TransientError):
        asyncio.run(go())
    assert time.monotonic() - started < 1.0


# --- per-event results -------------------------------------------------------------


def test_per_event_results(sim):
    order = first_order(sim)
    accepted = make_event(order, seq=1)
    unknown = make_event({**order, "order_id": "W9999999"}, seq=2)
    bad_line = make_event(
        sim.state.get_order(STORE, "W1000002"),
        seq=3,
        data={"bin": "B-01", "lines": [{"line_id": "99", "quantity_picked": 1}]},
    )
    sim.state.cancel_order(STORE, "W1000003")  # cancelled online a minute ago
    conflict = make_event(sim.state.get_order(STORE, "W1000003"), "order.picked_up", seq=4)
    results = asyncio.run(post(sim, [accepted, accepted, unknown, bad_line, conflict]))
    assert [r.status for r in results] == ["accepted", "duplicate", "rejected", "rejected", "conflict"]
    assert results[2].code == "unknown_order" and results[3].code == "bad_line"
    assert results[4].order is not None and results[4].order.status == "cancelled"
    assert results[4].order.order_id == "W1000003"


def test_events_are_echoed_on_the_feed(sim):
    async def go():
        async with client_for(sim) as client:
            start = await client.get_changes()
            order = start.changes[0].raw
            await client.post_events([make_event(order)])
            return await client.get_changes(start.cursor)

    page = asyncio.run(go())
    assert [(c.snapshot.status, c.snapshot.version) for c in page.changes] == [("ready_for_pickup", 2)]


# --- feed --------------------------------------------------------------------------


def test_feed_starts_with_every_open_order_and_pages(sim):
    sim.state.cancel_order(STORE, "W1000005")

    async def go():
        seen, after = [], None
        async with client_for(sim) as client:
            while True:
                page = await client.get_changes(after, limit=2)
                seen += [c.snapshot.order_id for c in page.changes]
                after = page.cursor
                if not page.has_more:
                    return seen

    assert asyncio.run(go()) == ["W1000001", "W1000002", "W1000003", "W1000004"]


def test_long_poll_returns_early_when_a_change_arrives(sim):
    async def go():
        async with client_for(sim) as client:
            cursor = (await client.get_changes(limit=1000)).cursor
            timer = threading.Timer(0.3, sim.state.cancel_order, (STORE, "W1000002"))
            started = time.monotonic()
            timer.start()
            page = await client.get_changes(cursor, wait=10)
            return page, time.monotonic() - started

    page, elapsed = asyncio.run(go())
    assert [c.snapshot.status for c in page.changes] == ["cancelled"]
    assert 0.25 <= elapsed < 3


def test_long_poll_waits_when_nothing_changes(sim):
    async def go():
        async with client_for(sim) as client:
            cursor = (await client.get_changes(limit=1000)).cursor
            started = time.monotonic()
            page = await client.get_changes(cursor, wait=1)
            return page, time.monotonic() - started

    page, elapsed = asyncio.run(go())
    assert page.changes == [] and not page.has_more
    assert elapsed >= 0.9


def test_compacted_cursor_is_410(sim):
    async def go():
        async with client_for(sim) as client:
            cursor = (await client.get_changes(limit=1000)).cursor
            sim.state.cancel_order(STORE, "W1000001")
            sim.state.compact(STORE)
            await client.get_changes(cursor)

    with pytest.raises(CursorExpiredError):
        asyncio.run(go())


def test_garbage_cursor_is_410(sim):
    async def go():
        async with client_for(sim) as client:
            await client.get_changes("bm90LWEtY3Vyc29y")

    with pytest.raises(CursorExpiredError):
        asyncio.run(go())


def test_a_bad_snapshot_is_isolated_from_its_page(sim):
    async def go():
        async with client_for(sim) as client:
            cursor = (await client.get_changes(limit=1000)).cursor
            good = sim.state.get_order(STORE, "W1000001")
            sim.state.append_raw_change(STORE, {**good, "lines": [], "version": 9})
            sim.state.cancel_order(STORE, "W1000002")
            return await client.get_changes(cursor)

    page = asyncio.run(go())
    bad, fine = page.changes
    assert bad.snapshot is None and bad.order_id == "W1000001"
    assert bad.error.startswith("lines:") and bad.raw["version"] == 9
    assert fine.snapshot is not None and fine.snapshot.status == "cancelled" and fine.error is None


# --- one order, reconciliation, heartbeat --------------------------------------------


def test_get_order_and_404(sim):
    async def go():
        async with client_for(sim) as client:
            found = await client.get_order("W1000004")
            try:
                await client.get_order("W404")
            except NotFoundError as exc:
                return found, exc, client.last_server_date

    found, missing, server_date = asyncio.run(go())
    assert found.order_id == "W1000004" and missing.status == 404
    assert abs((server_date - datetime.now(UTC)).total_seconds()) < 5


def test_list_orders_pages_open_and_recently_updated(sim):
    sim.state.cancel_order(STORE, "W1000005")

    async def go(updated_after):
        ids, cursor = [], None
        async with client_for(sim) as client:
            while True:
                page = await client.list_orders(updated_after, cursor, limit=2)
                ids += [entry.snapshot.order_id for entry in page.orders]
                if page.next_cursor is None:
                    return ids
                cursor = page.next_cursor

    assert asyncio.run(go(None)) == ["W1000001", "W1000002", "W1000003", "W1000004"]
    recent = datetime.now(UTC) - timedelta(minutes=5)
    assert asyncio.run(go(recent))[-1] == "W1000005"


def test_heartbeat_is_stored(sim):
    body = {
        "agent_version": "0.1.0",
        "sent_at": datetime.now(UTC),
        "outbox": {"pending": 3, "oldest_pending_age_s": 12.5, "dead_letters": 0, "blocked_orders": 0},
        "feed": {"cursor": "abc", "last_change_at": None},
        "devices": [{"id": "counter", "kind": "printer", "status": "ok"}],
        "reconciliation": {"last_run_at": None, "mismatches_last_hour": 0},
    }

    async def go():
        async with client_for(sim) as client:
            await client.heartbeat(body)

    asyncio.run(go())
    with sim.state.lock:
        beats = sim.state.store(STORE).heartbeats
        assert len(beats) == 1 and beats[0]["outbox"]["pending"] == 3
