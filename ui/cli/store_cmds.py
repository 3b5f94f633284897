"""Commands that feed or copy the store as a whole."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from agent.errors import UsageError
from agent.orders.ingest import ingest_snapshots
from ui.cli.context import Context
from ui.cli.output import emit_json, say


def _read_snapshots(path: Path) -> list[Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        data = json.loads(text)
        return data if isinstance(data, list) else data.get("changes", data.get("orders", [data]))
    except json.JSONDecodeError:
        pass
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise UsageError(f"{path}:{number}: not JSON ({exc.msg}); nothing applied") from None
    return out


def cmd_import(ctx: Context) -> int:
    raws = _read_snapshots(Path(ctx.args.path))
    outcomes = ingest_snapshots(ctx.store, raws, status_map=ctx.settings.status_map,
                                source="import")
    if ctx.args.json:
        emit_json(dict(outcomes))
    else:
        say(", ".join(f"{n} {k}" for k, n in sorted(outcomes.items())) or "nothing to import")
    return 0


def register(sub: argparse._SubParsersAction[Any], common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("import-snapshots", parents=[common],
                       help="apply OMS order snapshots from a JSON or JSON-lines file")
    p.add_argument("path")
    p.set_defaults(handler=cmd_import)
