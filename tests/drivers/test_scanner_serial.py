from __future__ import annotations

import queue
import time
from pathlib import Path

import pytest

from drivers.emulators import PtyScanner
from drivers.errors import ScannerBusyError, ScannerOpenError
from drivers.scan_parse import classify
from drivers.scanner_serial import FrameDecoder, ScannerStatus, SerialScanner, open_port
from tests.drivers.emulators import wait_for


# --- framing, no device ------------------------------------------------------
@pytest.mark.parametrize("term", [b"\r", b"\n", b"\r\n"])
def test_frames_end_at_cr_lf_or_crlf(term: bytes) -> None:
    d = FrameDecoder()
    assert d.feed(b"W1000234" + term + b"B-07" + term) == [b"W1000234", b"B-07"]
    assert d.pending == b""


def test_partial_frame_is_kept_until_its_terminator() -> None:
    d = FrameDecoder()
    assert d.feed(b"W100") == []
    assert d.feed(b"02") == []
    assert d.feed(b"34\rB-0") == [b"W1000234"]
    assert d.feed(b"7\n") == [b"B-07"]


def test_custom_terminator() -> None:
    d = FrameDecoder(terminators=b"\t")
    assert d.feed(b"A1\rB\tC\t") == [b"A1\rB", b"C"]


def test_overlong_frame_is_dropped_and_reading_resyncs() -> None:
    d = FrameDecoder(max_frame=8)
    assert d.feed(b"123456789") == []
    assert d.feed(b"abc\rW1000234\r") == [b"W1000234"]
    assert d.dropped == 1
    assert d.feed(b"12345678\r") == [b"12345678"]  # exactly the limit is fine


# --- a scanner on a pty --------------------------------------------------------
@pytest.fixture
def pty_scanner(tmp_path: Path):
    with PtyScanner(tmp_path) as emu:
        yield emu


@pytest.fixture
def reader(pty_scanner: PtyScanner):
    frames: queue.Queue[str] = queue.Queue()
    statuses: list[ScannerStatus] = []
    scanner = SerialScanner(
        str(pty_scanner.link),
        frames.put,
        read_timeout_s=0.05,
        backoff_initial_s=0.05,
        backoff_max_s=0.2,
        on_status=statuses.append,
    )
    scanner.start()
    wait_for(lambda: scanner.status.connected)
    yield scanner, frames, statuses
    scanner.stop()


def test_scans_arrive_through_the_callback(pty_scanner, reader) -> None:
    scanner, frames, _ = reader
    pty_scanner.scan("W1000234", b"\r")
    pty_scanner.scan("B-07", b"\n")
    pty_scanner.scan("A1042", b"\r\n")
    got = [frames.get(timeout=10) for _ in range(3)]
    assert got == ["W1000234", "B-07", "A1042"]
    assert frames.empty()
    assert scanner.status.frames == 3


def test_partial_frames_survive_read_timeouts(pty_scanner, reader) -> None:
    scanner, frames, _ = reader
    pty_scanner.write(b"W10")
    wait_for(lambda: scanner._decoder.pending == b"W10")  # read, and kept across timeouts
    pty_scanner.write(b"002")
    wait_for(lambda: scanner._decoder.pending == b"W10002")
    assert frames.empty()
    pty_scanner.write(b"34\r")
    assert frames.get(timeout=10) == "W1000234"


def test_aim_prefix_and_gs_survive_the_serial_line(pty_scanner, reader) -> None:
    _, frames, _ = reader
    pty_scanner.scan(b"]C10109506000134352\x1d10ABC")
    scan = classify(frames.get(timeout=10))
    assert (scan.kind, scan.symbology, scan.gtin) == ("product", "]C1", "09506000134352")
    assert scan.ai == (("01", "09506000134352"), ("10", "ABC"))


def test_overlong_frame_is_counted_not_delivered(pty_scanner, tmp_path) -> None:
    frames: queue.Queue[str] = queue.Queue()
    with SerialScanner(str(pty_scanner.link), frames.put, max_frame=16, read_timeout_s=0.05) as s:
        wait_for(lambda: s.status.connected)
        pty_scanner.write(b"X" * 40 + b"\r")  # resync happens at the next terminator
        time.sleep(0.1)
        pty_scanner.scan("W1000234")
        assert frames.get(timeout=10) == "W1000234"
        wait_for(lambda: s.status.dropped_frames == 1)


def test_unplug_and_replug(pty_scanner, reader) -> None:
    scanner, frames, statuses = reader
    pty_scanner.scan("W1000234")
    assert frames.get(timeout=10) == "W1000234"

    pty_scanner.write(b"HALF")  # the rest never comes: must not glue onto the next scan
    time.sleep(0.1)
    pty_scanner.unplug()
    wait_for(lambda: scanner.status.state == "disconnected")
    status = scanner.status
    assert str(status).startswith("disconnected since ")
    assert status.last_error
    first_error = status.last_error

    wait_for(lambda: scanner.status.failed_opens >= 3)  # reopen attempts with backoff
    assert scanner.status.state == "disconnected"
    assert scanner.status.since == status.since  # since is when it went away, not the last retry

    pty_scanner.replug()
    wait_for(lambda: scanner.status.connected)
    assert str(scanner.status) == "connected"
    assert scanner.status.last_error is None
    pty_scanner.scan("B-07")
    assert frames.get(timeout=10) == "B-07"
    assert [s.state for s in statuses] == ["disconnected", "connected", "disconnected", "connected"]
    assert first_error


def test_exclusive_open_second_opener_gets_a_translated_error(pty_scanner, reader) -> None:
    with pytest.raises(ScannerBusyError):
        open_port(str(pty_scanner.link))
    # A second reader of the same port stays disconnected and says why.
    other = SerialScanner(str(pty_scanner.link), lambda _: None, backoff_initial_s=0.05)
    other.start()
    try:
        wait_for(lambda: other.status.last_error is not None)
        assert "in use" in str(other.status)
    finally:
        other.stop()


def test_missing_port_is_a_translated_error(tmp_path: Path) -> None:
    with pytest.raises(ScannerOpenError, match="does not exist"):
        open_port(str(tmp_path / "no-such-scanner"))


def test_stop_is_prompt_and_final(pty_scanner, reader) -> None:
    scanner, _, _ = reader
    t0 = time.monotonic()
    scanner.stop()
    assert time.monotonic() - t0 < 1.0
    assert scanner.status.state == "stopped"


def test_callback_errors_do_not_stop_reading(pty_scanner) -> None:
    seen: list[str] = []

    def flaky(frame: str) -> None:
        seen.append(frame)
        if frame == "BOOM":
            raise RuntimeError("bug in the UI")

    with SerialScanner(str(pty_scanner.link), flaky, read_timeout_s=0.05) as s:
        wait_for(lambda: s.status.connected)
        pty_scanner.scan("BOOM")
        pty_scanner.scan("W1000234")
        wait_for(lambda: seen == ["BOOM", "W1000234"])
        assert s.status.connected


def test_socket_url_scanner() -> None:
    import socket

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    frames: queue.Queue[str] = queue.Queue()
    with SerialScanner(f"socket://127.0.0.1:{port}", frames.put, read_timeout_s=0.05) as s:
        conn, _ = server.accept()
        wait_for(lambda: s.status.connected)
        conn.sendall(b"W10002")
        time.sleep(0.1)
        conn.sendall(b"34\r\n")
        assert frames.get(timeout=10) == "W1000234"
        conn.close()
        wait_for(lambda: s.status.state == "disconnected")
    server.close()
