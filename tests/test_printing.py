"""The print queue against the TCP printer emulator and a real SQLite store.

The promise under test: nothing is recorded printed that the printer did not
accept whole, and a printer that cannot print keeps its jobs queued, visible
with the reason, until it can.
"""

from __future__ import annotations

import asyncio
import functools
import json
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from agent.clock import utc_now
from agent.errors import InvalidActionError
from agent.printing import queue as printing
from agent.printing.queue import enqueue, enqueue_in, render_job
from agent.printing.worker import PrintWorker
from agent.store.connection import Store
from agent.views.queries import status
from config import load_settings
from drivers.emulators import EscposPrinterEmulator
from drivers.printer_transport import make_transport
from tests.factories import write_config

REPO = Path(__file__).resolve().parent.parent
FAST = functools.partial(make_transport, connect_timeout_s=0.5, status_timeout_s=0.2,
                         confirm_timeout_s=0.5)
RECEIPT = {
    "store_id": "S042", "order_id": "W1001", "associate": "Dana",
    "handed_over_at": "2026-11-23 15:04", "verified_by": "pickup_code",
    "items": [{"description": "Item 1", "quantity": 2, "sku": "SKU-1"}],
}


def network_printer(address: str, printer_id: str = "net") -> str:
    return f'\n[[printers]]\nid = "{printer_id}"\nkind = "network"\naddress = "{address}"\n'


@pytest.fixture
def emu():
    with EscposPrinterEmulator() as e:
        yield e


@pytest.fixture
def config_path(tmp_path: Path, emu) -> Path:
    # Overrides conftest's: the base config's file printer plus the emulator.
    return write_config(tmp_path, extra=network_printer(emu.address))


@pytest.fixture
def make_worker(store, settings):
    def _make(**kw) -> PrintWorker:
        kw = {"transport_factory": FAST, "backoff_base_s": 0.05, "backoff_cap_s": 0.2,
              "probe_interval_s": None, **kw}
        return PrintWorker(store, settings, **kw)

    return _make


_ahead = [0.0]


def later():
    """A moment past every backoff so far: each call jumps a minute further."""
    _ahead[0] += 60
    return utc_now() + timedelta(seconds=_ahead[0])


def job(store, job_id: int) -> dict:
    return printing.get_job(store, job_id)


def printer_status(store, printer_id: str = "net") -> dict:
    return next(p for p in status(store)["printers"] if p["id"] == printer_id)


def label(store, settings, bin_id: str = "B-07", printer_id: str = "net") -> int:
    return enqueue(store, settings, "bin_label", printer_id, {"bin_id": bin_id, "store_id": "S042"})


def label_bytes(bin_id: str = "B-07") -> bytes:
    return render_job("bin_label", {"bin_id": bin_id, "store_id": "S042"})


# --- every state of the emulator ---------------------------------------------------

@pytest.mark.parametrize("state, warning", [("online", None), ("paper_near_end", "paper is running low")])
def test_printable_states_print_once_and_say_so(store, settings, emu, make_worker, state, warning):
    emu.state = state
    job_id = label(store, settings)
    assert make_worker().run_once() == 1
    j = job(store, job_id)
    assert (j["state"], j["attempts"], j["reason"]) == ("printed", 1, warning)
    assert j["printed_at"] and emu.printed_jobs == [label_bytes()]
    expected_status = "ready" if state == "online" else "paper_near_end"
    p = printer_status(store)
    assert (p["status"], p["reason"], p["queued"], p["failed"]) == (expected_status, warning, 0, 0)


@pytest.mark.parametrize("state, expected, words", [
    ("paper_out", "paper_out", "out of paper"),
    ("cover_open", "cover_open", "cover is open"),
    ("offline", "offline", "offline"),
    ("silent", "not_answering", "not answering"),
])
def test_unready_printer_keeps_the_job_queued_and_visible(store, settings, emu, make_worker,
                                                          state, expected, words):
    emu.state = state
    job_id = label(store, settings)
    before = utc_now()
    worker = make_worker()
    worker.run_once()
    j = job(store, job_id)
    assert j["state"] == "queued" and j["attempts"] == 0 and j["printed_at"] is None
    assert words in j["reason"] and j["printer_status"] == expected
    assert j["next_attempt_at"] > before.isoformat()
    assert emu.printed_jobs == []  # not one byte of the job was sent
    p = printer_status(store)
    assert (p["status"], p["queued"], p["failed"]) == (expected, 1, 0) and words in p["reason"]
    since = p["since"]

    worker.run_once(later())  # still not ready: still waiting, same "since"
    assert job(store, job_id)["state"] == "queued"
    assert printer_status(store)["since"] == since

    emu.state = "online"  # the roll is changed, the cover closed, the printer answers
    worker.run_once(later())
    assert job(store, job_id)["state"] == "printed"
    assert emu.printed_jobs == [label_bytes()]
    p = printer_status(store)
    assert (p["status"], p["reason"], p["queued"]) == ("ready", None, 0) and p["since"] > since


def test_connection_dropped_mid_job_is_not_printed_and_fails_after_max_attempts(
        store, settings, emu, make_worker):
    emu.state, emu.drop_after = "drop", 10
    job_id = label(store, settings)
    worker = make_worker(max_attempts=2)
    worker.run_once()
    j = job(store, job_id)
    assert (j["state"], j["attempts"], j["printer_status"]) == ("queued", 1, "not_answering")
    assert "check the printout" in j["reason"]
    assert emu.printed_jobs == [label_bytes()[:10]]  # a fragment reached the printer, no more

    worker.run_once(later())
    j = job(store, job_id)
    assert (j["state"], j["attempts"]) == ("failed", 2) and j["reason"].startswith("gave up after 2")
    assert j["printed_at"] is None
    p = printer_status(store)
    assert (p["status"], p["queued"], p["failed"]) == ("not_answering", 0, 1)

    emu.state = "online"
    assert printing.retry_job(store, job_id)["state"] == "queued"
    assert job(store, job_id)["attempts"] == 0
    worker.run_once(later())
    assert job(store, job_id)["state"] == "printed"
    assert emu.printed_jobs[-1] == label_bytes()
    assert printer_status(store)["failed"] == 0


def test_unreachable_printer_keeps_jobs_queued(tmp_path, make_worker, store):
    with EscposPrinterEmulator() as gone:
        address = gone.address
    settings = load_settings(write_config(tmp_path, extra=network_printer(address)), environ={})
    job_id = label(store, settings)
    PrintWorker(store, settings, transport_factory=FAST, probe_interval_s=None).run_once()
    j = job(store, job_id)
    assert (j["state"], j["printer_status"], j["attempts"]) == ("queued", "unreachable", 0)
    assert "cannot connect" in j["reason"]
    assert printer_status(store)["status"] == "unreachable"


def test_a_waiting_printer_holds_its_queue_in_order(store, settings, emu, make_worker, tmp_path):
    emu.state = "paper_out"
    ids = [label(store, settings, f"B-0{i}") for i in (1, 2, 3)]
    other = label(store, settings, printer_id="counter")  # a file printer is not held up
    worker = make_worker()
    worker.run_once()
    assert len(emu.raw) == 1  # one look at the printer, not one per job
    assert [job(store, i)["state"] for i in ids] == ["queued"] * 3
    assert all("out of paper" in job(store, i)["reason"] for i in ids)
    assert job(store, other)["state"] == "printed"
    assert (tmp_path / "printer.out").read_bytes() == label_bytes()

    emu.state = "online"
    worker.run_once(later())
    assert [job(store, i)["state"] for i in ids] == ["printed"] * 3
    assert emu.printed_jobs == [label_bytes(f"B-0{i}") for i in (1, 2, 3)]


def test_nothing_recorded_printed_that_the_printer_did_not_accept(store, settings, emu, make_worker):
    worker = make_worker(max_attempts=1)
    for state in ("online", "paper_out", "drop", "paper_near_end", "silent", "cover_open", "online"):
        emu.state = state
        label(store, settings, f"B-{len(emu.raw):02d}")
        worker.run_once(later())
    printed = [j for j in printing.list_jobs(store) if j["state"] == "printed"]
    rows = {r["id"]: json.loads(r["payload"]) for r in store.conn.execute("SELECT * FROM print_jobs")}
    received = emu.printed_jobs
    for j in printed:
        assert render_job("bin_label", rows[j["id"]]) in received
    assert len(received) == len(printed) + 1  # plus the dropped fragment


# --- bad input and refusals ---------------------------------------------------------

def test_bad_payload_fails_at_once_without_touching_the_printer(store, settings, emu, make_worker):
    job_id = enqueue(store, settings, "receipt", "net", {"nonsense": True})
    make_worker().run_once()
    j = job(store, job_id)
    assert j["state"] == "failed" and "cannot render" in j["reason"]
    assert emu.raw == []


def test_refusals(store, settings):
    with pytest.raises(InvalidActionError, match="not in \\[\\[printers\\]\\]"):
        enqueue(store, settings, "receipt", "nope", RECEIPT)
    with pytest.raises(InvalidActionError, match="kind"):
        enqueue(store, settings, "poster", "net", RECEIPT)
    with pytest.raises(InvalidActionError, match="COPY"):
        enqueue(store, settings, "bin_label", "net", {"bin_id": "B-07"}, copy=True)
    with pytest.raises(InvalidActionError, match="no print job"):
        printing.retry_job(store, 999)
    job_id = label(store, settings)
    with pytest.raises(InvalidActionError, match="only a failed job"):
        printing.retry_job(store, job_id)
    with pytest.raises(InvalidActionError, match="not printed"):
        printing.reprint(store, settings, job_id)
    assert len(printing.list_jobs(store)) == 1


def test_enqueue_in_commits_or_rolls_back_with_the_action(store, settings):
    with pytest.raises(RuntimeError), store.write() as conn:
        enqueue_in(conn, settings, "receipt", "net", RECEIPT, order_id="W1001")
        raise RuntimeError("the action was refused")
    assert printing.list_jobs(store) == []
    with store.write() as conn:
        job_id = enqueue_in(conn, settings, "receipt", "net", RECEIPT, order_id="W1001")
    assert printing.list_jobs(store, order_id="W1001")[0]["id"] == job_id


# --- copies, crashes, status ---------------------------------------------------------

def test_reprint_of_a_receipt_carries_copy(store, settings, emu, make_worker):
    original = enqueue(store, settings, "receipt", "net", RECEIPT, order_id="W1001", created_by="A100")
    worker = make_worker()
    worker.run_once()
    copy = printing.reprint(store, settings, original, created_by="A100")
    assert job(store, copy)["copy"] is True and not job(store, original)["copy"]
    worker.run_once()
    first, second = emu.printed_jobs
    assert b"COPY - REPRINT" not in first and second.count(b"COPY - REPRINT") == 2
    assert b"W1001" in first and b"W1001" in second


CRASHING_WORKER = textwrap.dedent("""
    import os, signal, sys
    from agent.printing.worker import PrintWorker
    from agent.store.connection import Store
    from config import load_settings

    class DiesMidJob:
        def status(self): ...
        def print_job(self, data):
            os.kill(os.getpid(), signal.SIGKILL)  # power cut while the bytes go out

    settings = load_settings(sys.argv[1], environ={})
    PrintWorker(Store(settings.storage.path), settings,
                transport_factory=lambda kind, address: DiesMidJob()).run_once()
""")


def test_crash_while_printing_prints_again_without_copy(store, settings, config_path, emu, make_worker):
    job_id = enqueue(store, settings, "receipt", "net", RECEIPT, order_id="W1001")
    proc = subprocess.run([sys.executable, "-c", CRASHING_WORKER, str(config_path)], cwd=REPO,
                          capture_output=True, timeout=60)
    assert proc.returncode == -9, proc.stderr
    assert job(store, job_id)["state"] == "printing"  # the claim was committed before sending

    worker = make_worker()
    assert worker.recover() == 1
    j = job(store, job_id)
    assert (j["state"], j["attempts"]) == ("queued", 1) and "check for a duplicate" in j["reason"]
    worker.run_once()
    assert job(store, job_id)["state"] == "printed"
    [printed] = emu.printed_jobs
    assert b"COPY" not in printed and printed == render_job("receipt", RECEIPT)


def test_crash_loop_gives_up_after_max_attempts(store, settings, make_worker):
    job_id = label(store, settings)
    for _ in range(2):
        with store.write() as conn:
            conn.execute("UPDATE print_jobs SET state = 'printing' WHERE id = ?", (job_id,))
        make_worker(max_attempts=2).recover()
    j = job(store, job_id)
    assert (j["state"], j["attempts"]) == ("failed", 2) and "gave up" in j["reason"]


def test_status_lists_configured_printers_and_keeps_since_across_restarts(store, settings, emu,
                                                                          make_worker, config_path):
    assert status(store)["printers"] == []
    worker = make_worker(probe_interval_s=0.0)
    worker.recover()
    assert {p["id"]: p["status"] for p in status(store)["printers"]} == {"counter": "unknown",
                                                                         "net": "unknown"}
    emu.state = "paper_near_end"
    worker.run_once()  # nothing queued: the worker asks idle printers
    states = {p["id"]: p for p in status(store)["printers"]}
    assert states["counter"]["status"] == "ready" and states["net"]["status"] == "paper_near_end"
    assert worker.devices() == [{"id": "counter", "kind": "printer", "status": "ready"},
                                {"id": "net", "kind": "printer", "status": "paper_near_end"}]
    with Store(settings.storage.path) as other:
        again = make_worker(probe_interval_s=0.0)
        again.store = other
        again.run_once()
    assert printer_status(store)["since"] == states["net"]["since"]


def test_run_loop_prints_and_stops(store, settings, config_path, emu):
    async def main():
        stop = asyncio.Event()
        with Store(settings.storage.path) as own:
            worker = PrintWorker(own, settings, transport_factory=FAST, probe_interval_s=None)
            task = asyncio.create_task(worker.run(stop, interval_s=0.05))
            job_id = label(store, settings)
            for _ in range(200):
                if job(store, job_id)["state"] == "printed":
                    break
                await asyncio.sleep(0.02)
            stop.set()
            await asyncio.wait_for(task, 5)
        return job_id

    job_id = asyncio.run(main())
    assert job(store, job_id)["state"] == "printed" and emu.printed_jobs == [label_bytes()]


# --- the command line --------------------------------------------------------------

def test_cli_print_test_list_retry(cli, store, settings, emu, make_worker):
    r = cli("print", "test", "net", "--json")
    assert r.code == 0, r.err
    test_id = r.json()["id"]
    r = cli("print", "test", "nope")
    assert r.code == 3 and "not in [[printers]]" in r.err and "Traceback" not in r.err

    make_worker().run_once()
    [page] = emu.printed_jobs
    assert b"PRINTER TEST" in page and b"S042" in page

    rows = cli("print", "list", "--json").json()
    assert {"id", "printer_id", "kind", "order_id", "state", "attempts", "reason", "created_at",
            "printed_at", "copy"} <= set(rows[0])
    assert (rows[0]["id"], rows[0]["kind"], rows[0]["state"], rows[0]["copy"]) == (
        test_id, "test_page", "printed", False)
    assert cli("print", "list").code == 0

    r = cli("print", "retry", str(test_id))
    assert r.code == 3 and "only a failed job" in r.err
    assert cli("print", "retry", "999").code == 3

    emu.state = "drop"
    failed_id = cli("print", "test", "net", "--json").json()["id"]
    make_worker(max_attempts=1).run_once()
    assert cli("print", "list", "--state", "failed", "--json").json()[0]["id"] == failed_id
    printers = cli("status", "--json").json()["printers"]
    net = next(p for p in printers if p["id"] == "net")
    assert (net["status"], net["failed"]) == ("not_answering", 1)

    r = cli("print", "retry", str(failed_id), "--json")
    assert r.code == 0, r.err
    assert r.json()["state"] == "queued"
    emu.state = "online"
    make_worker().run_once(later())
    assert job(store, failed_id)["state"] == "printed"


def test_cli_reprint_and_bin_label(cli, store, settings, emu, make_worker):
    original = enqueue(store, settings, "receipt", "net", RECEIPT, order_id="W1001", created_by="A100")
    r = cli("print", "reprint", str(original), "--as", "A100")
    assert r.code == 3 and "not printed" in r.err  # still queued: nothing to reprint yet
    make_worker().run_once()

    r = cli("print", "reprint", str(original), "--as", "NOBODY")
    assert r.code == 3 and "roster" in r.err
    r = cli("print", "reprint", str(original), "--as", "A100", "--json")
    assert r.code == 0, r.err
    body = r.json()
    assert (body["kind"], body["copy"], body["order_id"], body["state"]) == ("receipt", True, "W1001",
                                                                              "queued")
    assert job(store, body["id"])["created_by"] == "A100"

    r = cli("print", "bin-label", "b-07", "--printer", "net", "--json")
    assert r.code == 0, r.err
    assert r.json()["kind"] == "bin_label"
    r = cli("print", "bin-label", "no bins here", "--printer", "net")
    assert r.code == 3 and "pickup.bin_pattern" in r.err
    r = cli("print", "bin-label", "B-08", "--printer", "ghost")
    assert r.code == 3 and "not in [[printers]]" in r.err

    make_worker().run_once()
    _, copy, bin_label = emu.printed_jobs
    assert copy.count(b"COPY - REPRINT") == 2
    assert bin_label == label_bytes("B-07")
