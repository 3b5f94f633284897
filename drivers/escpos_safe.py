"""python-escpos, imported with its side effects contained.

What importing python-escpos 3.1 does (escpos/capabilities.py, at import):

* ``logging.basicConfig()`` - adds a stderr StreamHandler to the *root*
  logger when it has none, which would duplicate or hijack the agent's logs;
* ``mkdtemp()`` - creates a fresh ``/tmp/tmpXXXX`` directory per process to
  cache a pickle of its printer database, and never removes it (a store PC
  that prints for months collects one per agent restart and CLI call);
* ``print(...)`` to stdout when its bundled capabilities file is broken,
  which would corrupt the CLI's JSON output and the TUI.

During the import we record the directories ``mkdtemp`` creates on this
thread and delete them afterwards (the pickle is only read at import; an
operator who sets ``ESCPOS_CAPABILITIES_PICKLE_DIR`` keeps that cache),
swallow stdout, and put the root logger's handlers and level back.

Later calls have side effects too: ``Escpos.barcode()`` prints "Using
hardware barcode renderer" on every call. ``receipts`` therefore emits
barcodes through ``hw_code128`` below rather than through ``barcode()``;
redirecting ``sys.stdout`` per call is not an option because it is
process-global and the UI thread may be writing to it at that moment.

Import python-escpos only through this module.
"""

from __future__ import annotations

import contextlib
import io
import logging
import shutil
import tempfile
import threading
from typing import Any

_lock = threading.Lock()


def _import_contained() -> tuple[Any, Any, Any]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    created: list[str] = []
    real_mkdtemp = tempfile.mkdtemp
    importer = threading.get_ident()

    def recording_mkdtemp(*args: Any, **kwargs: Any) -> str:
        path: str = real_mkdtemp(*args, **kwargs)
        if threading.get_ident() == importer:  # another thread's temp dir is not ours to delete
            created.append(path)
        return path

    # capabilities.py does `from tempfile import mkdtemp` and calls it even when
    # ESCPOS_CAPABILITIES_PICKLE_DIR is set (it is the .get() default), so the
    # replacement has to be in place before that module runs.
    tempfile.mkdtemp = recording_mkdtemp  # type: ignore[assignment]  # overloaded (str/bytes); escpos calls the str form
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            from escpos import capabilities, exceptions
            from escpos.printer import Dummy
    finally:
        tempfile.mkdtemp = real_mkdtemp
        for path in created:
            shutil.rmtree(path, ignore_errors=True)
        root.handlers[:] = handlers
        root.setLevel(level)
    return Dummy, capabilities, exceptions


with _lock:
    Dummy, capabilities, exceptions = _import_contained()

EscposError = exceptions.Error


def profile_names() -> list[str]:
    return sorted(capabilities.CAPABILITIES["profiles"])


def new_dummy(profile: str = "default") -> Any:
    """An in-memory printer for ``profile``; KeyError when the profile is unknown."""
    if profile not in capabilities.CAPABILITIES["profiles"]:
        raise KeyError(profile)
    return Dummy(profile=profile)


def hw_code128(printer: Any, data: str, *, height: int = 64, width: int = 2) -> None:
    """Emit ``GS k 73`` (Code128, code set B) carrying ``data``, rendered by the printer.

    ``{`` introduces a code-set switch in ESC/POS Code128 data, so a literal
    brace is sent doubled. Raises ValueError when ``data`` cannot be encoded.
    """
    if not data or any(not 32 <= ord(ch) < 127 for ch in data):
        raise ValueError("Code128 code set B carries printable ASCII only")
    payload = "{B" + data.replace("{", "{{")
    if len(payload) > 255:
        raise ValueError("Code128 data longer than 255 bytes")
    # _hw_barcode is private but stable across 3.x; it is the path barcode() itself
    # takes for hardware barcodes, minus the print() to stdout.
    printer._hw_barcode(payload, "CODE128", height, width, "BELOW", "A", True, "B", True)
