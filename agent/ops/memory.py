"""Giving the C heap's free pages back to the system after the daemon's big batches."""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable


def malloc_trim() -> Callable[[], object] | None:
    """glibc's malloc_trim(0); None where the C library is not glibc (musl, macOS).

    Why: a big batch (a feed page or a reconciliation page of parsed snapshots, a
    sender batch, SQLite's page caches after another connection's commit) leaves
    megabytes of free chunks inside glibc's heap, which glibc keeps resident until
    the top of the heap is free. malloc_trim(0) returns every free page to the
    system (madvise), a few ms for the daemon's heap; it changes nothing else.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)  # the C library this interpreter runs on
        if not hasattr(libc, "gnu_get_libc_version"):
            return None
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: trim(0)
