"""Printing for people and for scripts: JSON with --json, short aligned tables otherwise."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence


def emit_json(value) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def table(rows: Iterable[dict], columns: Sequence[str], *, empty: str = "(none)") -> None:
    rows = list(rows)
    if not rows:
        print(empty)
        return
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def say(message: str) -> None:
    print(message)


def warn(message: str) -> None:
    sys.stderr.write(message.rstrip() + "\n")
