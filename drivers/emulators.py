"""Device emulators: a serial scanner on a pty and an ESC/POS printer on 127.0.0.1.

They exist so the product can be shown and tested without hardware:
``store-agent demo`` gives its station an emulated scanner and prints to an
emulated network printer, and the tests drive both through every state a
real device gets into (unplugged, paper out, cover open, dropped
connection). They speak to the product only through what a real device
offers - a tty to read, a TCP port speaking ESC/POS - so the code under test
is the code that runs in a store.

* ``PtyScanner``: a pty behind a ``/dev/serial/by-id``-style symlink, with
  ``scan()``, ``unplug()``, ``replug()``; ``listen(fifo)`` also scans what a
  person writes into a named pipe (``echo W1000017 > .demo/scan``).
* ``EscposPrinterEmulator``: a raw-TCP (port 9100 style) printer answering
  DLE EOT status queries for a chosen state; it records each job and, with
  ``text_log``, appends it to a file as readable text (``escpos_to_text``).
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import stat
import struct
import threading
import time
import tty
from pathlib import Path

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
        self._fifo: Path | None = None
        self._listener: threading.Thread | None = None
        self._stop = threading.Event()
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

    def listen(self, fifo: Path) -> None:
        """Create the named pipe ``fifo`` and send every byte written into it down the line.

        Bytes go out as written, terminator included: ``echo W1000017 > fifo``
        sends ``W1000017\\n``, a scan for the default ``serial_terminators``.
        Written while unplugged, they are lost, as with a real scanner.
        """
        if self._listener is not None:
            raise RuntimeError("already listening")
        fifo = Path(fifo)
        with contextlib.suppress(FileNotFoundError):
            if not stat.S_ISFIFO(fifo.lstat().st_mode):
                raise FileExistsError(f"{fifo} exists and is not a named pipe")
            fifo.unlink()
        os.mkfifo(fifo, 0o600)
        # Our own write end keeps the pipe open between writers, so reads block
        # (in select) instead of returning end-of-file after each `echo`.
        rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        wfd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        self._fifo = fifo
        self._stop.clear()
        self._listener = threading.Thread(target=self._relay, args=(rfd, wfd), name="pty-scanner-fifo",
                                          daemon=True)
        self._listener.start()

    def _relay(self, rfd: int, wfd: int) -> None:
        try:
            while not self._stop.is_set():
                if not select.select([rfd], [], [], 0.2)[0]:
                    continue
                try:
                    data = os.read(rfd, 4096)
                except BlockingIOError:
                    continue
                with contextlib.suppress(OSError, RuntimeError):
                    self.write(data)
        finally:
            os.close(rfd)
            os.close(wfd)

    def close(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.join(2)
            self._listener = None
        if self._fifo is not None:
            with contextlib.suppress(FileNotFoundError):
                self._fifo.unlink()
            self._fifo = None
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
    DLE EOT queries; ``raw`` holds everything. With ``text_log``, each
    connection that carried a job is appended to that file as text when it
    closes, so a person can watch the "paper" with ``tail -f``.
    """

    def __init__(self, state: str = "online", drop_after: int = 10, *, text_log: Path | None = None,
                 columns: int = 42):
        if state not in STATES:
            raise ValueError(state)
        self.state = state
        self.drop_after = drop_after
        self.text_log = Path(text_log) if text_log is not None else None
        self.columns = columns
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
            t = threading.Thread(target=self._handle, args=(conn,), name="escpos-emulator-conn", daemon=True)
            self._threads = [*(x for x in self._threads if x.is_alive()), t]
            t.start()

    def _handle(self, conn: socket.socket) -> None:
        job, raw = bytearray(), bytearray()
        with self._lock:
            self.jobs.append(job)
            self.raw.append(raw)
        try:
            self._receive(conn, job, raw)
        finally:
            if job and self.text_log is not None:
                self._log_job(bytes(job))

    def _receive(self, conn: socket.socket, job: bytearray, raw: bytearray) -> None:
        pending: bytes | None = b""
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
                pending = self._consume(conn, job, (pending or b"") + data)
                if pending is None:
                    return

    def _log_job(self, job: bytes) -> None:
        header = f"==== job at {time.strftime('%H:%M:%S')}, {len(job)} bytes ===="
        text = f"{header}\n{escpos_to_text(job, self.columns)}\n"
        if self.text_log is None:
            return
        with self._lock, contextlib.suppress(OSError), open(self.text_log, "a", encoding="utf-8") as fh:
            fh.write(text)

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


# --------------------------------------------------------------------------
# What the paper would show

ESC, GS, FS, DLE = 0x1B, 0x1D, 0x1C, 0x10
# Parameter bytes after ESC x / GS x / FS x for the fixed-length commands; absent: none.
_ESC_ARGS = {**dict.fromkeys(b"!-3EGJMRTUVade rt{%=", 1),
             **dict.fromkeys(b"$\\c", 2), ord("p"): 3}
_GS_ARGS = {**dict.fromkeys(b"!BHIabfhrw", 1), **dict.fromkeys(b"$LPW\\", 2)}
_FS_ARGS = {**dict.fromkeys(b"!-C", 1), ord("p"): 2}
# ESC t n code pages that Python can decode; others fall back to PC437.
_CODEPAGES = {0: "cp437", 2: "cp850", 3: "cp860", 4: "cp863", 5: "cp865", 16: "cp1252", 17: "cp866",
              18: "cp852", 19: "cp858"}


def escpos_to_text(data: bytes, columns: int = 42) -> str:
    """Printable text of an ESC/POS job: commands dropped, barcodes and cuts shown in brackets.

    Centred and right-aligned lines are laid out in ``columns``; text sizes,
    bold and reverse are not shown. Covers the commands python-escpos emits
    for text, styles, barcodes, images and cuts; an unknown command loses one byte.
    """
    lines: list[str] = []
    line: list[str] = []
    line_align = align = 0
    codepage = "cp437"
    run = bytearray()

    def flush_run() -> None:
        nonlocal line_align
        if run:
            if not line:
                line_align = align
            line.append(run.decode(codepage, errors="replace"))
            run.clear()

    def end_line() -> None:
        flush_run()
        text = "".join(line).rstrip()
        lines.append(text.center(columns).rstrip() if line_align == 1 else
                     text.rjust(columns) if line_align == 2 else text)
        line.clear()

    def show(marker: str) -> None:
        run.extend(marker.encode(codepage, errors="replace"))
        flush_run()

    i, n = 0, len(data)
    while i < n:
        b = data[i]
        if b >= 0x20:
            run.append(b)
            i += 1
            continue
        flush_run()
        if b == 0x0A:
            end_line()
            i += 1
            continue
        cmd = data[i + 1] if i + 1 < n else -1
        arg = data[i + 2] if i + 2 < n else 0
        if b == ESC:
            if cmd == ord("a"):
                align = arg % 48 if arg >= 48 else arg
            elif cmd == ord("t"):
                codepage = _CODEPAGES.get(arg, "cp437")
            elif cmd == ord("*") and i + 4 < n:  # bit image: m nL nH, then dots
                dots = data[i + 3] + 256 * data[i + 4]
                show("[image]")
                i += 5 + dots * (1 if arg in (0, 1) else 3)
                continue
            i += 2 + _ESC_ARGS.get(cmd, 0)
        elif b == GS:
            if cmd == ord("V"):  # cut: GS V m, or GS V m n for the feed-and-cut forms
                if line:
                    end_line()
                lines.append(" cut ".center(columns, "~"))
                i += 3 + (1 if arg >= 65 else 0)
            elif cmd == ord("k"):  # barcode: NUL-terminated (m <= 6) or length-prefixed
                if arg <= 6:
                    end = data.find(b"\x00", i + 3)
                    end = n if end < 0 else end
                    code, i = data[i + 3:end], end + 1
                else:
                    length = data[i + 3] if i + 3 < n else 0
                    code, i = data[i + 4:i + 4 + length], i + 4 + length
                if code[:1] == b"{" and len(code) > 1:  # CODE128 code-set selector
                    code = code[2:]
                show(f"[barcode {code.decode('ascii', errors='replace')}]")
            elif cmd == ord("(") and i + 4 < n:  # GS ( fn pL pH data
                size = data[i + 3] + 256 * data[i + 4]
                body = data[i + 5:i + 5 + size]
                if arg == ord("k") and body[:2] == b"\x31\x50":  # QR code: store the data
                    show(f"[QR {body[3:].decode('utf-8', errors='replace')}]")
                i += 5 + size
            elif cmd == ord("v") and i + 7 < n:  # raster image: GS v 0 m xL xH yL yH
                size = (data[i + 4] + 256 * data[i + 5]) * (data[i + 6] + 256 * data[i + 7])
                show("[image]")
                i += 8 + size
            else:
                i += 2 + _GS_ARGS.get(cmd, 0)
        elif b == FS:
            i += 2 + _FS_ARGS.get(cmd, 0)
        elif b == DLE:
            i += 3 if cmd in (0x04, 0x05) else 2  # DLE EOT n / DLE ENQ n; others are rare
        else:
            i += 1  # CR, HT, FF and other C0 controls: nothing on paper
    if line or run:
        end_line()
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)
