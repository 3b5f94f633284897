"""Log lines journald and log shippers understand; bad log settings are config errors (exit 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

from tests.conftest import REPO

_EMIT = """
import logging, os, sys
from ui.cli import log_setup
log_setup.configure(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None, os.environ)
log = logging.getLogger("agent.test")
log.debug("d-line")
log.info("i-line")
log.warning("w-line")
log.error("e-line")
try:
    raise RuntimeError("boom")
except RuntimeError:
    log.exception("x-line")
logging.getLogger("httpx").info("noisy library line")
"""


def _emit(*args: str, journal: bool = False, **env: str) -> list[str]:
    """Run the snippet; with ``journal``, its stderr is a file JOURNAL_STREAM names exactly as
    systemd names the journal's socket (device:inode), so the detection is the real one."""
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith("STORE_AGENT_") and k != "JOURNAL_STREAM"}
    full_env.update(env)
    with tempfile.TemporaryFile(mode="w+") as err:
        if journal:
            st = os.fstat(err.fileno())
            full_env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
        subprocess.run([sys.executable, "-c", _EMIT, *args], stdout=subprocess.DEVNULL, stderr=err,
                       text=True, env=full_env, cwd=REPO, timeout=60, check=True)
        err.seek(0)
        return err.read().splitlines()


def test_under_journald_every_line_carries_its_syslog_priority():
    lines = _emit("run", journal=True)
    assert "<6>agent.test: i-line" in lines
    assert "<4>agent.test: w-line" in lines
    assert "<3>agent.test: e-line" in lines
    assert not any("d-line" in line for line in lines)  # the daemon logs at INFO by default
    assert not any("noisy library line" in line for line in lines)
    # The traceback's lines stay at error priority, not the journal's default (info).
    trace = [line for line in lines if "boom" in line or "Traceback" in line]
    assert trace and all(line.startswith("<3>") for line in trace)


def test_debug_level_maps_to_priority_7():
    lines = _emit("run", journal=True, STORE_AGENT_LOG_LEVEL="debug")
    assert "<7>agent.test: d-line" in lines


def test_outside_journald_lines_have_no_prefix_and_a_time():
    # Also when JOURNAL_STREAM was inherited but stderr goes elsewhere (a redirect, a pipe).
    for lines in (_emit("run"), _emit("run", JOURNAL_STREAM="8:12345")):
        warn = next(line for line in lines if "w-line" in line)
        assert not warn.startswith("<") and " WARNING agent.test: w-line" in warn


def test_json_format_one_object_per_line():
    lines = _emit("run", "json", journal=True)
    records = [json.loads(line) for line in lines]
    by_msg = {r["message"]: r for r in records}
    assert by_msg["w-line"]["level"] == "WARNING" and by_msg["w-line"]["priority"] == 4
    assert by_msg["e-line"]["priority"] == 3 and by_msg["e-line"]["logger"] == "agent.test"
    assert "RuntimeError: boom" in by_msg["x-line"]["exc"]
    assert by_msg["i-line"]["time"].endswith("+00:00")


def test_json_format_from_the_environment():
    lines = _emit("run", STORE_AGENT_LOG_FORMAT="json")
    assert json.loads(lines[0])["message"] == "i-line"


def test_bad_log_level_is_a_config_error_exit_2(cli):
    r = cli("status", env={"STORE_AGENT_LOG_LEVEL": "loud"})
    assert r.code == 2, r.err
    assert "STORE_AGENT_LOG_LEVEL" in r.err and "Traceback" not in r.err


def test_bad_log_format_is_a_config_error_exit_2(cli):
    r = cli("status", env={"STORE_AGENT_LOG_FORMAT": "xml"})
    assert r.code == 2 and "STORE_AGENT_LOG_FORMAT" in r.err
    assert cli("--log-format", "xml", "status").code == 2


def test_bad_json_in_associates_variable_is_a_config_error_exit_2(cli):
    r = cli("config", "check", env={"STORE_AGENT_ASSOCIATES": '[{"id": "A1", "pin_hash": "scr'})
    assert r.code == 2, r.err
    assert "STORE_AGENT_ASSOCIATES" in r.err and "bug" not in r.err
    assert "scr" not in r.err.replace("store-agent", "")


def test_version_flag_and_json_outputs(cli):
    from importlib.metadata import version

    r = cli("--version")
    assert r.code == 0 and r.out.strip() == f"store-agent {version('store-agent')}"
    status = json.loads(cli("status", "--json").out)
    assert status["version"] == version("store-agent")
    doctor = json.loads(cli("doctor", "--json").out)
    assert doctor["version"] == version("store-agent")
