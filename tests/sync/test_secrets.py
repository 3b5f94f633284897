"""The bearer token never leaves through a message, a repr, a traceback or a log record."""

from __future__ import annotations

import asyncio
import logging
import traceback

import httpx

from sync.client import StoreSyncClient
from sync.errors import SyncError
from sync.oms_sim import ScriptedAnswer
from tests.sync.conftest import STORE, TOKEN, client_for, make_event


def _all_text(exc: BaseException) -> str:
    parts = []
    seen: BaseException | None = exc
    while seen is not None:
        parts += [str(seen), repr(seen), repr(seen.args)]
        seen = seen.__cause__ or seen.__context__
    parts.append("".join(traceback.format_exception(exc)))
    return "\n".join(parts)


def test_token_never_in_errors_reprs_or_logs(sim, caplog):
    caplog.set_level(logging.DEBUG)  # httpx and httpcore log every request at DEBUG
    order = sim.state.get_order(STORE, "W1000001")
    # An error page echoing the request headers, as some debug proxies do.
    echo = ScriptedAnswer(status=500, body=f"Authorization: Bearer {TOKEN}")
    failures = [
        ("", None),
        ("lost_response=1", None),
        ("malformed=1", None),
        ("rate_limit=1", None),
        ("down=1", None),
        ("", echo),
    ]
    caught: list[SyncError] = []

    async def attempt(client: StoreSyncClient) -> None:
        for call in (
            lambda: client.post_events([make_event(order)]),
            lambda: client.get_order("W404"),
            lambda: client.get_changes("garbage"),
        ):
            try:
                await call()
            except SyncError as exc:
                caught.append(exc)

    async def go() -> str:
        async with client_for(sim) as client:
            for spec, scripted in failures:
                sim.state.set_faults(spec)
                if scripted is not None:
                    sim.state.script.append(scripted)
                await attempt(client)
            return repr(client) + repr(vars(client)) + repr(client._http.headers)

    reprs = asyncio.run(go())
    assert len(caught) >= 12  # every failure path above did raise
    assert any("[token]" in str(exc) for exc in caught)  # the echo was redacted, not dropped
    assert TOKEN not in reprs
    for exc in caught:
        assert TOKEN not in _all_text(exc)
    assert caplog.records, "expected DEBUG records from the client and httpx"
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
        assert TOKEN not in repr(record.args)


def test_httpx_exceptions_never_escape():
    def explode(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("peer closed connection", request=request)

    async def go() -> SyncError:
        transport = httpx.MockTransport(explode)
        async with StoreSyncClient("http://oms.invalid", STORE, TOKEN, transport=transport) as c:
            try:
                await c.get_changes()
            except SyncError as exc:
                return exc
        raise AssertionError("no error raised")

    error = asyncio.run(go())
    assert "RemoteProtocolError" in str(error) and error.retryable
    assert not isinstance(error, httpx.HTTPError)
