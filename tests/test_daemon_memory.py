"""The daemon's memory release after big batches: behaviour only (sizes are benchmark figures,
docs/benchmarks.md "Memory", never asserted here)."""

from __future__ import annotations

import asyncio
import platform
import sys

import pytest

from agent.daemon import Daemon
from agent.ops.memory import malloc_trim


def test_malloc_trim_exists_exactly_on_glibc():
    trim = malloc_trim()
    if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc":
        assert trim is not None
        trim()  # harmless at any time
    else:
        assert trim is None


@pytest.mark.parametrize("big", [False, True])
def test_memory_is_released_only_after_a_big_batch(settings, big):
    calls = []

    async def run():
        daemon = Daemon(settings)
        try:
            daemon._trim = lambda: calls.append(1)
            if big:
                daemon._big_batch_done = True
            await daemon.job_release_memory()
            await daemon.job_release_memory()  # once per batch, not on every tick
        finally:
            await daemon.client.aclose()

    asyncio.run(run())
    assert calls == ([1] if big else [])
