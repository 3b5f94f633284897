"""SIGTERM while scheduled jobs wait on the OMS: a quiet, clean stop.

The OMS here is a real HTTP server on 127.0.0.1 that accepts every request and
never answers, so the first heartbeat job is provably in flight when the
daemon is told to stop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web

from agent.daemon import Daemon
from config import load_settings
from tests.factories import write_config
from tests.local_http import ThreadedApp


def _silent_oms(arrived: threading.Event) -> web.Application:
    async def hang(request: web.Request) -> web.Response:
        if request.path.endswith("/heartbeat"):
            arrived.set()
        await asyncio.Event().wait()  # never answers
        raise AssertionError("unreachable")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", hang)
    return app


def _daemon(tmp_path: Path, oms_url: str, *, timeout_s: int = 2) -> Daemon:
    config = write_config(tmp_path)
    text = config.read_text().replace("http://127.0.0.1:9", oms_url)
    config.write_text(text.replace("timeout_s = 2", f"timeout_s = {timeout_s}"))
    settings = load_settings(config, environ={})
    settings.printers = []  # no print worker: only the scheduled jobs matter here
    return Daemon(settings)


def test_sigterm_with_a_job_in_flight_logs_no_cancelled_error(tmp_path: Path,
                                                            caplog: pytest.LogCaptureFixture):
    heartbeat_in_flight = threading.Event()
    with ThreadedApp(_silent_oms(heartbeat_in_flight)) as oms:
        daemon = _daemon(tmp_path, oms.url, timeout_s=60)

        def stop_when_in_flight() -> None:
            if not heartbeat_in_flight.wait(20):
                result["error"] = "the first heartbeat never reached the OMS"
            os.kill(os.getpid(), signal.SIGTERM)  # the daemon's own handler takes it

        result: dict[str, object] = {}
        caplog.set_level(logging.DEBUG, logger="apscheduler")
        threading.Thread(target=stop_when_in_flight, daemon=True).start()
        result["code"] = asyncio.run(asyncio.wait_for(daemon.run(), 40))
    assert result.get("code") == 0 and "error" not in result, result
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() + str(r.exc_info) for r in errors]
    assert not any("CancelledError" in (r.exc_text or "") + r.getMessage() for r in caplog.records)


def test_the_heartbeat_repeats_and_no_job_is_skipped_for_running_late(tmp_path: Path):
    """The repeating heartbeat is scheduled one interval on (it used to be added paused: the
    OMS heard from the store once per daemon start), and every job runs however late its
    loop lets it (APScheduler's default skips a run more than 1 s late: under load, a stress
    run saw the start's heartbeat skipped, and the nightly backup could be)."""
    heartbeat_arrived = threading.Event()
    with ThreadedApp(_silent_oms(heartbeat_arrived)) as oms:
        daemon = _daemon(tmp_path, oms.url)
        settings = daemon.settings
        seen: dict[str, object] = {}

        def look_then_stop() -> None:
            seen["arrived"] = heartbeat_arrived.wait(30)  # a ceiling for a broken daemon
            jobs = daemon.schedule.jobs()
            seen["jobs"] = {j.id: (j.next_run_time, j.misfire_grace_time, j.coalesce) for j in jobs}
            os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=look_then_stop, daemon=True).start()
        assert asyncio.run(asyncio.wait_for(daemon.run(), 60)) == 0
    assert seen["arrived"] is True, "the first heartbeat never reached the OMS"
    jobs = seen["jobs"]
    assert isinstance(jobs, dict) and {"heartbeat", "backup", "alerts", "no-shows"} <= set(jobs)
    nxt, _, _ = jobs["heartbeat"]
    assert isinstance(nxt, datetime), f"the repeating heartbeat is not scheduled: {nxt!r}"
    assert 0 < (nxt - datetime.now(UTC)).total_seconds() <= settings.sync.heartbeat_s
    late = {name: grace for name, (_, grace, coalesce) in jobs.items()
            if grace is not None or not coalesce}
    assert not late, f"jobs that a late loop would skip or repeat: {late}"
