"""Test-only helpers for the device tests.

The emulators themselves (``PtyScanner``, ``EscposPrinterEmulator``) are product
code in ``drivers/emulators.py``, because ``store-agent demo`` uses them too.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(condition: Callable[[], object], timeout_s: float = 5.0) -> None:
    """Poll until ``condition()`` is truthy; AssertionError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError(f"condition not met within {timeout_s}s")
