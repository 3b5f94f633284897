"""Running the reference OMS: in a background thread (tests, ``demo``) or in the foreground (CLI)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import ssl
import sys
import threading
from collections.abc import Sequence

from aiohttp import web

from sync.oms_sim.app import create_app
from sync.oms_sim.faults import FaultSpec
from sync.oms_sim.state import SimState


class OmsSimServer:
    """The reference OMS on 127.0.0.1 (port 0 = any free port), in its own thread and loop.

    ``with OmsSimServer() as sim: sim.url, sim.state``. ``state`` is the live
    ``SimState``: tests may change it directly; waiting long polls are woken.
    """

    def __init__(
        self,
        state: SimState | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
    ):
        self.state = state or SimState()
        self.host, self.port = host, port
        self._ssl = ssl_context
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self._ssl else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def start(self) -> OmsSimServer:
        self._thread = threading.Thread(target=self._run, name="oms-sim", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=10):
            raise RuntimeError("oms-sim did not start within 10 s")
        if self._error is not None:
            raise RuntimeError(f"oms-sim failed to start: {self._error}") from self._error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._start())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._runner.cleanup() if self._runner else asyncio.sleep(0))
            loop.close()

    async def _start(self) -> None:
        self._runner = web.AppRunner(create_app(self.state), access_log=None, shutdown_timeout=0.25)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=self._ssl)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    def __enter__(self) -> OmsSimServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def run_oms_sim(
    host: str = "127.0.0.1",
    port: int = 8700,
    orders: int = 20,
    faults: str | None = None,
    stores: Sequence[str] = ("S042",),
    token: str | None = "dev-token",
    trickle: float | None = None,
    seed: int = 42,
) -> None:
    """The blocking entry point of ``store-agent oms-sim``: until SIGINT or SIGTERM.

    ``orders`` sample orders per store in ``stores``; ``trickle`` seconds between
    new orders (None: no trickle). ``faults`` is a spec (see ``faults.py``);
    a bad one raises ``config.errors.UsageError`` before anything listens.
    """
    state = SimState(token=token, seed=seed, faults=FaultSpec.parse(faults))
    for store_id in stores:
        state.create_store(store_id)
        state.add_sample_orders(store_id, orders)
    state.trickle_interval_s = trickle
    tune_gc()
    asyncio.run(_serve(state, host, port))


def tune_gc() -> None:
    """For a process that is the reference OMS and nothing else (not for tests' threads).

    The simulator keeps everything it was sent and every version of every order, so
    its heap only grows, and with the default thresholds the cyclic collector walks
    those long-lived objects again and again: about half of the CPU of a POST /events
    of 500 events went to collections. Its start-up heap is frozen (never scanned
    again) and young objects are collected less often; cycles are still collected.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


async def _serve(state: SimState, host: str, port: int) -> None:
    runner = web.AppRunner(create_app(state), shutdown_timeout=2)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    bound = runner.addresses[0]
    print(
        f"oms-sim: Store Sync API v1 on http://{bound[0]}:{bound[1]} "
        f"stores={','.join(sorted(state.stores))} faults={state.faults.to_spec() or 'none'}",
        file=sys.stderr,
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
