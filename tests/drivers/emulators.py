"""Device emulators for tests: a pty serial scanner and a TCP ESC/POS printer.

Importable by any test (``from tests.drivers.emulators import ...``).
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import threading
import time
import tty
from collections.abc import Callable
from pathlib import Path


def wait_for(condition: Callable[[], object], timeout_s: float = 5.0) -> None:
    """Poll until ``condition()`` is truthy; AssertionError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError(f"condition not met within {timeout_s}s")


# --------------------------------------------------------------------------
# Serial scanner on a pseudo-terminal


class PtyScanner:
    """A scanner on a pty, reached through a stable symlink like /dev/serial/by-id.

    The product opens ``link`` (never the /dev/pts path, which changes on each
    replug). ``unplug()`` closes the master side and removes the link, as udev
    does; ``replug()`` creates a new pty and re-points the link at it.
    """

    def __init__(self, directory: Path, name: str = "usb-Emulated_Scanner_0001-if00"):
        self.link = Path(directory) / name
        self._master: int | None = None
        self._slave: int | None = None
        self.slave_path: str | None = None
        self.replug()

    @property
    def plugged(self) -> bool:
        return self._master is not None

    def replug(self) -> None:
        if self.plugged:
            self.unplug()
        master, slave = os.openpty()
        # Raw: no echo back to us, no line discipline eating CR or ^] (GS).
        tty.setraw(slave)
        self._master, self._slave = master, slave
        self.slave_path = os.ttyname(slave)
        tmp = self.link.with_name(self.link.name + ".new")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.symlink(self.slave_path, tmp)
        os.replace(tmp, self.link)

    def unplug(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.link.unlink()
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None

    def write(self, data: bytes) -> None:
        if self._master is None:
            raise RuntimeError("scanner is unplugged")
        os.write(self._master, data)

    def scan(self, code: str | bytes, terminator: bytes = b"\r") -> None:
        data = code.encode() if isinstance(code, str) else code
        self.write(data + terminator)

    def close(self) -> None:
        self.unplug()

    def __enter__(self) -> PtyScanner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------
# ESC/POS network printer

# DLE EOT answers (n=1, n=2, n=4) per state; fixed bits 0x12 always set.
STATUS_BYTES = {
    "online": (0x12, 0x12, 0x12),
    "paper_near_end": (0x12, 0x12, 0x1E),
    "paper_out": (0x1A, 0x32, 0x72),
    "cover_open": (0x1A, 0x16, 0x12),
    "offline": (0x1A, 0x52, 0x12),
    "drop": (0x12, 0x12, 0x12),
}
STATES = (*STATUS_BYTES, "silent")


class EscposPrinterEmulator:
    """A raw-TCP (port 9100 style) ESC/POS printer on 127.0.0.1, port chosen by the OS.

    ``state`` is read per byte, so tests can change it between jobs:
    online, paper_near_end, paper_out, cover_open, offline, silent (never
    answers DLE EOT), drop (resets the connection after ``drop_after`` job
    bytes). ``jobs`` holds, per connection, every byte received except the
    DLE EOT queries; ``raw`` holds everything.
    """

    def __init__(self, state: str = "online", drop_after: int = 10):
        if state not in STATES:
            raise ValueError(state)
        self.state = state
        self.drop_after = drop_after
        self.jobs: list[bytearray] = []
        self.raw: list[bytearray] = []
        self.queries: list[int] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self.host, self.port = self._server.getsockname()[:2]
        self.address = f"{self.host}:{self.port}"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._accept = threading.Thread(target=self._serve, name="escpos-emulator", daemon=True)
        self._accept.start()

    @property
    def printed_jobs(self) -> list[bytes]:
        with self._lock:
            return [bytes(j) for j in self.jobs if j]

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except (TimeoutError, OSError):
                continue
            t = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            self._threads.append(t)
            t.start()

    def _handle(self, conn: socket.socket) -> None:
        job, raw = bytearray(), bytearray()
        with self._lock:
            self.jobs.append(job)
            self.raw.append(raw)
        pending = b""
        conn.settimeout(0.2)
        with conn:
            while not self._stop.is_set():
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                with self._lock:
                    raw += data
                pending += data
                pending = self._consume(conn, job, pending)
                if pending is None:
                    return

    def _consume(self, conn: socket.socket, job: bytearray, buf: bytes) -> bytes | None:
        i = 0
        while i < len(buf):
            if buf[i] == 0x10:
                if len(buf) - i < 3:
                    return buf[i:]  # wait for the rest of a possible DLE EOT n
                if buf[i + 1] == 0x04 and buf[i + 2] in (1, 2, 4):
                    self._answer(conn, buf[i + 2])
                    i += 3
                    continue
            if self.state == "drop" and len(job) >= self.drop_after:
                # SO_LINGER 0: close with RST, as a printer that reboots or loses power.
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return None
            with self._lock:
                job.append(buf[i])
            i += 1
        return b""

    def _answer(self, conn: socket.socket, n: int) -> None:
        self.queries.append(n)
        if self.state == "silent":
            return
        n1, n2, n4 = STATUS_BYTES[self.state]
        with contextlib.suppress(OSError):
            conn.sendall(bytes([{1: n1, 2: n2, 4: n4}[n]]))

    def close(self) -> None:
        self._stop.set()
        self._server.close()
        self._accept.join(2)
        for t in self._threads:
            t.join(2)

    def __enter__(self) -> EscposPrinterEmulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
