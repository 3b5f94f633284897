from __future__ import annotations

import socket
from pathlib import Path

import pytest

from drivers.emulators import EscposPrinterEmulator
from drivers.errors import (
    DeviceConfigError,
    PrinterConnectionLostError,
    PrinterNotReadyError,
    PrinterTimeoutError,
    PrinterUnavailableError,
    PrinterUnreachableError,
)
from drivers.printer_transport import (
    FileTransport,
    NetworkTransport,
    PrinterStatus,
    SerialTransport,
    decode_status,
    make_transport,
    parse_network_address,
)
from tests.drivers.emulators import wait_for

JOB = b"\x1b@" + b"PICKUP RECEIPT W1000234\n" * 20 + b"\x1dV\x00"
FAST = {"connect_timeout_s": 0.5, "status_timeout_s": 0.2, "confirm_timeout_s": 0.5}


@pytest.fixture
def printer():
    with EscposPrinterEmulator() as emu:
        yield emu


def network(emu: EscposPrinterEmulator) -> NetworkTransport:
    return NetworkTransport(emu.host, emu.port, **FAST)


def via_serial_url(emu: EscposPrinterEmulator) -> SerialTransport:
    # pyserial's socket:// handler drives SerialTransport against the same emulator.
    return SerialTransport(f"socket://{emu.host}:{emu.port}", status_timeout_s=0.2, confirm_timeout_s=0.5)


TRANSPORTS = {"network": network, "serial": via_serial_url}

# state -> (printed, status, job bytes that reached the printer)
EXPECTED = {
    "online": (True, PrinterStatus.READY),
    "paper_near_end": (True, PrinterStatus.PAPER_NEAR_END),
    "paper_out": (False, PrinterStatus.PAPER_OUT),
    "cover_open": (False, PrinterStatus.COVER_OPEN),
    "offline": (False, PrinterStatus.OFFLINE),
    "silent": (False, PrinterStatus.NOT_ANSWERING),
}


@pytest.mark.parametrize("kind", TRANSPORTS)
@pytest.mark.parametrize("state", EXPECTED)
def test_each_printer_state(kind: str, state: str, printer: EscposPrinterEmulator) -> None:
    printer.state = state
    transport = TRANSPORTS[kind](printer)
    printed, status = EXPECTED[state]

    assert transport.status() == status
    outcome = transport.print_job(JOB)
    assert (outcome.printed, outcome.status) == (printed, status), outcome
    if printed:
        assert printer.printed_jobs == [JOB]
        assert outcome.bytes_sent == outcome.total_bytes == len(JOB)
        assert outcome.reason is None
        outcome.raise_for_outcome()
    else:
        # Nothing was sent to a printer that said it could not print.
        assert printer.printed_jobs == []
        assert outcome.bytes_sent == 0
        assert outcome.reason
    if state == "paper_near_end":
        assert outcome.warning == "paper is running low"
    if state == "silent":
        assert outcome.reason == "printer not answering"


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_drop_mid_job_is_a_failure(kind: str, printer: EscposPrinterEmulator) -> None:
    printer.state = "drop"
    printer.drop_after = 100
    outcome = TRANSPORTS[kind](printer).print_job(JOB)
    assert not outcome.printed
    assert "lost" in (outcome.reason or "")
    assert printer.jobs[0] == JOB[:100]  # it really got only part of the job
    with pytest.raises(PrinterConnectionLostError):
        outcome.raise_for_outcome()


def test_state_changes_between_jobs_are_seen(printer: EscposPrinterEmulator) -> None:
    t = network(printer)
    assert t.print_job(JOB).printed
    printer.state = "cover_open"
    assert not t.print_job(JOB).printed
    printer.state = "online"
    assert t.print_job(b"second").printed
    assert printer.printed_jobs == [JOB, b"second"]
    assert printer.queries.count(1) == 5  # before and after each printed job, before the refused one


def test_unreachable_printer() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connection refused
        t = NetworkTransport("127.0.0.1", port, **FAST)
        assert t.status() == PrinterStatus.UNREACHABLE
        outcome = t.print_job(JOB)
    assert (outcome.printed, outcome.status) == (False, PrinterStatus.UNREACHABLE)
    assert "refused" in (outcome.reason or "")
    with pytest.raises(PrinterUnreachableError):
        outcome.raise_for_outcome()


def test_raise_for_outcome_types(printer: EscposPrinterEmulator) -> None:
    printer.state = "paper_out"
    with pytest.raises(PrinterNotReadyError) as info:
        network(printer).print_job(JOB).raise_for_outcome()
    assert info.value.status == "paper_out"
    printer.state = "silent"
    with pytest.raises(PrinterTimeoutError):
        network(printer).print_job(JOB).raise_for_outcome()


def test_file_transport_appends_and_is_always_ready(tmp_path: Path) -> None:
    target = tmp_path / "lp0"
    t = FileTransport(str(target))
    assert t.status() == PrinterStatus.READY
    assert t.print_job(b"one").printed
    assert t.print_job(b"two").printed
    assert target.read_bytes() == b"onetwo"
    missing = FileTransport(str(tmp_path / "no" / "dir")).print_job(b"x")
    assert (missing.printed, missing.status) == (False, PrinterStatus.UNREACHABLE)


def test_decode_status_precedence() -> None:
    assert decode_status(0x12, 0x12, 0x12) == PrinterStatus.READY
    assert decode_status(0x12, 0x12, 0x1E) == PrinterStatus.PAPER_NEAR_END
    assert decode_status(0x1A, 0x36, 0x72) == PrinterStatus.PAPER_OUT  # paper wins over cover
    assert decode_status(0x1A, 0x16, 0x1E) == PrinterStatus.COVER_OPEN
    assert decode_status(0x1A, 0x12, 0x12) == PrinterStatus.OFFLINE
    assert decode_status(0x00, 0x12, 0x12) == PrinterStatus.NOT_ANSWERING  # not a status byte


def test_make_transport_kinds_and_addresses(tmp_path: Path) -> None:
    t = make_transport("network", "10.0.0.5")
    assert isinstance(t, NetworkTransport) and (t.host, t.port) == ("10.0.0.5", 9100)
    assert parse_network_address("printer.local:9101") == ("printer.local", 9101)
    assert parse_network_address("[fe80::1]:9100") == ("fe80::1", 9100)
    s = make_transport("serial", "/dev/ttyS0@38400")
    assert isinstance(s, SerialTransport) and (s.port, s.baudrate) == ("/dev/ttyS0", 38400)
    assert isinstance(make_transport("file", str(tmp_path / "x")), FileTransport)
    for kind, address in [
        ("network", "host:99999"),
        ("network", ":9100"),
        ("carrier-pigeon", "x"),
        ("serial", "/dev/ttyS0@fast"),
        ("usb", "nonsense"),
    ]:
        with pytest.raises((DeviceConfigError, PrinterUnavailableError)):
            make_transport(kind, address)


def test_usb_without_pyusb_says_what_to_install() -> None:
    try:
        import usb  # noqa: F401
    except ImportError:
        with pytest.raises(PrinterUnavailableError, match="pyusb"):
            make_transport("usb", "04b8:0e15")
    else:
        pytest.skip("pyusb is installed here")


def test_serial_port_missing_is_unreachable(tmp_path: Path) -> None:
    t = SerialTransport(str(tmp_path / "ttyUSB9"))
    assert t.status() == PrinterStatus.UNREACHABLE
    assert t.print_job(JOB).status == PrinterStatus.UNREACHABLE


def test_status_check_can_be_turned_off_for_printers_without_a_return_line(
    printer: EscposPrinterEmulator,
) -> None:
    printer.state = "silent"
    t = NetworkTransport(printer.host, printer.port, check_status=False, **FAST)
    assert t.status() == PrinterStatus.READY
    assert t.print_job(JOB).printed
    # No confirming round trip: the bytes may still be on their way.
    wait_for(lambda: printer.printed_jobs == [JOB])
    assert printer.queries == []


def test_condition_reported_after_the_job_is_not_printed() -> None:
    from drivers.printer_transport import PrintOutcome

    outcome = PrintOutcome(False, PrinterStatus.PAPER_OUT, len(JOB), len(JOB), "out of paper")
    with pytest.raises(PrinterNotReadyError):
        outcome.raise_for_outcome()
