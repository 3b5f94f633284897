"""A serial barcode scanner, read in a background thread that survives unplugging.

``port`` is a device path (prefer the stable ``/dev/serial/by-id/...`` link:
``/dev/ttyACM0`` can become ``ttyACM1`` after a replug) or a pyserial URL
(``socket://host:port``, ``rfc2217://host:port``) opened through
``serial.serial_for_url``. Device paths are opened exclusively so a second
agent (or a stray ``screen``) cannot steal half of every scan.

Each frame - the bytes up to a terminator - is decoded (UTF-8, undecodable
bytes replaced) and handed to ``on_frame`` on the reader thread; the caller
classifies it with ``scan_parse.classify``. A frame split across read
timeouts is kept until its terminator arrives; a frame is dropped when it
grows past ``max_frame`` bytes, and so is a partial frame when the scanner
goes away (its tail will never come).

When a read fails, the device path vanishes or is re-pointed, the status
turns ``disconnected since <time>`` with the error, and the thread reopens
the port with exponential backoff capped at ``backoff_max_s``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

import serial

from drivers.errors import ScannerError, translate_serial_error

log = logging.getLogger(__name__)

ScannerState = Literal["stopped", "connected", "disconnected"]


@dataclass(frozen=True)
class ScannerStatus:
    state: ScannerState
    port: str
    since: datetime
    last_error: str | None = None
    frames: int = 0
    dropped_frames: int = 0
    failed_opens: int = 0  # since it went away: shows the reopen loop is alive

    @property
    def connected(self) -> bool:
        return self.state == "connected"

    def __str__(self) -> str:
        if self.state == "disconnected":
            when = self.since.isoformat(timespec="seconds")
            return f"disconnected since {when}" + (f": {self.last_error}" if self.last_error else "")
        return self.state


class FrameDecoder:
    """Splits a byte stream into frames at any of the terminator bytes.

    Any byte of ``terminators`` ends a frame and empty frames are skipped, so
    the default ``b"\\r\\n"`` handles scanners that send CR, LF or CRLF.
    """

    def __init__(self, terminators: bytes = b"\r\n", max_frame: int = 1024):
        if not terminators:
            raise ValueError("at least one terminator byte is needed")
        self._terms = frozenset(terminators)
        self._max = max_frame
        self._buf = bytearray()
        self._skipping = False
        self.dropped = 0

    def reset(self) -> None:
        self._buf.clear()
        self._skipping = False

    @property
    def pending(self) -> bytes:
        return bytes(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        frames: list[bytes] = []
        start = 0
        for i, byte in enumerate(data):
            if byte in self._terms:
                self._take(data[start:i], frames, final=True)
                start = i + 1
        self._take(data[start:], frames, final=False)
        return frames

    def _take(self, chunk: bytes, frames: list[bytes], *, final: bool) -> None:
        if not self._skipping:
            self._buf += chunk
            if len(self._buf) > self._max:
                # Past the limit it is noise or a stuck scanner; resync at the next terminator.
                self.dropped += 1
                self._buf.clear()
                self._skipping = True
        if final:
            if self._buf and not self._skipping:
                frames.append(bytes(self._buf))
            self._buf.clear()
            self._skipping = False


def _is_url(port: str) -> bool:
    return "://" in port


def open_port(
    port: str, *, baudrate: int = 9600, read_timeout_s: float = 0.1, exclusive: bool = True
) -> serial.SerialBase:
    """Open ``port`` for reading; raises ScannerOpenError / ScannerBusyError."""
    kwargs: dict[str, object] = {"baudrate": baudrate, "timeout": read_timeout_s}
    if exclusive and not _is_url(port):
        # flock() only exists for local device files; URL handlers reject the keyword.
        kwargs["exclusive"] = True
    try:
        return serial.serial_for_url(port, **kwargs)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise translate_serial_error(exc, port) from exc


class SerialScanner:
    """Reads ``port`` in a daemon thread; ``start()`` / ``stop()``; ``status`` is thread-safe."""

    def __init__(
        self,
        port: str,
        on_frame: Callable[[str], None],
        *,
        baudrate: int = 9600,
        terminators: bytes = b"\r\n",
        read_timeout_s: float = 0.1,
        max_frame: int = 1024,
        exclusive: bool = True,
        backoff_initial_s: float = 0.25,
        backoff_max_s: float = 5.0,
        on_status: Callable[[ScannerStatus], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.port = port
        self._on_frame = on_frame
        self._on_status = on_status
        self._baudrate = baudrate
        self._read_timeout = read_timeout_s
        self._exclusive = exclusive
        self._backoff = (backoff_initial_s, backoff_max_s)
        self._clock = clock
        self._decoder = FrameDecoder(terminators, max_frame)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._serial: serial.SerialBase | None = None
        self._status = ScannerStatus("stopped", port, clock())

    @property
    def status(self) -> ScannerStatus:
        with self._lock:
            return self._status

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._set(state="disconnected", last_error=None)
        self._thread = threading.Thread(target=self._run, name=f"scanner:{self.port}", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 2.0) -> None:
        self._stop.set()
        ser = self._serial
        if ser is not None and hasattr(ser, "cancel_read"):
            # The port may already be gone; stopping must not fail.
            with contextlib.suppress(Exception):
                ser.cancel_read()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        self._set(state="stopped")

    def __enter__(self) -> SerialScanner:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- reader thread ---------------------------------------------------
    def _set(self, **changes: Any) -> None:
        with self._lock:
            old = self._status
            if "state" in changes and changes["state"] != old.state:
                changes.setdefault("since", self._clock())
            new = replace(old, dropped_frames=self._decoder.dropped, **changes)
            self._status = new
        if self._on_status is not None and new.state != old.state:
            try:
                self._on_status(new)
            except Exception:
                log.exception("scanner status callback failed")

    def _run(self) -> None:
        delay, cap = self._backoff
        while not self._stop.is_set():
            try:
                ser = open_port(
                    self.port,
                    baudrate=self._baudrate,
                    read_timeout_s=self._read_timeout,
                    exclusive=self._exclusive,
                )
            except ScannerError as exc:
                self._set(state="disconnected", last_error=str(exc),
                          failed_opens=self._status.failed_opens + 1)
                self._stop.wait(delay)
                delay = min(delay * 2, cap)
                continue
            delay = self._backoff[0]
            self._decoder.reset()
            self._serial = ser
            self._set(state="connected", last_error=None, failed_opens=0)
            log.info("scanner %s connected", self.port)
            try:
                self._read_until_gone(ser)
            except (serial.SerialException, OSError, ScannerError) as exc:
                if not self._stop.is_set():
                    error = translate_serial_error(exc, self.port)
                    log.warning("scanner %s disconnected: %s", self.port, error)
                    self._set(state="disconnected", last_error=str(error))
            finally:
                self._serial = None
                with contextlib.suppress(Exception):
                    ser.close()

    def _read_until_gone(self, ser: serial.SerialBase) -> None:
        identity = _identity(self.port, ser)
        last_check = time.monotonic()
        while not self._stop.is_set():
            data = ser.read(max(1, ser.in_waiting))
            if data:
                for frame in self._decoder.feed(data):
                    self._deliver(frame)
                continue
            if self._decoder.dropped != self._status.dropped_frames:
                self._set()
            now = time.monotonic()
            if identity is not None and now - last_check >= 0.5:
                last_check = now
                # A USB-serial adapter can vanish without the open fd ever erroring.
                if _identity(self.port, None) != identity:
                    raise ScannerError(f"device {self.port} is gone or was replaced")

    def _deliver(self, frame: bytes) -> None:
        with self._lock:
            self._status = replace(self._status, frames=self._status.frames + 1)
        try:
            self._on_frame(frame.decode("utf-8", errors="replace"))
        except Exception:
            log.exception("scanner frame callback failed; scanning continues")


def _identity(port: str, ser: serial.SerialBase | None) -> tuple[int, int] | None:
    """(device, inode) of the node behind ``port``, or of the open fd."""
    if _is_url(port):
        return None
    try:
        st = os.fstat(ser.fileno()) if ser is not None else os.stat(port)
    except (OSError, AttributeError, ValueError):
        return None if ser is not None else (-1, -1)
    return (st.st_dev, st.st_ino)
