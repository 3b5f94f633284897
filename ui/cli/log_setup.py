"""How store-agent's log lines look: for a terminal, for journald, or as JSON lines.

Under systemd (stderr is the stream JOURNAL_STREAM names) every line starts with its syslog priority,
``<3>`` for an error .. ``<7>`` for debug: journald strips the prefix and files
the line under that priority, so ``journalctl -p warning`` separates the errors.
``--log-format json`` (or STORE_AGENT_LOG_FORMAT=json) writes one JSON object per
line for log shippers. A level that logging does not know is a configuration
error (exit 2), never a traceback.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime

from config.errors import ConfigError

LEVEL_VAR = "STORE_AGENT_LOG_LEVEL"
FORMAT_VAR = "STORE_AGENT_LOG_FORMAT"
FORMATS = ("auto", "text", "journal", "json")
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_NOISY = ("apscheduler", "httpx", "httpcore", "aiohttp.access")


def syslog_priority(levelno: int) -> int:
    """logging level -> syslog priority (RFC 5424): 7 debug, 6 info, 4 warning, 3 error, 2 critical."""
    if levelno >= logging.CRITICAL:
        return 2
    if levelno >= logging.ERROR:
        return 3
    if levelno >= logging.WARNING:
        return 4
    if levelno >= logging.INFO:
        return 6
    return 7


class JournalFormatter(logging.Formatter):
    """``<N>name: message``; journald adds the time, so the line does not repeat it."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        prefix = f"<{syslog_priority(record.levelno)}>"
        # A traceback spans lines; each line gets the prefix so none falls to the default priority.
        return "\n".join(prefix + line for line in text.splitlines())


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, priority, logger, message (and exc when any)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "priority": syslog_priority(record.levelno),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def resolve_level(command: str, environ: Mapping[str, str]) -> int:
    # The daemon reports what it does; one-shot commands stay quiet unless asked.
    raw = environ.get(LEVEL_VAR) or ("INFO" if command == "run" else "WARNING")
    name = raw.strip().upper()
    if name not in _LEVELS:
        raise ConfigError(f"{LEVEL_VAR}={raw!r}: not a log level (one of {', '.join(_LEVELS)})")
    return int(getattr(logging, name))


def resolve_format(flag: str | None, environ: Mapping[str, str]) -> str:
    raw = flag or environ.get(FORMAT_VAR) or "auto"
    if raw not in FORMATS:
        raise ConfigError(f"{FORMAT_VAR}={raw!r}: not a log format (one of {', '.join(FORMATS)})")
    if raw == "auto":
        return "journal" if stderr_is_the_journal(environ) else "text"
    return raw


def stderr_is_the_journal(environ: Mapping[str, str]) -> bool:
    """systemd sets JOURNAL_STREAM=device:inode of the stream it connected; a child whose
    stderr was redirected elsewhere inherits the variable, so compare (systemd.exec(5))."""
    value = environ.get("JOURNAL_STREAM", "")
    device, sep, inode = value.partition(":")
    if not sep or not device.isdigit() or not inode.isdigit():
        return False
    try:
        st = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError):
        return False
    return (st.st_dev, st.st_ino) == (int(device), int(inode))


def make_formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        return JsonFormatter()
    if fmt == "journal":
        return JournalFormatter("%(name)s: %(message)s")
    return logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


def configure(command: str, flag: str | None, environ: Mapping[str, str]) -> None:
    """Install the one stderr handler on the root logger (replacing any earlier one)."""
    level = resolve_level(command, environ)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(make_formatter(resolve_format(flag, environ)))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
