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


def test_sigterm_with_a_job_in_flight_logs_no_cancelled_error(tmp_path: Path,
                                                            caplog: pytest.LogCaptureFixture):
    heartbeat_in_flight = threading.Event()
    with ThreadedApp(_silent_oms(heartbeat_in_flight)) as oms:
        config = write_config(tmp_path)
        text = config.read_text().replace("http://127.0.0.1:9", oms.url)
        config.write_text(text.replace("timeout_s = 2", "timeout_s = 60"))
        settings = load_settings(config, environ={})
        settings.printers = []  # no print worker: only the scheduled jobs matter here
        daemon = Daemon(settings)

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
