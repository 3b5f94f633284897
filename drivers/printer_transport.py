"""Getting ESC/POS bytes to a receipt printer, and knowing whether they got there.

Kinds (``config.settings.Printer.kind``) and their ``address``:

* ``network`` - ``host`` or ``host:port`` (default 9100, raw TCP). A fresh
  connection per job: printers drop idle connections and only serve one.
* ``serial``  - a device path or pyserial URL, optionally ``@baud``
  (``/dev/ttyS0@38400``); opened exclusively per job.
* ``file``    - a device file such as ``/dev/usb/lp0``, or a plain file; no
  status channel, so always ``ready``.
* ``usb``     - ``vendor:product`` in hex (``04b8:0e15``); needs pyusb.

Before each job the printer is asked DLE EOT n (n=1 printer status, n=2
offline cause, n=4 paper roll sensor). After the job one more DLE EOT 1 must
be answered on the same connection: that proves every byte before it
reached the printer and the connection did not drop. ``printed`` is true
only then - it means "the printer accepted the whole job", which is as much
as ESC/POS can tell.
"""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import serial

from drivers.errors import (
    DeviceConfigError,
    PrinterConnectionLostError,
    PrinterNotReadyError,
    PrinterTimeoutError,
    PrinterUnreachableError,
    describe_socket_error,
)

DLE_EOT = b"\x10\x04"


class PrinterStatus(StrEnum):
    READY = "ready"
    PAPER_NEAR_END = "paper_near_end"
    """Still prints; warn the associate to change the roll."""
    PAPER_OUT = "paper_out"
    COVER_OPEN = "cover_open"
    OFFLINE = "offline"
    """Offline for another reason: error, feed button held, cutter jam."""
    NOT_ANSWERING = "not_answering"
    """Connected, but no (valid) answer to DLE EOT in time."""
    UNREACHABLE = "unreachable"
    """No connection at all: refused, no route, device missing."""


PRINTABLE = frozenset({PrinterStatus.READY, PrinterStatus.PAPER_NEAR_END})
_REASONS = {
    PrinterStatus.PAPER_NEAR_END: "paper is running low",
    PrinterStatus.PAPER_OUT: "printer is out of paper",
    PrinterStatus.COVER_OPEN: "printer cover is open",
    PrinterStatus.OFFLINE: "printer is offline (error, cutter jam or feed button)",
    PrinterStatus.NOT_ANSWERING: "printer not answering",
}


@dataclass(frozen=True)
class PrintOutcome:
    printed: bool
    status: PrinterStatus
    bytes_sent: int
    total_bytes: int
    reason: str | None = None

    @property
    def warning(self) -> str | None:
        return _REASONS[self.status] if self.printed and self.status in _REASONS else None

    def raise_for_outcome(self) -> None:
        if self.printed:
            return
        reason = self.reason or _REASONS.get(self.status, self.status.value)
        if self.status == PrinterStatus.UNREACHABLE:
            raise PrinterUnreachableError(reason)
        if self.status != PrinterStatus.NOT_ANSWERING:
            raise PrinterNotReadyError(reason, self.status.value)
        if self.bytes_sent > 0:
            raise PrinterConnectionLostError(reason)
        raise PrinterTimeoutError(reason)


def decode_status(n1: int, n2: int, n4: int) -> PrinterStatus:
    """Map the three DLE EOT answers to one status; the worst condition wins."""
    if any(b & 0x93 != 0x12 for b in (n1, n2, n4)):
        return PrinterStatus.NOT_ANSWERING
    if n4 & 0x60 or n2 & 0x20:
        return PrinterStatus.PAPER_OUT
    if n2 & 0x04:
        return PrinterStatus.COVER_OPEN
    if n1 & 0x08 or n2 & 0x40:
        return PrinterStatus.OFFLINE
    if n4 & 0x0C:
        return PrinterStatus.PAPER_NEAR_END
    return PrinterStatus.READY


class Transport(Protocol):
    def status(self) -> PrinterStatus: ...

    def print_job(self, data: bytes) -> PrintOutcome: ...


class _Dropped(Exception):
    """The connection went away while we were using it."""


class _Channel(Protocol):
    def send(self, data: bytes) -> int: ...

    def recv1(self, timeout_s: float) -> int | None: ...

    def close(self) -> None: ...


class _ChannelTransport:
    """The status/print protocol shared by every transport with a return channel."""

    status_timeout_s = 0.5
    confirm_timeout_s = 2.0
    where = "printer"
    check_status = True
    """False for printers wired without a return line: then ``printed`` only means written."""

    def _open(self) -> _Channel:
        raise NotImplementedError

    def _query(self, ch: _Channel, timeout_s: float) -> PrinterStatus:
        if not self.check_status:
            return PrinterStatus.READY
        answers = []
        for n in (1, 2, 4):
            ch.send(DLE_EOT + bytes([n]))
            answer = ch.recv1(timeout_s)
            if answer is None:
                return PrinterStatus.NOT_ANSWERING
            answers.append(answer)
        return decode_status(*answers)

    def status(self) -> PrinterStatus:
        try:
            ch = self._open()
        except PrinterUnreachableError:
            return PrinterStatus.UNREACHABLE
        try:
            return self._query(ch, self.status_timeout_s)
        except (_Dropped, OSError, serial.SerialException):
            return PrinterStatus.NOT_ANSWERING
        finally:
            ch.close()

    def print_job(self, data: bytes) -> PrintOutcome:
        total = len(data)
        try:
            ch = self._open()
        except PrinterUnreachableError as exc:
            return PrintOutcome(False, PrinterStatus.UNREACHABLE, 0, total, str(exc))
        sent = 0
        try:
            before = self._query(ch, self.status_timeout_s)
            if before not in PRINTABLE:
                return PrintOutcome(False, before, 0, total, _REASONS.get(before))
            view = memoryview(data)
            while sent < total:
                sent += ch.send(bytes(view[sent : sent + 16384]))
            after = self._query(ch, self.confirm_timeout_s)
        except (_Dropped, OSError, serial.SerialException) as exc:
            cause = describe_socket_error(exc) if isinstance(exc, OSError) else str(exc)
            return PrintOutcome(
                False,
                PrinterStatus.NOT_ANSWERING,
                sent,
                total,
                f"connection to {self.where} lost after {sent} of {total} bytes ({cause});"
                " check the printout before reprinting",
            )
        finally:
            ch.close()
        if after == PrinterStatus.NOT_ANSWERING:
            return PrintOutcome(False, after, sent, total, "printer stopped answering during the job")
        if after not in PRINTABLE:
            return PrintOutcome(False, after, sent, total, f"{_REASONS[after]} (reported after the job)")
        return PrintOutcome(True, max(before, after, key=_severity), sent, total)


def _severity(status: PrinterStatus) -> int:
    return 1 if status == PrinterStatus.PAPER_NEAR_END else 0


class _SocketChannel:
    def __init__(self, sock: socket.socket, write_timeout_s: float):
        self._sock = sock
        self._write_timeout = write_timeout_s

    def send(self, data: bytes) -> int:
        self._sock.settimeout(self._write_timeout)
        return self._sock.send(data)

    def recv1(self, timeout_s: float) -> int | None:
        self._sock.settimeout(timeout_s)
        try:
            got = self._sock.recv(1)
        except TimeoutError:
            return None
        if not got:
            raise _Dropped("printer closed the connection")
        return got[0]

    def close(self) -> None:
        self._sock.close()


class NetworkTransport(_ChannelTransport):
    def __init__(
        self,
        host: str,
        port: int = 9100,
        *,
        connect_timeout_s: float = 2.0,
        write_timeout_s: float = 5.0,
        status_timeout_s: float = 0.5,
        confirm_timeout_s: float = 2.0,
        check_status: bool = True,
    ):
        self.host, self.port = host, port
        self.check_status = check_status
        self.where = f"{host}:{port}"
        self._connect_timeout = connect_timeout_s
        self._write_timeout = write_timeout_s
        self.status_timeout_s = status_timeout_s
        self.confirm_timeout_s = confirm_timeout_s

    def _open(self) -> _Channel:
        try:
            sock = socket.create_connection((self.host, self.port), self._connect_timeout)
        except OSError as exc:
            raise PrinterUnreachableError(
                f"cannot connect to printer at {self.where}: {describe_socket_error(exc)}"
            ) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _SocketChannel(sock, self._write_timeout)


class _SerialChannel:
    def __init__(self, ser: serial.SerialBase):
        self._ser = ser

    def send(self, data: bytes) -> int:
        return self._ser.write(data) or 0

    def recv1(self, timeout_s: float) -> int | None:
        self._ser.timeout = timeout_s
        got = self._ser.read(1)
        return got[0] if got else None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._ser.close()


class SerialTransport(_ChannelTransport):
    def __init__(
        self,
        port: str,
        baudrate: int = 9600,
        *,
        write_timeout_s: float = 5.0,
        status_timeout_s: float = 0.5,
        confirm_timeout_s: float = 2.0,
        exclusive: bool = True,
        check_status: bool = True,
    ):
        self.port, self.baudrate = port, baudrate
        self.check_status = check_status
        self.where = port
        self._write_timeout = write_timeout_s
        self._exclusive = exclusive and "://" not in port
        self.status_timeout_s = status_timeout_s
        self.confirm_timeout_s = confirm_timeout_s

    def _open(self) -> _Channel:
        kwargs: dict[str, object] = {
            "baudrate": self.baudrate,
            "timeout": self.status_timeout_s,
            "write_timeout": self._write_timeout,
        }
        if self._exclusive:
            kwargs["exclusive"] = True
        try:
            ser = serial.serial_for_url(self.port, **kwargs)
            ser.reset_input_buffer()
        except (serial.SerialException, OSError, ValueError) as exc:
            raise PrinterUnreachableError(f"cannot open printer port {self.port}: {exc}") from exc
        return _SerialChannel(ser)


class FileTransport:
    """Appends each job to a device or plain file; there is no way to ask for status."""

    def __init__(self, path: str):
        self.path = path

    def status(self) -> PrinterStatus:
        return PrinterStatus.READY

    def print_job(self, data: bytes) -> PrintOutcome:
        sent = 0
        try:
            with open(self.path, "ab", buffering=0) as fh:
                view = memoryview(data)
                while sent < len(data):
                    sent += fh.write(view[sent:]) or 0
        except OSError as exc:
            status = PrinterStatus.UNREACHABLE if sent == 0 else PrinterStatus.NOT_ANSWERING
            reason = f"cannot write to {self.path}: {exc.strerror or exc}"
            return PrintOutcome(False, status, sent, len(data), reason)
        return PrintOutcome(True, PrinterStatus.READY, sent, len(data))


def parse_network_address(address: str) -> tuple[str, int]:
    host, port = address, 9100
    if address.startswith("["):  # [v6]:port
        host, _, rest = address[1:].partition("]")
        if rest.startswith(":"):
            port = _port(rest[1:], address)
    elif address.count(":") == 1:
        host, raw_port = address.split(":")
        port = _port(raw_port, address)
    if not host:
        raise DeviceConfigError(f"printer address {address!r}: no host")
    return host, port


def _port(raw: str, address: str) -> int:
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise DeviceConfigError(f"printer address {address!r}: port must be 1-65535")
    return int(raw)


def make_transport(kind: str, address: str, **options: Any) -> Transport:
    """The transport for a ``[[printers]]`` entry; options are the timeouts above."""
    if kind == "network":
        host, port = parse_network_address(address)
        return NetworkTransport(host, port, **options)
    if kind == "serial":
        device, _, baud = address.rpartition("@") if "@" in address else (address, "", "")
        if baud and not baud.isdigit():
            raise DeviceConfigError(f"printer address {address!r}: baud rate must be a number")
        return SerialTransport(device, int(baud or 9600), **options)
    if kind == "file":
        return FileTransport(address)
    if kind == "usb":
        from drivers.printer_usb import UsbTransport

        return UsbTransport.from_address(address, **options)
    raise DeviceConfigError(f"unknown printer kind {kind!r} (network, serial, usb, file)")


__all__ = [
    "FileTransport",
    "NetworkTransport",
    "PrintOutcome",
    "PrinterStatus",
    "SerialTransport",
    "Transport",
    "decode_status",
    "make_transport",
    "parse_network_address",
]
