"""The device subtree of the exception tree, and the translators that build it.

pyserial, socket, pyusb and python-escpos raise their own types; the drivers
translate them here so that ``agent`` and ``ui`` only ever catch these.

    StoreAgentError                       (config.errors)
    └── DeviceError
        ├── DeviceConfigError             bad address, unknown profile or kind (also a ConfigError)
        ├── ScannerError
        │   ├── ScannerOpenError          the port cannot be opened (missing, permission)
        │   │   └── ScannerBusyError      another process holds the port exclusively
        │   └── ScannerDisconnectedError  a read failed: the scanner was unplugged
        └── PrinterError
            ├── PrinterUnavailableError   an optional dependency (pyusb) is missing
            ├── PrinterUnreachableError   no connection (refused, no route, no device)
            ├── PrinterNotReadyError      answered, but cannot print now (``reason``)
            ├── PrinterTimeoutError       no answer / a write did not complete in time
            ├── PrinterConnectionLostError  the connection dropped mid-job
            └── ReceiptRenderError        python-escpos refused to render a template

Printing itself does not raise for device trouble: ``print_job`` returns a
``PrintOutcome`` and ``PrintOutcome.raise_for_outcome()`` turns it into one of
the errors above for callers that prefer exceptions.
"""

from __future__ import annotations

import errno
import socket

from config.errors import ConfigError, StoreAgentError


class DeviceError(StoreAgentError):
    """Root of every scanner and printer error."""

    exit_code = 5  # the device is unavailable, not a bug (docs/cli.md)


class DeviceConfigError(DeviceError, ConfigError):
    """A device is configured in a way that can never work; exit code 2 like ConfigError."""

    exit_code = 2  # DeviceError's 5 would win in the MRO


class ScannerError(DeviceError):
    pass


class ScannerOpenError(ScannerError):
    pass


class ScannerBusyError(ScannerOpenError):
    pass


class ScannerDisconnectedError(ScannerError):
    pass


class PrinterError(DeviceError):
    pass


class PrinterUnavailableError(PrinterError):
    pass


class PrinterUnreachableError(PrinterError):
    pass


class PrinterNotReadyError(PrinterError):
    """The printer answered but reported a condition that stops printing."""

    def __init__(self, reason: str, status: str | None = None):
        self.reason = reason
        self.status = status
        super().__init__(reason)


class PrinterTimeoutError(PrinterError):
    pass


class PrinterConnectionLostError(PrinterError):
    pass


class ReceiptRenderError(PrinterError):
    pass


def translate_serial_error(exc: BaseException, port: str) -> ScannerError:
    """Map a pyserial/OS error raised while opening or reading ``port``."""
    if isinstance(exc, ScannerError):
        return exc
    text = str(exc) or type(exc).__name__
    lowered = text.lower()
    if "exclusively lock" in lowered or getattr(exc, "errno", None) in (
        errno.EBUSY,
        errno.EAGAIN,
    ):
        return ScannerBusyError(f"scanner port {port} is in use by another process ({text})")
    if isinstance(exc, FileNotFoundError) or getattr(exc, "errno", None) == errno.ENOENT:
        return ScannerOpenError(f"scanner port {port} does not exist")
    if isinstance(exc, PermissionError) or getattr(exc, "errno", None) == errno.EACCES:
        return ScannerOpenError(
            f"no permission to open scanner port {port} (is the agent user in group dialout?)"
        )
    if "could not open port" in lowered or "could not open" in lowered:
        return ScannerOpenError(f"cannot open scanner port {port}: {text}")
    return ScannerDisconnectedError(f"scanner on {port} stopped answering: {text}")


def describe_socket_error(exc: BaseException) -> str:
    """A short, associate-readable reason for a socket-level failure."""
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return "connection dropped"
    if isinstance(exc, socket.gaierror):
        return "unknown host"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__
