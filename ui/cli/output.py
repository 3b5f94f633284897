"""Printing for people and for scripts: JSON with --json, short aligned tables otherwise.

Tables and messages carry OMS data (names, descriptions, messages): control
characters are removed here too, so nothing the OMS sends is a command to the
associate's terminal. JSON escapes them by itself.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence

from sync.text import strip_controls


def emit_json(value: object) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def table(rows: Iterable[dict[str, object]], columns: Sequence[str], *, empty: str = "(none)") -> None:
    rows = list(rows)
    if not rows:
        print(empty)
        return
    cells = [[("" if r.get(c) is None else strip_controls(str(r.get(c)))) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def say(message: str) -> None:
    print(_one_per_line(message))


def warn(message: str) -> None:
    sys.stderr.write(_one_per_line(message).rstrip() + "\n")


def _one_per_line(message: str) -> str:
    """Control characters out, line breaks kept: messages may span lines on purpose."""
    return "\n".join(strip_controls(line) for line in message.split("\n"))
